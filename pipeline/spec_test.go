package pipeline_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/pipeline"
)

var update = flag.Bool("update", false, "rewrite golden files")

func parseIn(t testing.TB, dir, src string, sets ...string) (*pipeline.Spec, error) {
	file := filepath.Join(dir, "loopml.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return pipeline.ParseFile(file, pipeline.ParseOptions{Set: sets})
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "params.yaml"), []byte("train:\n  lr: 0.1\n  layers: [1, 2]\n"), 0o644)
	tests := []struct {
		name, src string
		sets      []string
		want      string // "loopml.yaml:LINE: message"
	}{
		{"not a mapping", "- a\n", nil, "loopml.yaml:1: expected a mapping with stages, got a list"},
		{"no stages", "name: x\n", nil, `loopml.yaml:1: missing key "stages"`},
		{"unknown top key", "nme: x\nstages: {a: {cmd: x}}\n", nil, `loopml.yaml:1: unknown key "nme" (allowed: name, experiment, env, stages)`},
		{"unknown stage key", "stages:\n  a:\n    cmd: x\n    dep: [y]\n", nil, `loopml.yaml:4: stage "a": unknown key "dep"`},
		{"wrong type", "stages:\n  a:\n    cmd: {x: 1}\n", nil, `loopml.yaml:3: stage "a": cmd: expected a string or a list of strings, got a mapping`},
		{"bad retries", "stages:\n  a:\n    cmd: x\n    retries: many\n", nil, `loopml.yaml:4: stage "a": retries: expected an integer from 0 to 100`},
		{"bad timeout", "stages:\n  a:\n    cmd: x\n    timeout: soon\n", nil, `loopml.yaml:4: stage "a": timeout: expected a duration`},
		{"bad always_changed", "stages:\n  a:\n    cmd: x\n    always_changed: sometimes\n", nil, `loopml.yaml:4: stage "a": always_changed: expected true or false`},
		{"unknown dep stage", "stages:\n  a:\n    cmd: x\n    deps: [b.outs]\n", nil, `loopml.yaml:2: stage "a": dep "b.outs" names unknown stage "b"`},
		{"cycle", "stages:\n  a:\n    cmd: x\n    deps: [b.txt]\n    outs: [a.txt]\n  b:\n    cmd: y\n    deps: [c.outs]\n    outs: [b.txt]\n  c:\n    cmd: z\n    deps: [a.txt]\n", nil,
			"dependency cycle: "},
		{"duplicate out", "stages:\n  a:\n    cmd: x\n    outs: [o.txt]\n  b:\n    cmd: y\n    outs: [o.txt]\n", nil, `loopml.yaml:5: stage "b": output "o.txt" is already an output of stage "a" (line 2)`},
		{"nested out", "stages:\n  a:\n    cmd: x\n    outs: [d]\n  b:\n    cmd: y\n    outs: [d/f]\n", nil, `stage "b": output "d/f" is inside output "d" of stage "a"`},
		{"duplicate stage", "stages:\n  a: {cmd: x}\n  a: {cmd: y}\n", nil, `loopml.yaml:3: stage "a" is declared twice (first at line 2)`},
		{"nothing to do", "stages:\n  a:\n    deps: [x]\n", nil, `loopml.yaml:2: stage "a": needs cmd, uses, model or gate`},
		{"cmd and uses", "stages:\n  a:\n    cmd: x\n    uses: loopml/mf\n", nil, `loopml.yaml:4: stage "a": use cmd or uses, not both`},
		{"unknown builtin", "stages:\n  a:\n    uses: loopml/xgboost\n", nil, `loopml.yaml:3: stage "a": unknown built-in step "loopml/xgboost"`},
		{"bad learner param", "stages:\n  a:\n    uses: loopml/mf\n    with: {data: r.csv, params: {lr: 0.1}}\n", nil, `loopml.yaml:2: stage "a": with.params: params: mf: unknown param "lr"`},
		{"builtin without data", "stages:\n  a:\n    uses: loopml/mf\n", nil, `loopml.yaml:2: stage "a": with.data is required`},
		{"bad gate", "stages:\n  g:\n    gate: {condition: \"metrics.rmse <\"}\n", nil, `loopml.yaml:3: stage "g": gate condition: condition ends where an operand was expected`},
		{"missing param key", "stages:\n  a:\n    cmd: x\n    params: [train.momentum]\n", nil, `loopml.yaml:4: stage "a": param "train.momentum": no key "train.momentum" in params.yaml`},
		{"non-scalar param", "stages:\n  a:\n    cmd: x\n    params: [train.layers]\n", nil, `loopml.yaml:4: stage "a": param "train.layers": key "train.layers" in params.yaml (line 3) is a list, not a scalar`},
		{"model path not an out", "stages:\n  r:\n    model: {name: m, path: model}\n", nil, `loopml.yaml:2: stage "r": model.path "model" is not an output of any stage`},
		{"bad set", "stages:\n  a:\n    cmd: x\n    params: {k: 1}\n", []string{"b.k=2"}, `loopml.yaml: --set b.k: no stage reads params-file key "b.k"`},
		{"yaml syntax", "stages:\n  a:\n    cmd: [x\n", nil, "loopml.yaml:"},
		{"item outside foreach", "stages:\n  a:\n    cmd: echo ${item}\n", nil, `loopml.yaml:3: stage "a": ${item} outside a foreach/matrix stage`},
		{"unknown param ref", "stages:\n  a:\n    cmd: echo ${params.nope}\n", nil, `stage "a": ${params.nope}: the stage declares no such param`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseIn(t, dir, tt.src, tt.sets...)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Errorf("code %s, want EINVALID", loopml.ErrorCode(err))
			}
			msg := strings.ReplaceAll(loopml.ErrorMessage(err), dir+string(filepath.Separator), "")
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", msg, tt.want)
			}
		})
	}
}

