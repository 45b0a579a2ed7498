package cas_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/cas"
)

func TestOpenLocal(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	const content = "id,x\n1,2\n3,4\n"
	writeFiles(t, dir, map[string]string{"a.csv": content})
	local := map[string]string{}
	m, _ := mustAdd(t, s, []string{dir}, cas.AddOptions{LocalFile: func(p, l string) { local[p] = l }})
	if len(local) != 1 || local["a.csv"] != filepath.Join(dir, "a.csv") {
		t.Fatalf("LocalFile reported %v, want a.csv -> %s", local, filepath.Join(dir, "a.csv"))
	}
	e := m.Entries[0]
	read := func() (string, error) {
		rc, err := cas.OpenLocal(local["a.csv"], e)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	if got, err := read(); err != nil || got != content {
		t.Fatalf("unchanged file: %q, %v", got, err)
	}
	for _, tc := range []struct{ name, content string }{
		{"same size", "id,x\n1,2\n3,5\n"},
		{"longer", content + "5,6\n"},
		{"shorter", "id,x\n1,2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(local["a.csv"], []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := read()
			if !errors.Is(err, cas.ErrLocalChanged) || loopml.ErrorCode(err) != loopml.ECONFLICT {
				t.Fatalf("changed file read: %v, want ECONFLICT wrapping ErrLocalChanged", err)
			}
		})
	}
	if err := os.Remove(local["a.csv"]); err != nil {
		t.Fatal(err)
	}
	if _, err := read(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removed file: %v, want not exist", err)
	}
}
