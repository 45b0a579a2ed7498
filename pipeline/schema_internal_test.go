package pipeline

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// TestSchemaMatchesParser keeps docs/pipeline.schema.json in step with the
// keys the parser accepts.
func TestSchemaMatchesParser(t *testing.T) {
	b, err := os.ReadFile("../docs/pipeline.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]any `json:"properties"`
		Defs       struct {
			Stage struct {
				Properties map[string]struct {
					Enum       []string       `json:"enum"`
					Properties map[string]any `json:"properties"`
				} `json:"properties"`
			} `json:"stage"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	got := sortedKeys(s.Defs.Stage.Properties)
	want := slices.Clone(stageKeys)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("schema stage keys %v, parser %v", got, want)
	}
	if top := sortedKeys(s.Properties); !slices.Equal(top, []string{"env", "experiment", "name", "stages"}) {
		t.Errorf("schema top-level keys %v", top)
	}
	if uses := s.Defs.Stage.Properties["uses"].Enum; !slices.Equal(uses, Builtins()) {
		t.Errorf("schema uses %v, Builtins %v", uses, Builtins())
	}
	with := sortedKeys(s.Defs.Stage.Properties["with"].Properties)
	all := append(slices.Clone(trainWithKeys), evalWithKeys...)
	slices.Sort(all)
	if !slices.Equal(with, slices.Compact(all)) {
		t.Errorf("schema with keys %v, parser %v", with, slices.Compact(all))
	}
}