// TestParseErrorsGolden checks the full report of a file with several
// problems: every one is listed, each with its line.
func TestParseErrorsGolden(t *testing.T) {
	src, err := os.ReadFile("testdata/bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = pipeline.Parse(src, "testdata/bad.yaml", pipeline.ParseOptions{})
	if err == nil {
		t.Fatal("no error")
	}
	got := loopml.ErrorMessage(err) + "\n"
	golden := "testdata/bad.golden"
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCycleNamesPath(t *testing.T) {
	dir := t.TempDir()
	_, err := parseIn(t, dir, `
stages:
  a: {cmd: x, deps: [c.outs]}
  b: {cmd: x, deps: [a.outs]}
  c: {cmd: x, deps: [b.outs]}
  d: {cmd: x, deps: [c.outs]}
`)
	msg := loopml.ErrorMessage(err)
	ok := false
	for _, c := range []string{"a -> b -> c -> a", "b -> c -> a -> b", "c -> a -> b -> c"} {
		ok = ok || strings.Contains(msg, "dependency cycle: "+c)
	}
	if !ok {
		t.Errorf("err = %q, want the cycle a -> b -> c named", msg)
	}
}

func TestParseExpansionAndParams(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "params.yaml"), []byte("mf:\n  k: 32\n  epochs: 10\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("lr: 0.5\n"), 0o644)
	s, err := parseIn(t, dir, `
name: p
experiment: exp
env: {GLOBAL: g}
stages:
  prep:
    cmd: [sh, -c, "echo ${params.mf.k}"]
    params: [mf.k, "other.yaml:lr"]
    outs: [prep.txt]
  sweep:
    foreach: [8, 16]
    cmd: train --k ${item} > out-${item}.txt
    deps: [prep.txt]
    outs: ["out-${item}.txt"]
  grid:
    matrix: {k: [1, 2], lr: [0.1]}
    cmd: echo ${item.k} ${item.lr}
    deps: [sweep.outs]
  train:
    uses: loopml/mf
    params: [mf.k]
    with:
      data: prep.txt
      params: {factors: "${params.mf.k}"}
`, "mf.k=64")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "p" || s.Experiment != "exp" {
		t.Errorf("name %q experiment %q", s.Name, s.Experiment)
	}
	var names []string
	for _, st := range s.Stages {
		names = append(names, st.Name)
	}
	if got := strings.Join(names, " "); got != "prep sweep@8 sweep@16 grid@1-0.1 grid@2-0.1 train" {
		t.Errorf("order %q", got)
	}
	prep := s.Stage("prep")
	if prep.Params["mf.k"] != "64" || prep.Params["lr"] != "0.5" || prep.Argv[2] != "echo 64" || prep.Env["GLOBAL"] != "g" {
		t.Errorf("prep %+v", prep)
	}
	sw := s.Stage("sweep@16")
	if sw.Cmd != "train --k 16 > out-16.txt" || sw.Outs[0] != "out-16.txt" || strings.Join(sw.Upstream, ",") != "prep" {
		t.Errorf("sweep@16 %+v", sw)
	}
	g := s.Stage("grid@2-0.1")
	if g.Cmd != "echo 2 0.1" || g.Params["k"] != "2" || strings.Join(g.Upstream, ",") != "sweep@16,sweep@8" {
		t.Errorf("grid@2-0.1 %+v", g)
	}
	tr := s.Stage("train")
	if tr.With["params"].(map[string]any)["factors"] != "64" || tr.Outs[0] != "models/train" || tr.Metrics[0] != "metrics/train.json" ||
		strings.Join(tr.Upstream, ",") != "prep" {
		t.Errorf("train %+v", tr)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"stages:\n  a:\n    cmd: x\n",
		"name: n\nstages:\n  a: {cmd: [x, y], outs: [o]}\n  b: {cmd: z, deps: [o, a.outs, data://r@latest]}\n",
		"stages:\n  s:\n    foreach: [1, 2]\n    cmd: echo ${item}\n",
		"stages:\n  g:\n    gate: {condition: \"metrics.a < champion.metrics.a\"}\n",
		"stages:\n  m:\n    matrix: {k: [1, 2]}\n    cmd: ${item.k}\n",
		"stages: [",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src string) {
		s, err := pipeline.Parse([]byte(src), filepath.Join(dir, "loopml.yaml"), pipeline.ParseOptions{})
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("code %s: %v", loopml.ErrorCode(err), err)
			}
			return
		}
		seen := map[string]bool{}
		for _, st := range s.Stages {
			for _, u := range st.Upstream {
				if !seen[u] {
					t.Fatalf("stage %s before its upstream %s", st.Name, u)
				}
			}
			seen[st.Name] = true
		}
	})
}
