package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	got := regexp.MustCompile(`U[0-9A-HJKMNP-TV-Z]{26}`).ReplaceAllString(out.String(), "<id>")
	got = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).ReplaceAllString(got, "<time>")
	want := `created <id>: version 1, status WAITING_FOR_VERIFICATION, language en-US
patched language: version 2, language be-NL
patched status: version 3, status WAITING_FOR_SIGNATURE
refused: user: email is write-once and is already set
deleted: version 4, deleted true
restored: version 5, deleted false
history (5 versions, newest first):
  version 5 at <time> by <id>, deleted false
  version 4 at <time> by <id>, deleted true
  version 3 at <time> by <id>, deleted false
  version 2 at <time> by <id>, deleted false
  version 1 at <time> by <id>, deleted false
diff from version 1 to 5:
  language: en-US → be-NL
  status: WAITING_FOR_VERIFICATION → WAITING_FOR_SIGNATURE
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("output mismatch (-want +got):\n%s", diff)
	}
}
