package drift_test

import (
	"testing"

	"github.com/loopml/loopml/drift"
)

const benchN = 1_000_000

func BenchmarkPSISamples1M(b *testing.B) {
	ref, cur := gauss(benchN, 0.1, 1, 0), gauss(benchN, 0.3, 1, 0.05)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := drift.PSISamples(ref, cur, 20); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPSIStoredProfile1M is the live path: the reference profile exists,
// a 1M-value window is counted into its edges and compared.
func BenchmarkPSIStoredProfile1M(b *testing.B) {
	ref, cur := gauss(benchN, 0.1, 1, 0), gauss(benchN, 0.3, 1, 0.05)
	rp, err := drift.NewNumericProfile(ref, drift.ProfileOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		h, err := drift.Count(rp.Edges, cur)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := drift.PSIHistograms(&rp.Histogram, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKS1M(b *testing.B) {
	ref, cur := gauss(benchN, 0.1, 1, 0), gauss(benchN, 0.3, 1, 0.05)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := drift.KS(ref, cur); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKSExact1000x10000(b *testing.B) {
	ref, cur := gauss(1000, 0.1, 1, 0), gauss(10000, 0.3, 1, 0.02)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := drift.KS(ref, cur); err != nil {
			b.Fatal(err)
		}
	}
}
