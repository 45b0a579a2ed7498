package profile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/loopml/loopml/profile"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got:\n%s", name, got)
	}
}

func TestGolden(t *testing.T) {
	p, err := profile.ProfileFile(context.Background(), filepath.Join("testdata", "people.csv"), profile.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	p.AddIssue(profile.Issue{File: "testdata/people.csv", Line: 42, Reason: "ragged row: got 3 fields, want 8"})

	var text bytes.Buffer
	must(t, profile.WriteText(&text, p))
	golden(t, "people.txt.golden", text.Bytes())

	var html bytes.Buffer
	must(t, profile.WriteHTML(&html, p, "people.csv <v1>"))
	golden(t, "people.html.golden", html.Bytes())

	js, err := json.MarshalIndent(p, "", "  ")
	must(t, err)
	golden(t, "people.json.golden", append(js, '\n'))

	// The stored form restores to the same printed profile.
	var q profile.Profile
	must(t, json.Unmarshal(js, &q))
	var text2 bytes.Buffer
	must(t, profile.WriteText(&text2, &q))
	if !bytes.Equal(text.Bytes(), text2.Bytes()) {
		t.Errorf("text of the restored profile differs:\n%s", text2.Bytes())
	}
}
