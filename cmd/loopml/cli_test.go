package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/sqlstore"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fixture is a home directory seeded with two experiments and three runs,
// and the replacements that make output independent of ids and clocks.
type fixture struct {
	home     string
	runs     map[string]string // run name -> id
	replacer *strings.Replacer
}

// Fixed run ids in golden files, one per seeded run.
var fakeRunIDs = map[string]string{
	"baseline": strings.Repeat("a", 32),
	"tuned":    strings.Repeat("b", 32),
	"other":    strings.Repeat("c", 32),
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	home := t.TempDir()
	dsn, err := Config{Home: home}.StoreDSN()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	churn := &loopml.Experiment{Name: "churn", Tags: []loopml.Tag{{Key: "team", Value: "growth"}}}
	must(db.CreateExperiment(ctx, churn))
	vision := &loopml.Experiment{Name: "vision"}
	must(db.CreateExperiment(ctx, vision))

	const t0 = int64(1767225600000) // 2026-01-01 00:00:00 UTC
	f := &fixture{home: home, runs: map[string]string{}}
	seed := []struct {
		exp, name string
		start     int64
		batch     loopml.Batch
	}{
		{churn.ID, "baseline", t0, loopml.Batch{
			Params:  []loopml.Param{{Key: "lr", Value: "0.1"}, {Key: "depth", Value: "3"}},
			Metrics: []loopml.Metric{{Key: "rmse", Value: 0.9, Timestamp: t0 + 1000, Step: 0}, {Key: "rmse", Value: 0.52, Timestamp: t0 + 2000, Step: 1}, {Key: "acc", Value: 0.81, Timestamp: t0 + 2000, Step: 1}},
			Tags:    []loopml.Tag{{Key: "note", Value: "first try"}},
		}},
		{churn.ID, "tuned", t0 + 3_600_000, loopml.Batch{
			Params:  []loopml.Param{{Key: "lr", Value: "0.01"}, {Key: "depth", Value: "3"}, {Key: "dropout", Value: "0.2"}},
			Metrics: []loopml.Metric{{Key: "rmse", Value: 0.41, Timestamp: t0 + 3_700_000, Step: 5}, {Key: "loss", Value: math.NaN(), Timestamp: t0 + 3_700_000, Step: 5}},
		}},
		{vision.ID, "other", t0 + 7_200_000, loopml.Batch{}},
	}
	var pairs []string
	for _, s := range seed {
		r := &loopml.Run{ExperimentID: s.exp, Name: s.name, UserID: "alice", StartTime: s.start}
		must(db.CreateRun(ctx, r))
		if len(s.batch.Metrics)+len(s.batch.Params)+len(s.batch.Tags) > 0 {
			must(db.LogBatch(ctx, r.ID, s.batch))
		}
		f.runs[s.name] = r.ID
		fake := fakeRunIDs[s.name]
		pairs = append(pairs, r.ID, fake)
	}
	finished := loopml.RunFinished
	end := t0 + 1_800_000
	_, err = db.UpdateRun(ctx, f.runs["baseline"], loopml.RunUpdate{Status: &finished, EndTime: &end})
	must(err)

	// Experiment clocks are the store's: map them to fixed values.
	exps, _, err := db.SearchExperiments(ctx, loopml.ExperimentSearch{ViewType: loopml.AllView})
	must(err)
	for _, e := range exps {
		for _, ms := range []int64{e.CreationTime, e.LastUpdateTime} {
			pairs = append(pairs, fmtTime(ms), "2000-01-01 00:00:00", strconv.FormatInt(ms, 10), "946684800000")
		}
	}
	f.replacer = strings.NewReplacer(pairs...)
	return f
}

// cli runs the command line against the fixture's home and returns stdout.
func (f *fixture) cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--home", f.home)
	err := run(context.Background(), args, envMap(nil), &out, &errOut)
	return f.replacer.Replace(out.String()), err
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestCLIGolden(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		golden string
		args   []string
	}{
		{"experiments_list", []string{"experiments", "list", "--order-by", "name ASC"}},
		{"experiments_list_json", []string{"experiments", "list", "--order-by", "name DESC", "-o", "json"}},
		{"experiments_show", []string{"experiments", "show", "churn"}},
		{"experiments_show_json", []string{"experiments", "show", "1", "-o", "json"}},
		{"runs_list", []string{"runs", "list"}},
		{"runs_list_experiment_json", []string{"runs", "list", "--experiment", "churn", "-o", "json"}},
		{"runs_show", []string{"runs", "show", f.runs["baseline"]}},
		{"runs_show_json", []string{"runs", "show", f.runs["tuned"], "-o", "json"}},
		{"runs_compare", []string{"runs", "compare", f.runs["baseline"], f.runs["tuned"]}},
		{"runs_compare_json", []string{"runs", "compare", f.runs["baseline"], f.runs["tuned"], "-o", "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := f.cli(t, tt.args...)
			if err != nil {
				t.Fatalf("%v: %v", tt.args, err)
			}
			checkGolden(t, tt.golden, got)
		})
	}
}

