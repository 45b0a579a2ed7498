package drift_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/loopml/loopml/drift"
)

// A reference profile is built once (say, from the training data of a model
// version) and stored; later windows of production data are counted into it
// and compared without touching the reference data again.
func Example() {
	rng := rand.New(rand.NewPCG(2026, 11))
	normal := func(n int, mean float64) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = mean + rng.NormFloat64()
		}
		return xs
	}
	training := normal(5000, 0)

	ref, err := drift.NewNumericProfile(training, drift.ProfileOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// ref (edges, counts, moments and a 1000-point quantile sketch) is what
	// gets stored, e.g. as JSON next to the model version.

	windows := []struct {
		name   string
		values []float64
	}{
		{"stable", normal(800, 0)},
		{"shifted", normal(800, 0.5)},
	}
	for _, w := range windows {
		cur, err := ref.Observe(w.values)
		if err != nil {
			fmt.Println(err)
			return
		}
		res, err := drift.DetectNumeric(ref, cur, drift.Options{})
		if err != nil {
			fmt.Println(err)
			return
		}
		psi, _ := drift.PSIHistograms(&ref.Histogram, &cur.Histogram)
		fmt.Printf("%s: %s=%.3f (threshold %.1f) drifted=%v; PSI=%.3f (%s)\n",
			w.name, res.Method, res.Score, res.Threshold, res.Drifted, psi, drift.PSIBand(psi))
	}
	// Output:
	// stable: wasserstein=0.025 (threshold 0.1) drifted=false; PSI=0.013 (none)
	// shifted: wasserstein=0.573 (threshold 0.1) drifted=true; PSI=0.357 (major)
}
