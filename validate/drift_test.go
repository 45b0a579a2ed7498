package validate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/loopml/loopml/profile"
	"github.com/loopml/loopml/validate"
)

// sample writes n rows of a numeric column x ~ Normal(mean, 1) and a
// categorical column genre that is "comedy" with probability pComedy and
// "drama" otherwise.
func sample(seed uint64, n int, mean, pComedy float64) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString("x,genre\n")
	for range n {
		g := "drama"
		if rng.Float64() < pComedy {
			g = "comedy"
		}
		fmt.Fprintf(&b, "%.4f,%s\n", mean+rng.NormFloat64(), g)
	}
	return b.String()
}

func TestDrift(t *testing.T) {
	ctx := context.Background()
	ref, err := profile.ProfileFile(ctx, writeFile(t, "ref.csv", sample(1, 5000, 0, 0.5)), profile.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		rules   string
		data    string
		column  string
		pass    bool
		observe string
	}{
		{"psi/same distribution", "columns: {x: {drift: {max_psi: 0.1}}}", sample(2, 3000, 0, 0.5), "x", true, "psi "},
		{"psi/shifted", "columns: {x: {drift: {max_psi: 0.1}}}", sample(3, 3000, 0.8, 0.5), "x", false, "psi "},
		{"default method numeric", "columns: {x: {drift: {threshold: 0.2}}}", sample(3, 3000, 0.8, 0.5), "x", false, "psi "},
		{"js numeric", "columns: {x: {drift: {max_js: 0.1}}}", sample(3, 3000, 0.8, 0.5), "x", false, "jensenshannon "},
		{"js/same categories", "columns: {genre: {drift: {method: js, threshold: 0.1}}}", sample(4, 3000, 0, 0.5), "genre", true, "jensenshannon "},
		{"js/shifted categories", "columns: {genre: {drift: {method: js, threshold: 0.1}}}", sample(5, 3000, 0, 0.9), "genre", false, "jensenshannon "},
		{"default method categorical", "columns: {genre: {drift: {}}}", sample(5, 3000, 0, 0.9), "genre", false, "jensenshannon "},
		{"psi categorical", "columns: {genre: {drift: {max_psi: 0.2}}}", sample(5, 3000, 0, 0.9), "genre", false, "psi "},
		{"new category", "columns: {genre: {drift: {max_js: 0.1}}}", strings.ReplaceAll(sample(6, 1000, 0, 0.5), "drama", "horror"), "genre", false, "jensenshannon "},
		{"absent from reference", "columns: {y: {drift: {max_psi: 0.1}}}", "y\n1\n2\n", "y", false, "absent from the reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := checkString(t, tt.rules, "cur.csv", tt.data, validate.Options{Reference: ref})
			res, ok := find(rep, "drift", tt.column)
			if !ok {
				t.Fatalf("no drift result: %+v", rep.Results)
			}
			t.Logf("%s: %s", tt.name, res.Observed)
			if res.Passed != tt.pass || !strings.HasPrefix(res.Observed, tt.observe) && !strings.Contains(res.Observed, tt.observe) {
				t.Errorf("result %+v, want passed %v and observed %q", res, tt.pass, tt.observe)
			}
			if !strings.Contains(res.Message, tt.column) || res.Expected == "" {
				t.Errorf("message %q / expected %q", res.Message, res.Expected)
			}
		})
	}
	// The reference is only read: it still has its own (derived) bins.
	if s, _ := ref.Column("x"); s.Numeric.Histogram.Fixed || ref.Rows() != 5000 {
		t.Errorf("reference profile changed: %+v", s.Numeric.Histogram)
	}
}
