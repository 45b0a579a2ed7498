package datasets_test

import (
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
)

func TestMLflowDataset(t *testing.T) {
	v := &loopml.DatasetVersion{Name: "movies", Version: 3, Root: "blake3:" + strings.Repeat("ab", 32), Schema: `{"x":1}`}
	got := datasets.MLflowDataset(v)
	want := loopml.Dataset{Name: "movies", Digest: strings.Repeat("ab", 16), SourceType: "loopml",
		Source: `{"uri":"loopml-dataset:/movies@v3"}`, Schema: `{"x":1}`}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	ref, err := datasets.ParseURI(datasets.URI(v))
	if err != nil || ref != (loopml.DatasetRef{Name: "movies", Version: 3}) {
		t.Fatalf("ParseURI(URI(v)) = %+v, %v", ref, err)
	}
	for _, bad := range []string{"movies@v3", "loopml-dataset:/", "loopml-dataset:/a/b@v1", "s3://x"} {
		if _, err := datasets.ParseURI(bad); loopml.ErrorCode(err) != loopml.EINVALID {
			t.Errorf("ParseURI(%q): got %v, want EINVALID", bad, err)
		}
	}
}
