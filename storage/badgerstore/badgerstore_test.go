package badgerstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/badgerstore"
	"github.com/userkit/userkit/storage/storagetest"
)

// open opens a Store on dir ("" for memory), closed when the test ends.
func open(t testing.TB, dir string, opts *badgerstore.Options) *badgerstore.Store {
	t.Helper()
	s, err := badgerstore.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// The disk run uses NoSync: syncing each of the suite's thousands of
// commits would take seconds and prove nothing more. TestPersists covers
// the durable default.
func TestConformance(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		storagetest.Run(t, func(t testing.TB) storage.Store { return open(t, "", nil) })
	})
	t.Run("disk", func(t *testing.T) {
		storagetest.Run(t, func(t testing.TB) storage.Store {
			return open(t, t.TempDir(), &badgerstore.Options{NoSync: true})
		})
	})
}

func update(t testing.TB, s storage.Store, fn func(storage.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func get(t testing.TB, s storage.Store, key string) []byte {
	t.Helper()
	var v []byte
	err := s.View(context.Background(), func(tx storage.Tx) error {
		var err error
		v, err = tx.Get([]byte(key))
		return err
	})
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v
}

func count(t testing.TB, s storage.Store) int {
	t.Helper()
	n := 0
	err := s.View(context.Background(), func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{})
		defer it.Close()
		for it.Next() {
			n++
		}
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPersists(t *testing.T) {
	for _, opts := range []*badgerstore.Options{nil, {NoSync: true}} {
		t.Run("NoSync="+strconv.FormatBool(opts != nil), func(t *testing.T) {
			dir := t.TempDir()
			s, err := badgerstore.Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			update(t, s, func(tx storage.Tx) error {
				return errors.Join(tx.Set([]byte("a"), []byte("1")), tx.Set([]byte("b"), []byte("2")))
			})
			update(t, s, func(tx storage.Tx) error { return tx.Delete([]byte("b")) })
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open(t, dir, opts)
			if got := string(get(t, s, "a")); got != "1" {
				t.Errorf("after reopening, a = %q, want \"1\"", got)
			}
			if n := count(t, s); n != 1 {
				t.Errorf("after reopening, %d keys, want 1", n)
			}
		})
	}
}

func TestLargeValues(t *testing.T) {
	dir := t.TempDir()
	s, err := badgerstore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{storage.MaxValueSize, storage.MaxValueSize - 1, storage.MaxValueSize - 100, 300 << 10}
	val := func(i, size int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, size) }
	for i, size := range sizes {
		update(t, s, func(tx storage.Tx) error { return tx.Set([]byte("v"+strconv.Itoa(i)), val(i, size)) })
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, nil)
	for i, size := range sizes {
		if got := get(t, s, "v"+strconv.Itoa(i)); !bytes.Equal(got, val(i, size)) {
			t.Errorf("value %d: got %d bytes, want %d bytes of %c", i, len(got), size, 'a'+i)
		}
	}
}

// TestTxTooBig checks that a transaction past Badger's batch limit fails
// with ErrTxTooBig at the Set that crosses it, and that the Set writes
// nothing (the others commit if fn ignores the error).
func TestTxTooBig(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		s := open(t, dir, &badgerstore.Options{NoSync: true})
		big := bytes.Repeat([]byte("x"), storage.MaxValueSize-1)
		var failed int
		update(t, s, func(tx storage.Tx) error {
			for i := range 8 {
				err := tx.Set([]byte("k"+strconv.Itoa(i)), big)
				if errors.Is(err, badgerstore.ErrTxTooBig) {
					failed = i
					return nil
				}
				if err != nil {
					return err
				}
			}
			return errors.New("no Set failed with ErrTxTooBig")
		})
		if failed == 0 {
			t.Fatalf("dir %q: the first Set failed", dir)
		}
		if n := count(t, s); n != failed {
			t.Errorf("dir %q: %d keys committed, want the %d before the failing Set", dir, n, failed)
		}
	}
}

func TestManyVersions(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 500
	}
	dir := t.TempDir()
	s, err := badgerstore.Open(dir, &badgerstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		update(t, s, func(tx storage.Tx) error {
			return errors.Join(
				tx.Set([]byte("key"), []byte(strconv.Itoa(i))),
				tx.Set([]byte("other"+strconv.Itoa(i%3)), []byte("x")))
		})
	}
	update(t, s, func(tx storage.Tx) error { return tx.Delete([]byte("other1")) })
	check := func(s storage.Store) {
		t.Helper()
		if got, want := string(get(t, s, "key")), strconv.Itoa(n-1); got != want {
			t.Errorf("key = %q, want %q", got, want)
		}
		for _, rev := range []bool{false, true} {
			var got []string
			err := s.View(context.Background(), func(tx storage.Tx) error {
				it := tx.Iterate(storage.Range{Reverse: rev})
				defer it.Close()
				for it.Next() {
					got = append(got, string(it.Key()))
				}
				return it.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"key", "other0", "other2"}
			if rev {
				want = []string{"other2", "other0", "key"}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("keys, reverse=%v (-want +got):\n%s", rev, diff)
			}
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(open(t, dir, nil))
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	_, err := badgerstore.Open(dir, nil)
	if !errors.Is(err, badgerstore.ErrLocked) {
		t.Fatalf("second Open of %s: err = %v, want ErrLocked", dir, err)
	}
	if !strings.HasPrefix(err.Error(), "badgerstore: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
	// The failed Open must not have released the first Store's lock.
	if _, err := badgerstore.Open(dir, nil); !errors.Is(err, badgerstore.ErrLocked) {
		t.Fatalf("third Open of %s: err = %v, want ErrLocked", dir, err)
	}
	update(t, s, func(tx storage.Tx) error { return tx.Set([]byte("a"), []byte("1")) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, dir, nil) // free again
}

func TestOpenNotBadgerDir(t *testing.T) {
	root := t.TempDir()
	write := func(name string) string {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("not badger"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// dir creates the directory name holding files, and returns its path.
	dir := func(name string, files ...string) string {
		for _, f := range files {
			write(filepath.Join(name, f))
		}
		return filepath.Join(root, name)
	}
	tests := []struct {
		name string
		dir  string
		want error // nil: Open succeeds
	}{
		{"regular file", write("file"), badgerstore.ErrNotBadgerDir},
		{"dir with other files", dir("other", "notes.txt"), badgerstore.ErrNotBadgerDir},
		{"dir with Badger's files and others", dir("mixed", "000001.vlog", "notes.txt"), badgerstore.ErrNotBadgerDir},
		{"empty dir", t.TempDir(), nil},
		{"missing dir", filepath.Join(root, "new", "db"), nil},
		{"dir with only Badger-named files", dir("leftover", "LOCK"), nil},
		{"dir with only the lock file", dir("locked-once", "userkit.lock"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := badgerstore.Open(tt.dir, nil)
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Open(%s): err = %v, want %v", tt.dir, err, tt.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "badgerstore: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestReservedKeys(t *testing.T) {
	s := open(t, "", nil)
	update(t, s, func(tx storage.Tx) error { return tx.Set([]byte("!badger!head"), []byte("mine")) })
	if got := string(get(t, s, "!badger!head")); got != "mine" {
		t.Errorf("got %q, want \"mine\"", got)
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := badgerstore.Open(t.TempDir(), &badgerstore.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "backend=badger") {
		t.Errorf("the logger received no Badger message; got:\n%s", buf.String())
	}
}

func TestCloseWaitsForTransactions(t *testing.T) {
	s, err := badgerstore.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	inside, closed := make(chan struct{}), make(chan error)
	go func() {
		<-inside
		closed <- s.Close()
	}()
	update(t, s, func(tx storage.Tx) error {
		close(inside)
		time.Sleep(20 * time.Millisecond)
		select {
		case err := <-closed:
			t.Errorf("Close returned (%v) while an Update was running", err)
		default:
		}
		return tx.Set([]byte("a"), []byte("1"))
	})
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}
