package user

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sp(s string) *string { return &s }

func TestCodecRoundTrip(t *testing.T) {
	t0 := time.Date(2021, 2, 18, 8, 21, 2, 123456000, time.UTC)
	users := []*User{
		{ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Language: "en-US", Status: WaitingForVerification, CreationDatetime: t0, Version: 1, VersionDatetime: t0, VersionAuthoredByUserID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV"},
		{
			ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", ExternalID: sp("ext"), FirstName: sp("Émile"), LastName: sp("Zoë"),
			Email: sp("a@example.com"), Phone: sp("+3212345678"), Language: "be-NL",
			CounterAccount: &CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D", BankIDType: "BIC"},
			FeatureFlags:   []string{"CONSOLE", "SELF_INVESTOR"}, Status: Inactive,
			BrokerageUserID: sp("12345678"), IDPUserID: sp("idp-1"),
			ReadableBy: []string{"U01ARZ3NDEKTSV4RRFFQ69G5FAV", "G01ARZ3NDEKTSV4RRFFQ69G5FAV"}, ModifiableBy: []string{"U01ARZ3NDEKTSV4RRFFQ69G5FAV"},
			CreationDatetime: t0, Version: 42, VersionDatetime: t0.Add(time.Hour), VersionAuthoredByUserID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Deleted: true,
		},
	}
	for _, u := range users {
		got, err := decode(encode(nil, u))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		// Appending to a decoded list must not overwrite the next one.
		got.FeatureFlags = append(got.FeatureFlags, "X")
		if len(got.ReadableBy) > 0 && got.ReadableBy[0] == "X" {
			t.Error("decoded lists share capacity")
		}
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	good := encode(nil, &User{ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Language: "en-US", ReadableBy: []string{"a"}})
	for i := range good {
		if _, err := decode(good[:i]); err == nil {
			t.Errorf("decode of a record cut at %d bytes succeeded", i)
		}
	}
	if _, err := decode(append([]byte{2}, good[1:]...)); err == nil {
		t.Error("decode of an unknown format succeeded")
	}
	if _, err := decode(append(good, 0)); err == nil {
		t.Error("decode with trailing bytes succeeded")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(nil, &User{ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Language: "en-US", FeatureFlags: []string{"CONSOLE"}}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decode(b)
		if err != nil {
			return
		}
		// Whatever decodes encodes back to the same bytes.
		if again := encode(nil, u); string(again) != string(b) {
			t.Errorf("decode/encode is not the identity: %x → %x", b, again)
		}
	})
}