func TestCLIExperimentsCreate(t *testing.T) {
	f := newFixture(t)
	got, err := f.cli(t, "experiments", "create", "new-one")
	if err != nil {
		t.Fatal(err)
	}
	if got != "Created experiment \"new-one\" with id 3\n" {
		t.Errorf("output = %q", got)
	}
	if _, err := f.cli(t, "experiments", "create", "new-one"); loopml.ErrorCode(err) != loopml.ECONFLICT {
		t.Errorf("second create: err = %v, want ECONFLICT", err)
	}
	got, err = f.cli(t, "experiments", "list", "-o", "json")
	if err != nil || !strings.Contains(got, `"name": "new-one"`) {
		t.Errorf("list after create: %v\n%s", err, got)
	}
}

func TestCLIErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		args []string
		want string // the message the user sees
	}{
		{"unknown experiment", []string{"experiments", "show", "nope"}, `no experiment with id or name "nope"`},
		{"unknown run", []string{"runs", "show", strings.Repeat("0", 32)}, ""},
		{"compare needs two", []string{"runs", "compare", f.runs["tuned"]}, "requires at least 2 arg(s)"},
		{"bad output", []string{"experiments", "list", "-o", "yaml"}, `output "yaml" must be table or json`},
		{"bad view", []string{"runs", "list", "--view", "some"}, `view "some" must be active, deleted or all`},
		{"bad tracking uri", []string{"runs", "list", "--tracking-uri", "ftp://x"}, `tracking-uri "ftp://x" must be an http:// or https:// URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.cli(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != "" && userMessage(err) != tt.want && !strings.Contains(userMessage(err), tt.want) {
				t.Errorf("message = %q, want %q", userMessage(err), tt.want)
			}
			if strings.Contains(userMessage(err), "loopml error: code=") {
				t.Errorf("message shows the error code: %q", userMessage(err))
			}
		})
	}
}

func TestCLIMissingHome(t *testing.T) {
	var out bytes.Buffer
	home := filepath.Join(t.TempDir(), "absent")
	err := run(context.Background(), []string{"experiments", "list", "--home", home}, envMap(nil), &out, &out)
	if err == nil || !strings.Contains(userMessage(err), "no loopml home at "+home) {
		t.Fatalf("err = %v", err)
	}
	if _, statErr := os.Stat(home); !os.IsNotExist(statErr) {
		t.Errorf("listing created the home: %v", statErr)
	}
	// LOOPML_HOME is honoured.
	err = run(context.Background(), []string{"experiments", "list"}, envMap(map[string]string{"LOOPML_HOME": home}), &out, &out)
	if err == nil || !strings.Contains(userMessage(err), home) {
		t.Fatalf("err = %v, want it to name LOOPML_HOME %s", err, home)
	}
}

func TestUserMessage(t *testing.T) {
	inner := loopml.Errorf(loopml.ENOTFOUND, "Run 'x' not found")
	tests := []struct {
		err  error
		want string
	}{
		{inner, "Run 'x' not found"},
		{fmt.Errorf("open store: %w", inner), "Run 'x' not found"},
		{fmt.Errorf("plain failure"), "plain failure"},
	}
	for _, tt := range tests {
		if got := userMessage(tt.err); got != tt.want {
			t.Errorf("userMessage(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, envMap(nil), &out, &out); err != nil {
		t.Fatal(err)
	}
	if want := "loopml " + loopml.Version + " (MLflow REST API " + loopml.MLflowVersion; !strings.HasPrefix(out.String(), want) {
		t.Errorf("version = %q, want prefix %q", out.String(), want)
	}
	out.Reset()
	if err := run(context.Background(), []string{"server", "--help"}, envMap(nil), &out, &out); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	for _, s := range settings {
		for _, want := range []string{"--" + s.key, s.env()} {
			if strings.Count(help, want) < 2 { // in the table and in the flag list
				t.Errorf("server --help mentions %q fewer than twice", want)
			}
		}
	}
	for _, want := range []string{"LOOPML_CONFIG", "--config", "32MiB", "127.0.0.1:5000"} {
		if !strings.Contains(help, want) {
			t.Errorf("server --help does not mention %q", want)
		}
	}
}
