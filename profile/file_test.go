package profile_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/loopml/loopml/profile"
)

// TestParallelMatchesSequential profiles the same CSV and JSON Lines input
// with one worker and with several small-batch workers: every exact
// statistic agrees.
func TestParallelMatchesSequential(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	names, rows := genTable(r, 5000)
	var csv, jsonl strings.Builder
	csv.WriteString(strings.Join(names, ",") + "\n")
	for i, row := range rows {
		csv.WriteString(strings.Join(row, ",") + "\n")
		// JSON Lines: keys in varying order, a late key, nulls for "".
		var parts []string
		for _, j := range r.Perm(len(names)) {
			v := "null"
			if row[j] != "" {
				v = fmt.Sprintf("%q", row[j])
			}
			parts = append(parts, fmt.Sprintf("%q:%s", names[j], v))
		}
		if i > 4000 {
			parts = append(parts, `"late":1`)
		}
		jsonl.WriteString("{" + strings.Join(parts, ",") + "}\n")
	}
	for _, in := range []struct{ name, data string }{{"t.csv", csv.String()}, {"t.jsonl", jsonl.String()}} {
		t.Run(in.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := profile.Config{ExactLimit: 100, Counters: 20}
			seq, err := profile.ProfileReader(ctx, strings.NewReader(in.data), in.name, profile.Options{Config: cfg, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			par, err := profile.ProfileReader(ctx, strings.NewReader(in.data), in.name, profile.Options{Config: cfg, Workers: 4, BatchSize: 37})
			if err != nil {
				t.Fatal(err)
			}
			if seq.Rows() != 5000 || par.Rows() != 5000 {
				t.Fatalf("rows = %d, %d; want 5000", seq.Rows(), par.Rows())
			}
			if !slices.Equal(seq.Names(), par.Names()) {
				t.Errorf("names = %v, want %v", par.Names(), seq.Names())
			}
			if !slices.Equal(seq.Schema().Fields, par.Schema().Fields) {
				t.Errorf("schema = %+v, want %+v", par.Schema(), seq.Schema())
			}
			for _, name := range seq.Names() {
				a, _ := seq.Column(name)
				b, _ := par.Column(name)
				if a.Count != b.Count || a.Missing != b.Missing || a.Types != b.Types {
					t.Errorf("%s: count/missing/types = %d/%d/%+v, want %d/%d/%+v", name, b.Count, b.Missing, b.Types, a.Count, a.Missing, a.Types)
				}
				if (a.Numeric == nil) != (b.Numeric == nil) {
					t.Fatalf("%s: numeric summary presence differs", name)
				}
				if a.Numeric != nil && (a.Numeric.Min != b.Numeric.Min || a.Numeric.Max != b.Numeric.Max ||
					math.Abs(a.Numeric.Mean-b.Numeric.Mean) > 1e-9*max(1, math.Abs(a.Numeric.Mean))) {
					t.Errorf("%s: numeric = %+v, want %+v", name, *b.Numeric, *a.Numeric)
				}
			}
			late, _ := par.Column("late")
			if in.name == "t.jsonl" && (late.Count != 999 || late.Missing != 4001) {
				t.Errorf("late: count/missing = %d/%d, want 999/4001", late.Count, late.Missing)
			}
		})
	}
}

// TestMovieLensRatings profiles the MovieLens ratings and checks facts
// known from the data set; it skips when the file is absent.
func TestMovieLensRatings(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	p, err := profile.ProfileFile(context.Background(), movieLens, profile.Options{})
	if err != nil {
		t.Skipf("MovieLens ratings not available: %v", err)
	}
	if p.Rows() != 100836 || p.BadRows != 0 {
		t.Fatalf("rows %d, bad rows %d; want 100836, 0", p.Rows(), p.BadRows)
	}
	user, _ := p.Column("userId")
	rating, _ := p.Column("rating")
	ts, _ := p.Column("timestamp")
	if user.Distinct != 610 || !user.DistinctExact || !user.PossiblyCategorical {
		t.Errorf("userId: distinct %d exact %v possibly categorical %v; want 610 exact, true", user.Distinct, user.DistinctExact, user.PossiblyCategorical)
	}
	if rating.Type != profile.TypeFloat || rating.Distinct != 10 || rating.Numeric.Min != 0.5 || rating.Numeric.Max != 5 ||
		math.Abs(rating.Numeric.Mean-3.501557) > 1e-6 || rating.Top[0] != (profile.ValueCount{Value: "4.0", Count: 26818}) {
		t.Errorf("rating = %+v", rating)
	}
	if ts.Type != profile.TypeTimestamp || ts.Unit != "epoch_s" || ts.DistinctExact {
		t.Errorf("timestamp: %s/%s distinct exact %v; want timestamp/epoch_s, estimated", ts.Type, ts.Unit, ts.DistinctExact)
	}
}
