package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

// dataCLI runs the CLI on home and returns its output with times masked.
func dataCLI(t *testing.T, home string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--home", home)
	err := run(context.Background(), args, envMap(nil), &out, &errOut)
	s := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`).ReplaceAllString(out.String(), "<time>")
	s = regexp.MustCompile(`"(creation_timestamp|last_updated_timestamp)": \d+`).ReplaceAllString(s, `"$1": 0`)
	return s, err
}

func mustDataCLI(t *testing.T, home string, args ...string) string {
	t.Helper()
	out, err := dataCLI(t, home, args...)
	if err != nil {
		t.Fatalf("loopml %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// salesCSV is a deterministic table: amount grows with shift and the
// countries cycle through cats.
func salesCSV(rows int, shift float64, cats ...string) string {
	var b strings.Builder
	b.WriteString("id,amount,country\n")
	for i := range rows {
		fmt.Fprintf(&b, "%d,%.2f,%s\n", i, shift+float64(i%50), cats[i%len(cats)])
	}
	return b.String()
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDataCommands(t *testing.T) {
	home, src := t.TempDir(), t.TempDir()
	v1 := map[string]string{"sales.csv": salesCSV(500, 0, "de", "fr", "it"), "docs/readme.md": "v1\n", "docs/old.txt": "old\n"}
	writeTree(t, src, v1)

	checkGolden(t, "data_add", mustDataCLI(t, home, "data", "add", "sales", src, "--label", "period=2024-10"))
	checkGolden(t, "data_add_unchanged", mustDataCLI(t, home, "data", "add", "sales", src))

	writeTree(t, src, map[string]string{"sales.csv": salesCSV(600, 40, "de", "es"), "docs/readme.md": "v2\n", "docs/new.txt": "new\n"})
	if err := os.Remove(filepath.Join(src, "docs", "old.txt")); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "data_add_v2", mustDataCLI(t, home, "data", "add", "sales", src, "--label", "period=2024-11"))
	checkGolden(t, "data_tag", mustDataCLI(t, home, "data", "tag", "sales@v1", "baseline"))

	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"data_ls", []string{"data", "ls"}},
		{"data_ls_json", []string{"data", "ls", "-o", "json"}},
		{"data_versions", []string{"data", "versions", "sales"}},
		{"data_show", []string{"data", "show", "sales@baseline"}},
		{"data_show_json", []string{"data", "show", "sales@latest", "-o", "json"}},
		{"data_diff", []string{"data", "diff", "sales@baseline", "sales@latest"}},
		{"data_diff_json", []string{"data", "diff", "sales@v1", "sales@v2", "-o", "json"}},
		{"data_profile", []string{"data", "profile", "sales@v1"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			checkGolden(t, tc.golden, mustDataCLI(t, home, tc.args...))
		})
	}

	// @latest, @v1, @1 and @tag resolve.
	for ref, want := range map[string]string{"sales": "v2", "sales@latest": "v2", "sales@v1": "v1", "sales@1": "v1", "sales@baseline": "v1"} {
		if out := mustDataCLI(t, home, "data", "show", ref); !strings.Contains(out, "Version:  "+want+"\n") {
			t.Errorf("show %s: want version %s in\n%s", ref, want, out)
		}
	}

	// get restores v1 byte for byte.
	dest := filepath.Join(t.TempDir(), "restored")
	mustDataCLI(t, home, "data", "get", "sales@baseline", dest)
	for p, want := range v1 {
		got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(p)))
		if err != nil || string(got) != want {
			t.Errorf("restored %s: got %d bytes (%v), want the %d added bytes", p, len(got), err, len(want))
		}
	}

	html := filepath.Join(t.TempDir(), "report.html")
	mustDataCLI(t, home, "data", "profile", "sales@v2", "--file", "sales.csv", "--html", html)
	if b, err := os.ReadFile(html); err != nil || !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("amount")) {
		t.Errorf("html report: %v, %d bytes without a histogram of amount", err, len(b))
	}

	// rm deletes one explicit version; its tag goes with it.
	checkGolden(t, "data_rm", mustDataCLI(t, home, "data", "rm", "sales@v1"))
	if out := mustDataCLI(t, home, "data", "versions", "sales"); strings.Contains(out, "v1 ") || !strings.Contains(out, "v2 ") {
		t.Errorf("versions after rm v1:\n%s", out)
	}
}

func TestDataErrors(t *testing.T) {
	home, src := t.TempDir(), t.TempDir()
	writeTree(t, src, map[string]string{"a.txt": "a"})
	mustDataCLI(t, home, "data", "add", "notes", src)
	for _, tc := range []struct {
		args []string
		code string
		msg  string
	}{
		{[]string{"data", "show", "nope"}, loopml.ENOTFOUND, `dataset "nope" not found`},
		{[]string{"data", "show", "notes@v7"}, loopml.ENOTFOUND, "notes has no version 7"},
		{[]string{"data", "show", "notes@prod"}, loopml.ENOTFOUND, `notes has no tag "prod"`},
		{[]string{"data", "show", "notes@"}, loopml.EINVALID, "empty version"},
		{[]string{"data", "show", "notes@v0"}, loopml.EINVALID, "versions start at 1"},
		{[]string{"data", "show", "a/b"}, loopml.EINVALID, "invalid dataset name"},
		{[]string{"data", "versions", "nope"}, loopml.ENOTFOUND, `dataset "nope" not found`},
		{[]string{"data", "add", "x", filepath.Join(src, "missing")}, loopml.ENOTFOUND, "missing"},
		{[]string{"data", "add", "x", src, "--label", "novalue"}, loopml.EINVALID, "key=value"},
		{[]string{"data", "tag", "notes@v1", "latest"}, loopml.EINVALID, "latest"},
		{[]string{"data", "tag", "--delete", "notes", "prod"}, loopml.ENOTFOUND, "prod"},
		{[]string{"data", "rm", "notes@latest"}, loopml.EINVALID, "explicitly"},
		{[]string{"data", "profile", "notes"}, loopml.ENOTFOUND, "no tabular file"},
		{[]string{"data", "diff", "notes", "nope@v1"}, loopml.ENOTFOUND, "nope"},
		{[]string{"data", "ls", "--tracking-uri", "http://127.0.0.1:1"}, loopml.EUNAVAILABLE, "127.0.0.1:1"},
	} {
		_, err := dataCLI(t, home, tc.args...)
		if loopml.ErrorCode(err) != tc.code || !strings.Contains(loopml.ErrorMessage(err), tc.msg) {
			t.Errorf("loopml %s: got %v, want %s containing %q", strings.Join(tc.args, " "), err, tc.code, tc.msg)
		}
	}
}

// TestDataMovieLens versions the MovieLens small dataset and profiles it.
func TestDataMovieLens(t *testing.T) {
	const dir = "/work/shared/data/movielens-latest-small"
	if testing.Short() {
		t.Skip("skipping the MovieLens run in -short mode")
	}
	if _, err := os.Stat(filepath.Join(dir, "ratings.csv")); err != nil {
		t.Skipf("MovieLens not available at %s: %v", dir, err)
	}
	home := t.TempDir()
	out := mustDataCLI(t, home, "data", "add", "movielens", dir)
	if !strings.Contains(out, "Created movielens@v1: 5 files") {
		t.Fatalf("add:\n%s", out)
	}
	if out := mustDataCLI(t, home, "data", "add", "movielens", dir); !strings.Contains(out, "Unchanged: movielens@v1") || !strings.Contains(out, "Stored 0 B") {
		t.Fatalf("re-add:\n%s", out)
	}
	out = mustDataCLI(t, home, "data", "profile", "movielens@latest")
	for _, want := range []string{"== movielens@v1 ratings.csv ==", "rows: 100836", "timestamp(epoch_s)", "== movielens@v1 movies.csv =="} {
		if !strings.Contains(out, want) {
			t.Errorf("profile output lacks %q", want)
		}
	}
}
