package loopml_test

import (
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

func TestCleanArtifactPath(t *testing.T) {
	valid := []struct{ in, want string }{
		{"", ""},
		{".", ""},
		{"./", ""},
		{"model", "model"},
		{"model/", "model"},
		{"./model/MLmodel", "model/MLmodel"},
		{"a/./b", "a/b"},
		{"with space/ünïcode.txt", "with space/ünïcode.txt"},
		{"1/abc/artifacts/model.pkl", "1/abc/artifacts/model.pkl"},
		{"..hidden/x..y", "..hidden/x..y"},
	}
	for _, tt := range valid {
		got, err := loopml.CleanArtifactPath(tt.in)
		if err != nil {
			t.Errorf("CleanArtifactPath(%q) error %v, want %q", tt.in, err, tt.want)
			continue
		}
		if got != tt.want {
			t.Errorf("CleanArtifactPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	invalid := []struct{ in, wantMsg string }{
		{"/etc/passwd", "must be relative"},
		{"..", "'..'"},
		{"../x", "'..'"},
		{"a/../../x", "'..'"},
		{"a/..", "'..'"},
		{`a\b`, "backslash"},
		{`..\..\x`, "backslash"},
		{"a\x00b", "control"},
		{"a\nb", "control"},
		{"C:x", "drive"},
		{"a//b", "empty path segment"},
	}
	for _, tt := range invalid {
		_, err := loopml.CleanArtifactPath(tt.in)
		if loopml.ErrorCode(err) != loopml.EINVALID {
			t.Errorf("CleanArtifactPath(%q) code %q, want %q", tt.in, loopml.ErrorCode(err), loopml.EINVALID)
			continue
		}
		if msg := loopml.ErrorMessage(err); !strings.Contains(msg, tt.wantMsg) {
			t.Errorf("CleanArtifactPath(%q) message %q, want it to contain %q", tt.in, msg, tt.wantMsg)
		}
	}
}

func FuzzCleanArtifactPath(f *testing.F) {
	for _, s := range []string{"", "a/b", "../x", "a\\b", "/abs", "a//b", "./a/./b/", "C:x", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := loopml.CleanArtifactPath(p)
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("code %q, want invalid", loopml.ErrorCode(err))
			}
			return
		}
		// A cleaned path is relative, has no traversal and is a fixed point.
		if strings.HasPrefix(got, "/") || strings.Contains(got, "\\") || strings.ContainsRune(got, 0) {
			t.Fatalf("CleanArtifactPath(%q) = %q: unsafe", p, got)
		}
		for _, seg := range strings.Split(got, "/") {
			if got != "" && (seg == ".." || seg == "." || seg == "") {
				t.Fatalf("CleanArtifactPath(%q) = %q: bad segment %q", p, got, seg)
			}
		}
		again, err := loopml.CleanArtifactPath(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", p, got, again, err)
		}
	})
}
