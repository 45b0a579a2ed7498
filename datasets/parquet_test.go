package datasets_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/loopml/loopml/datasets"
	"github.com/loopml/loopml/profile"
	"github.com/parquet-go/parquet-go"
)

// TestAddParquet adds a Parquet file: it is recognised as tabular and
// profiled from the stored (content-addressed, non-seekable) copy, with
// its typed columns.
func TestAddParquet(t *testing.T) {
	type row struct {
		ID     int64   `parquet:"id"`
		Amount float64 `parquet:"amount"`
		Day    int32   `parquet:"day,date"`
		Name   *string `parquet:"name,optional"`
	}
	src := t.TempDir()
	f, err := os.Create(filepath.Join(src, "sales.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[row](f, parquet.MaxRowsPerRowGroup(100))
	name := "x"
	for i := range 250 {
		r := row{ID: int64(i), Amount: float64(i) / 4, Day: int32(19000 + i%30)}
		if i%5 != 0 {
			r.Name = &name
		}
		if _, err := w.Write([]row{r}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !datasets.Tabular("sales.parquet") {
		t.Fatal("Tabular(sales.parquet) = false")
	}

	d := newDeps(t)
	res := mustAdd(t, d, "pq", []string{src}, datasets.AddOptions{})
	ps, err := datasets.Profiles(t.Context(), d, res.Version)
	if err != nil {
		t.Fatal(err)
	}
	p := ps["sales.parquet"]
	if p == nil {
		t.Fatalf("no profile of sales.parquet: %v", datasets.SortedPaths(ps))
	}
	if p.Rows() != 250 {
		t.Errorf("rows = %d, want 250", p.Rows())
	}
	want := map[string]profile.Type{"id": "integer", "amount": "float", "day": "timestamp", "name": "string"}
	for _, fl := range p.Schema().Fields {
		if want[fl.Name] != fl.Type {
			t.Errorf("column %s: type %q, want %q", fl.Name, fl.Type, want[fl.Name])
		}
		if fl.Name == "name" && !fl.Nullable {
			t.Error("name: not nullable, but a fifth of it is null")
		}
	}
	if len(p.Schema().Fields) != len(want) {
		t.Errorf("fields %+v, want %d", p.Schema().Fields, len(want))
	}
}
