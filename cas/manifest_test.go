package cas_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/cas"
)

func TestParseDigest(t *testing.T) {
	d := cas.Sum([]byte("hello"))
	tests := []struct {
		in string
		ok bool
	}{
		{d.String(), true},
		{strings.ToUpper(d.String()), false},
		{"sha256:" + d.Hex(), false},
		{cas.DigestPrefix + d.Hex()[:63], false},
		{cas.DigestPrefix + strings.ToUpper(d.Hex()), false},
		{"", false},
	}
	for _, tt := range tests {
		got, err := cas.ParseDigest(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseDigest(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if tt.ok && got != d {
			t.Errorf("ParseDigest(%q) = %v, want %v", tt.in, got, d)
		}
	}
	if got, want := d.ObjectPath(), "cas/objects/"+d.Hex()[:2]+"/"+d.Hex(); got != want {
		t.Errorf("ObjectPath() = %q, want %q", got, want)
	}
}

func TestEncodeTreeCanonical(t *testing.T) {
	a := cas.TreeEntry{Name: "b.csv", Mode: 0o644, Size: 3, Digest: cas.Sum([]byte("abc"))}
	b := cas.TreeEntry{Name: "a", Dir: true, Mode: 0o755, Size: 0, Digest: cas.Sum([]byte("x"))}
	c := cas.TreeEntry{Name: "big", Mode: 0o600, Size: 5, Digest: cas.Sum([]byte("12345")),
		Chunks: []cas.Chunk{{Digest: cas.Sum([]byte("12")), Size: 2}, {Digest: cas.Sum([]byte("345")), Size: 3}}}
	enc1, d1, err := cas.EncodeTree([]cas.TreeEntry{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	enc2, d2, err := cas.EncodeTree([]cas.TreeEntry{c, a, b})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc1, enc2) || d1 != d2 {
		t.Fatalf("encoding depends on input order:\n%s\n%s", enc1, enc2)
	}
	if d1 != cas.Sum(enc1) {
		t.Fatalf("digest is not the BLAKE3 of the encoding")
	}
	want := `{"loopml_tree":1,"entries":[{"name":"a","type":"dir","mode":"0755","size":0,"digest":"` + b.Digest.String() + `"},`
	if !strings.HasPrefix(string(enc1), want) {
		t.Fatalf("encoding = %s\nwant prefix %s", enc1, want)
	}
	got, err := cas.DecodeTree(enc1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []cas.TreeEntry{b, a, c}; !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeTree = %+v, want %+v", got, want)
	}
}

func TestEncodeTreeInvalid(t *testing.T) {
	d := cas.Sum(nil)
	tests := []struct {
		name string
		in   []cas.TreeEntry
	}{
		{"empty name", []cas.TreeEntry{{Name: "", Digest: d}}},
		{"dot dot", []cas.TreeEntry{{Name: "..", Digest: d}}},
		{"slash", []cas.TreeEntry{{Name: "a/b", Digest: d}}},
		{"nul", []cas.TreeEntry{{Name: "a\x00", Digest: d}}},
		{"bad utf8", []cas.TreeEntry{{Name: "a\xff", Digest: d}}},
		{"duplicate", []cas.TreeEntry{{Name: "a", Digest: d}, {Name: "a", Dir: true, Digest: d}}},
		{"setuid", []cas.TreeEntry{{Name: "a", Mode: 0o4755, Digest: d}}},
		{"negative size", []cas.TreeEntry{{Name: "a", Size: -1, Digest: d}}},
		{"one chunk", []cas.TreeEntry{{Name: "a", Size: 1, Digest: d, Chunks: []cas.Chunk{{Digest: d, Size: 1}}}}},
		{"chunks do not add up", []cas.TreeEntry{{Name: "a", Size: 5, Digest: d, Chunks: []cas.Chunk{{Digest: d, Size: 1}, {Digest: d, Size: 1}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cas.EncodeTree(tt.in)
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("EncodeTree error = %v, want code %q", err, loopml.EINVALID)
			}
		})
	}
}

func TestDecodeTreeRejectsNonCanonical(t *testing.T) {
	d := cas.Sum(nil).String()
	tests := []struct{ name, in string }{
		{"spaces", `{"loopml_tree":1, "entries":[]}`},
		{"unsorted", `{"loopml_tree":1,"entries":[{"name":"b","type":"file","mode":"0644","size":0,"digest":"` + d + `"},{"name":"a","type":"file","mode":"0644","size":0,"digest":"` + d + `"}]}`},
		{"short mode", `{"loopml_tree":1,"entries":[{"name":"a","type":"file","mode":"644","size":0,"digest":"` + d + `"}]}`},
		{"unknown field", `{"loopml_tree":1,"entries":[],"x":1}`},
		{"unknown type", `{"loopml_tree":1,"entries":[{"name":"a","type":"link","mode":"0644","size":0,"digest":"` + d + `"}]}`},
		{"version 2", `{"loopml_tree":2,"entries":[]}`},
		{"trailing", `{"loopml_tree":1,"entries":[]}x`},
		{"null entries", `{"loopml_tree":1,"entries":null}`},
		{"empty chunks", `{"loopml_tree":1,"entries":[{"name":"a","type":"file","mode":"0644","size":0,"digest":"` + d + `","chunks":[]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cas.DecodeTree([]byte(tt.in)); loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("DecodeTree error = %v, want code %q", err, loopml.EINVALID)
			}
		})
	}
	if _, err := cas.DecodeTree([]byte(`{"loopml_tree":1,"entries":[]}`)); err != nil {
		t.Fatalf("DecodeTree(empty tree) = %v", err)
	}
}

func FuzzDecodeTree(f *testing.F) {
	d := cas.Sum(nil)
	enc, _, _ := cas.EncodeTree([]cas.TreeEntry{
		{Name: "a", Mode: 0o644, Size: 3, Digest: d, Chunks: []cas.Chunk{{Digest: d, Size: 1}, {Digest: d, Size: 2}}},
		{Name: "日本", Dir: true, Mode: 0o755, Digest: d},
	})
	f.Add(enc)
	f.Add([]byte(`{"loopml_tree":1,"entries":[]}`))
	f.Add([]byte(`{"loopml_tree":1,"entries":[{"name":"<&>","type":"file","mode":"0644","size":0,"digest":"` + d.String() + `"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := cas.DecodeTree(b)
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("DecodeTree error code = %q, want %q", loopml.ErrorCode(err), loopml.EINVALID)
			}
			return
		}
		again, _, err := cas.EncodeTree(entries)
		if err != nil {
			t.Fatalf("EncodeTree of decoded entries: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded input is not canonical:\n%q\n%q", b, again)
		}
	})
}

func TestDiffManifests(t *testing.T) {
	d := func(s string) cas.Digest { return cas.Sum([]byte(s)) }
	file := func(p, content string) cas.Entry {
		return cas.Entry{Path: p, Mode: 0o644, Digest: d(content)}
	}
	dir := func(p string) cas.Entry { return cas.Entry{Path: p, Dir: true, Mode: 0o755, Digest: d(p)} }
	exec := file("run.sh", "x")
	exec.Mode = 0o755
	a := cas.Manifest{Entries: []cas.Entry{file("a.csv", "1"), dir("old"), file("old/x", "x"), file("run.sh", "x"), file("same", "s"), file("t", "t")}}
	b := cas.Manifest{Entries: []cas.Entry{file("a.csv", "2"), dir("new"), file("new/y", "y"), exec, file("same", "s"), dir("t")}}
	got := cas.DiffManifests(a, b)
	want := cas.Diff{
		Added:   []string{"new/", "new/y"},
		Removed: []string{"old/", "old/x"},
		Changed: []string{"a.csv", "run.sh", "t"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DiffManifests = %+v, want %+v", got, want)
	}
	if !cas.DiffManifests(a, a).Empty() {
		t.Fatal("a version differs from itself")
	}
}
