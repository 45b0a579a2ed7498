package validate_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loopml/loopml/validate"
)

// TestExactLines: with profile.Reader's Line, example lines count blank
// lines too (CSV and JSON Lines), as well as quoted newlines and the
// header.
func TestExactLines(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []string
	}{
		{"blank.csv", "id,v\n\n1,-1\n\n\n2,\"-2\"\n3,\"x\ny\"\n4,-4\n", []string{"blank.csv:3", "blank.csv:6", "blank.csv:7", "blank.csv:9"}},
		{"blank.jsonl", "{\"v\": -1}\n\n{\"v\": 1}\n\n{\"v\": -3}\n", []string{"blank.jsonl:1", "blank.jsonl:5"}},
	} {
		path := writeFile(t, tc.name, tc.data)
		rep, err := validate.CheckFiles(context.Background(), mustLoad(t, "columns: {v: {min: 0}}"), []string{path}, validate.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		res, _ := find(rep, "min", "v")
		var got []string
		for _, e := range res.Examples {
			got = append(got, filepath.Base(e.File)+":"+itoa(e.Line))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: examples at %v, want %v", tc.name, got, tc.want)
		}
	}
}
