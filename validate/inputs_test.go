package validate_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/validate"
)

func TestRulesFiles(t *testing.T) {
	r := mustLoad(t, `files: ["ratings*.csv", "raw/*.jsonl"]`)
	for p, want := range map[string]bool{
		"ratings.csv": true, "data/ratings-2024.csv": true, "raw/a.jsonl": true,
		"movies.csv": false, "ratings.csv.gz": false, "other/a.jsonl": false,
	} {
		if got := r.Selects(p); got != want {
			t.Errorf("Selects(%q) = %v, want %v", p, got, want)
		}
	}
	if !mustLoad(t, "row_count: {min: 1}").Selects("anything.csv") {
		t.Error("rules without files must select every file")
	}
	for src, msg := range map[string]string{
		`files: "a.csv"`:  "want a list",
		`files: []`:       "must not be empty",
		"files: [\"[\"]":  "bad pattern",
		`files: [a, {b}]`: "files[1]",
	} {
		_, err := validate.Load(strings.NewReader(src), "r.yaml")
		if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), msg) {
			t.Errorf("%s: got %v, want EINVALID with %q", src, err, msg)
		}
	}
}

func TestCheckInputs(t *testing.T) {
	open := func(s string) func(context.Context) (io.ReadCloser, error) {
		return func(context.Context) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
	}
	inputs := []validate.Input{
		{Name: "a.csv", Open: open("id,v\n1,5\n2,-1\n")},
		{Name: "gone.csv", Open: func(context.Context) (io.ReadCloser, error) { return nil, errors.New("object missing") }},
		{Name: "bad.csv.gz", Open: open("\x1f\x8b\x08\x00garbage")},
		{Name: "b.csv", Open: open("v,id\n-3,3\n")},
	}
	rep, err := validate.CheckInputs(context.Background(), mustLoad(t, "row_count: {min: 3}\ncolumns: {v: {min: 0}}"), inputs, validate.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 3 || strings.Join(rep.Files, ",") != "a.csv,b.csv" {
		t.Errorf("rows %d files %v, want 3 rows from a.csv and b.csv", rep.Rows, rep.Files)
	}
	if len(rep.Issues) != 2 || rep.Issues[0].File != "gone.csv" || rep.Issues[0].Reason != "object missing" || rep.Issues[1].File != "bad.csv.gz" || rep.Issues[1].Line != 0 {
		t.Errorf("issues %v, want gone.csv and bad.csv.gz", rep.Issues)
	}
	res, _ := find(rep, "min", "v")
	if res.Passed || len(res.Examples) != 2 || res.Examples[1].File != "b.csv" || res.Examples[1].Line != 2 {
		t.Errorf("min result %+v, want a.csv:3 and b.csv:2", res)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := validate.CheckInputs(ctx, mustLoad(t, ""), inputs, validate.Options{Now: now}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
}
