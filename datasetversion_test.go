package loopml_test

import (
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

func TestParseDatasetRef(t *testing.T) {
	tests := []struct {
		in   string
		want loopml.DatasetRef
		err  string // substring of the EINVALID message, "" for success
	}{
		{in: "movies", want: loopml.DatasetRef{Name: "movies"}},
		{in: "movies@latest", want: loopml.DatasetRef{Name: "movies"}},
		{in: "movies@v3", want: loopml.DatasetRef{Name: "movies", Version: 3}},
		{in: "movies@3", want: loopml.DatasetRef{Name: "movies", Version: 3}},
		{in: "movies@prod", want: loopml.DatasetRef{Name: "movies", Tag: "prod"}},
		{in: "movies@v3x", want: loopml.DatasetRef{Name: "movies", Tag: "v3x"}},
		{in: "my.data_set-1@2024-10", want: loopml.DatasetRef{Name: "my.data_set-1", Tag: "2024-10"}},
		{in: "", err: "missing dataset name"},
		{in: "@v1", err: "missing dataset name"},
		{in: "movies@", err: "empty version"},
		{in: "movies@v0", err: "versions start at 1"},
		{in: "movies@0", err: "versions start at 1"},
		{in: "movies@v", want: loopml.DatasetRef{Name: "movies", Tag: "v"}},
		{in: "movies@a/b", err: "neither latest"},
		{in: "../etc", err: "invalid dataset name"},
		{in: "a b", err: "invalid dataset name"},
		{in: "movies@99999999999999999999", err: "versions start at 1"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := loopml.ParseDatasetRef(tc.in)
			if tc.err != "" {
				if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tc.err) {
					t.Fatalf("got %v, want EINVALID containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestValidateDatasetTag(t *testing.T) {
	for tag, ok := range map[string]bool{"prod": true, "2024-10": true, "v3x": true, "latest": false, "v3": false, "3": false, "": false, "-a": false, "a/b": false} {
		if err := loopml.ValidateDatasetTag(tag); (err == nil) != ok {
			t.Errorf("ValidateDatasetTag(%q) = %v, want ok=%v", tag, err, ok)
		}
	}
}

func FuzzParseDatasetRef(f *testing.F) {
	for _, s := range []string{"movies", "movies@latest", "m@v3", "m@3", "m@prod", "m@", "@", "m@v0", "a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := loopml.ParseDatasetRef(s)
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("ParseDatasetRef(%q): error code %q, want EINVALID", s, loopml.ErrorCode(err))
			}
			return
		}
		if r.Version < 0 || r.Version > 0 && r.Tag != "" {
			t.Fatalf("ParseDatasetRef(%q) = %+v: version and tag both set", s, r)
		}
		// The canonical form parses back to the same reference.
		back, err := loopml.ParseDatasetRef(r.String())
		if err != nil || back != r {
			t.Fatalf("round trip of %q via %q: got %+v, %v; want %+v", s, r.String(), back, err, r)
		}
	})
}
