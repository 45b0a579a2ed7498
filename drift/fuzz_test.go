package drift_test

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/loopml/loopml/drift"
)

// floatsFromBytes decodes little-endian float64s (any bit pattern, so NaN,
// ±Inf, −0 and subnormals all occur).
func floatsFromBytes(b []byte) []float64 {
	out := make([]float64, len(b)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out
}

func bytesFromFloats(fs ...float64) []byte {
	b := make([]byte, 8*len(fs))
	for i, f := range fs {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(f))
	}
	return b
}

// FuzzBinning checks that binning never panics, produces strictly increasing
// NaN-free edges, puts every value in the bin its edges say, and that counts
// add up to the number of values.
func FuzzBinning(f *testing.F) {
	f.Add(bytesFromFloats(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), int8(4))
	f.Add(bytesFromFloats(7, 7, 7), int8(10))
	f.Add(bytesFromFloats(math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1)), int8(3))
	f.Add(bytesFromFloats(-math.MaxFloat64, math.MaxFloat64, 1e-308, 5e-324), int8(2))
	f.Add(bytesFromFloats(0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9), int8(0))
	f.Add([]byte{}, int8(5))
	f.Fuzz(func(t *testing.T, data []byte, bins int8) {
		values := floatsFromBytes(data)
		edges, err := drift.QuantileEdges(values, int(bins))
		finiteN := 0
		for _, v := range values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				finiteN++
			}
		}
		if err != nil {
			if finiteN > 0 || !errors.Is(err, drift.ErrEmpty) {
				t.Fatalf("QuantileEdges(%v, %d): %v", values, bins, err)
			}
			return
		}
		maxBins := int(bins)
		if maxBins <= 0 {
			maxBins = drift.DefaultBins
		}
		if len(edges) > 2*maxBins {
			t.Fatalf("%d edges for %d bins", len(edges), maxBins)
		}
		h, err := drift.Count(edges, values)
		if err != nil {
			t.Fatalf("Count on QuantileEdges %v: %v", edges, err)
		}
		var nan int64
		for _, v := range values {
			b := h.Bin(v)
			if math.IsNaN(v) {
				nan++
				if b != -1 {
					t.Fatalf("Bin(NaN) = %d", b)
				}
				continue
			}
			if b < 0 || b > len(edges) || (b > 0 && !(edges[b-1] <= v)) || (b < len(edges) && !(v < edges[b])) {
				t.Fatalf("value %v in bin %d of edges %v", v, b, edges)
			}
		}
		if h.N()+h.NaN != int64(len(values)) || h.NaN != nan || h.Finite != int64(finiteN) {
			t.Fatalf("counts %v + NaN %d (finite %d) for %d values", h.Counts, h.NaN, h.Finite, len(values))
		}
		if h.Std() < 0 || math.IsNaN(h.Min) || h.Min > h.Max {
			t.Fatalf("moments: min %v max %v std %v", h.Min, h.Max, h.Std())
		}
		p, err := drift.NewNumericProfile(values, drift.ProfileOptions{Bins: int(bins), SampleLimit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if !p.ManyValues {
			var n int64
			for i, vc := range p.Values {
				n += vc.Count
				if i > 0 && !(p.Values[i-1].Value < vc.Value) {
					t.Fatalf("values not increasing: %v", p.Values)
				}
			}
			if n != p.Finite {
				t.Fatalf("value counts sum to %d, want %d", n, p.Finite)
			}
		}
		if lo, hi := h.Min, h.Max; lo < hi && !math.IsInf(hi-lo, 0) {
			u, err := drift.UniformEdges(lo, hi, max(int(bins), 1))
			if err != nil {
				t.Fatalf("UniformEdges(%v, %v, %d): %v", lo, hi, bins, err)
			}
			if _, err := drift.NewHistogram(u); err != nil {
				t.Fatalf("uniform edges %v: %v", u, err)
			}
		}
	})
}

// FuzzDetect checks that detection on arbitrary halves never panics and
// returns p-values and scores in range.
func FuzzDetect(f *testing.F) {
	f.Add(bytesFromFloats(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), uint8(6), uint8(0))
	f.Add(bytesFromFloats(0, 1, 0, 1, 1, 1, 0, 0), uint8(4), uint8(2))
	f.Add(bytesFromFloats(5, 5, 5, 5, 6), uint8(2), uint8(5))
	f.Add(bytesFromFloats(-math.MaxFloat64, math.MaxFloat64, 0, 1, 2, 3, 4, 5), uint8(4), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, split uint8, method uint8) {
		values := floatsFromBytes(data)
		k := min(int(split), len(values))
		methods := []drift.Method{"", drift.MethodKS, drift.MethodWasserstein, drift.MethodChiSquare, drift.MethodZ, drift.MethodJensenShannon, drift.MethodPSI}
		m := methods[int(method)%len(methods)]
		res, err := drift.Detect(values[:k], values[k:], drift.Options{Method: m})
		if err != nil {
			if !errors.Is(err, drift.ErrEmpty) && !errors.Is(err, drift.ErrMethod) && !errors.Is(err, drift.ErrInvalid) {
				t.Fatalf("Detect(%v, %v, %q): %v", values[:k], values[k:], m, err)
			}
			return
		}
		if res.Method.IsTest() && !(res.PValue >= 0 && res.PValue <= 1) {
			t.Fatalf("p-value %v out of [0, 1]: %+v", res.PValue, res)
		}
		if math.IsNaN(res.Score) {
			t.Fatalf("NaN score: %+v", res)
		}
	})
}
