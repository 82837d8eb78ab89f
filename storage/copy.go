package storage

import (
	"context"
	"errors"
	"fmt"
)

// Batch limits of Copy: a batch ends at copyBatchKeys keys or when the next
// pair would take it past copyBatchBytes (a batch always takes at least one
// pair, so one holds at most MaxKeySize+MaxValueSize bytes more).
const (
	copyBatchKeys  = 1000
	copyBatchBytes = 2 << 20
	copyRetries    = 10
)

// Copy copies every key and value of src into dst, replacing the values of
// keys dst already has and keeping the keys only dst has, and returns the
// number of pairs it committed to dst.
//
// Copy works in batches of at most 1 000 pairs or about 2 MiB: each batch is
// read in its own View of src, from the key after the last one copied, and
// written in its own Update of dst, run again up to 10 times if it fails with
// ErrConflict. So no transaction stays open for long, but the copy is not a
// snapshot: stop writers to src for an exact copy. On error, the first n pairs
// (in key order) are in dst, and running Copy again is safe. src and dst must
// be different stores.
func Copy(ctx context.Context, dst, src Store) (n int, err error) {
	type pair struct{ key, value []byte }
	var (
		batch []pair
		start []byte
		done  bool
	)
	for !done {
		batch = batch[:0]
		err := src.View(ctx, func(tx Tx) error {
			it := tx.Iterate(Range{Start: start})
			defer it.Close()
			size := 0
			for {
				if len(batch) == copyBatchKeys {
					return it.Err()
				}
				if !it.Next() {
					done = true
					return it.Err()
				}
				k := it.Key()
				v, err := it.Value()
				if err != nil {
					return err
				}
				if len(batch) > 0 && size+len(k)+len(v) > copyBatchBytes {
					return nil // the pair starts the next batch
				}
				batch = append(batch, pair{k, v})
				size += len(k) + len(v)
			}
		})
		if err != nil {
			return n, fmt.Errorf("storage: copy: read after %d pairs: %w", n, err)
		}
		if len(batch) == 0 {
			break
		}
		write := func(tx Tx) error {
			for _, p := range batch {
				if err := tx.Set(p.key, p.value); err != nil {
					return err
				}
			}
			return nil
		}
		for try := 0; ; try++ {
			err = dst.Update(ctx, write)
			if err == nil || !errors.Is(err, ErrConflict) || try == copyRetries {
				break
			}
		}
		if err != nil {
			return n, fmt.Errorf("storage: copy: write after %d pairs: %w", n, err)
		}
		n += len(batch)
		last := batch[len(batch)-1].key
		start = append(last[:len(last):len(last)], 0) // the smallest key after last
	}
	return n, nil
}
