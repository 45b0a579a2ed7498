package datasets

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/loopml/loopml"
)

// SourceType is the MLflow dataset source type of loopml dataset versions.
const SourceType = "loopml"

// URIPrefix starts the URI of a dataset version: loopml-dataset:/NAME@vN.
const URIPrefix = "loopml-dataset:/"

// URI returns the URI naming version v, e.g. loopml-dataset:/movies@v3.
func URI(v *loopml.DatasetVersion) string {
	return fmt.Sprintf("%s%s@v%d", URIPrefix, v.Name, v.Version)
}

// ParseURI returns the reference of a dataset version URI.
func ParseURI(uri string) (loopml.DatasetRef, error) {
	rest, ok := strings.CutPrefix(uri, URIPrefix)
	if !ok {
		return loopml.DatasetRef{}, loopml.Errorf(loopml.EINVALID, "invalid dataset URI %q: want %sNAME@vN", uri, URIPrefix)
	}
	return loopml.ParseDatasetRef(rest)
}

// MLflowDataset returns the dataset entity that links a run to version v
// through MLflow's log-inputs: its digest is the first 32 hex digits of the
// version's root (MLflow stores at most 36 characters), its source is
// {"uri": "loopml-dataset:/NAME@vN"} and its schema the version's schema.
func MLflowDataset(v *loopml.DatasetVersion) loopml.Dataset {
	digest := strings.TrimPrefix(v.Root, "blake3:")
	if len(digest) > 32 {
		digest = digest[:32]
	}
	src, _ := json.Marshal(map[string]string{"uri": URI(v)}) // a map of strings always marshals
	return loopml.Dataset{Name: v.Name, Digest: digest, SourceType: SourceType, Source: string(src), Schema: v.Schema}
}
