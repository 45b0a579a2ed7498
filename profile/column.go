package profile

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/axiomhq/hyperloglog"
)

// column accumulates the statistics of one column. Missing cells are not
// recorded here: a column's missing count is the table's row count minus
// its present count, which also covers JSON Lines rows that lack the key.
type column struct {
	name    string
	present int64
	types   [classString + 1]int64

	// Welford moments of the numeric (integer, float, timestamp) cells.
	n                      int64
	min, max, mean, m2     float64
	lenMin, lenMax, lenSum int64

	// hll is nil while the exact table is kept; see insertKeys.
	hll  *hyperloglog.Sketch
	dig  *digest
	freq *freq

	// edges and hist are the fixed reference bins and their counts, nil
	// unless edges were given before counting.
	edges []float64
	hist  []int64
}

func newColumn(name string, cfg *Config) *column {
	c := &column{
		name: name,
		dig:  newDigest(cfg.Compression),
		freq: newFreq(cfg.ExactLimit, cfg.Counters),
	}
	c.freq.spill = c.spill
	if e, ok := cfg.Edges[name]; ok {
		c.edges = slices.Clone(e)
		c.hist = make([]int64, len(e)+1)
	}
	return c
}

// trimSpace trims ASCII spaces and tabs, without allocating.
func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// add records one cell.
func (c *column) add(raw string) {
	s := trimSpace(raw)
	cl, v := classify(s)
	if cl == classMissing {
		return
	}
	c.present++
	c.types[cl]++
	l := int64(len(s))
	if !isASCII(s) {
		l = int64(utf8.RuneCountInString(s))
	}
	if c.present == 1 {
		c.lenMin, c.lenMax = l, l
	} else {
		c.lenMin, c.lenMax = min(c.lenMin, l), max(c.lenMax, l)
	}
	c.lenSum += l
	// While the exact table is kept, it alone holds the distinct values
	// and quantiles; the sketches start when it spills (see spill). After
	// that a value already holding a counter is already in the HyperLogLog.
	h := hashString(s)
	wasExact := c.freq.exact
	isNew := c.freq.add(h, s)
	numeric := cl == classInteger || cl == classFloat || cl == classTimestamp
	if !wasExact {
		if isNew {
			c.hll.InsertHash(h)
		}
		if numeric {
			c.dig.add(v)
		}
	}
	if numeric {
		c.addNumber(v)
	}
}

// spill starts the sketches from an exact table that is about to turn into
// a Misra–Gries summary: every value goes into the HyperLogLog sketch, and
// every numeric value, weighted by its count, into the t-digest. Sketches
// are thus empty while the table is exact and complete afterwards.
func (c *column) spill(f *freq) {
	if c.hll == nil {
		c.hll = hyperloglog.NewNoSparse()
	}
	var cs []centroid
	f.each(func(h uint64, s string, n int64) {
		c.hll.InsertHash(h)
		if cl, v := classify(s); cl == classInteger || cl == classFloat || cl == classTimestamp {
			cs = append(cs, centroid{v, float64(n)})
		}
	})
	c.dig.addCentroids(cs)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func (c *column) addNumber(v float64) {
	c.n++
	if c.n == 1 {
		c.min, c.max, c.mean, c.m2 = v, v, v, 0
	} else {
		c.min, c.max = min(c.min, v), max(c.max, v)
		d := v - c.mean
		c.mean += d / float64(c.n)
		c.m2 += d * (v - c.mean)
	}
	if c.hist != nil {
		c.hist[binOf(c.edges, v)]++
	}
}

// binOf returns the bin of v on edges: the number of edges ≤ v.
func binOf(edges []float64, v float64) int {
	return sort.Search(len(edges), func(i int) bool { return edges[i] > v })
}

// mergeHLL merges o into the column's HyperLogLog sketch. The sketch is
// nil while the exact table is kept and holds every distinct value once it
// is not, because the table spills its keys into it (see spill). It is
// dense (precision 14, 16 KiB) from the start: the sparse form re-encodes
// its list every 164 new hashes, which dominated profiling time on columns
// with thousands of distinct values.
func (c *column) mergeHLL(o *hyperloglog.Sketch) {
	if c.hll == nil {
		c.hll = hyperloglog.NewNoSparse()
	}
	if err := c.hll.Merge(o); err != nil {
		panic(fmt.Sprintf("profile: merge HyperLogLog of column %q: %v", c.name, err))
	}
}

// checkMerge reports why o cannot be merged into c.
func (c *column) checkMerge(o *column) error {
	if c.hist != nil && o.hist != nil && !slices.Equal(c.edges, o.edges) {
		return fmt.Errorf("merge profiles: column %q: histogram edges differ", c.name)
	}
	return nil
}

// merge adds o into c; o is not modified apart from flushing its buffer.
// Call checkMerge first.
func (c *column) merge(o *column) {
	if o.present > 0 {
		if c.present == 0 {
			c.lenMin, c.lenMax = o.lenMin, o.lenMax
		} else {
			c.lenMin, c.lenMax = min(c.lenMin, o.lenMin), max(c.lenMax, o.lenMax)
		}
	}
	c.present += o.present
	c.lenSum += o.lenSum
	for i, t := range o.types {
		c.types[i] += t
	}
	switch {
	case o.n == 0:
	case c.n == 0:
		c.n, c.min, c.max, c.mean, c.m2 = o.n, o.min, o.max, o.mean, o.m2
	default:
		na, nb := float64(c.n), float64(o.n)
		n := na + nb
		d := o.mean - c.mean
		c.mean += d * nb / n
		c.m2 += o.m2 + d*d*na*nb/n
		c.n += o.n
		c.min, c.max = min(c.min, o.min), max(c.max, o.max)
	}
	// Keep the sketches complete exactly when the merged table is inexact.
	switch {
	case c.freq.exact && o.freq.exact:
		union := c.freq.used
		o.freq.each(func(h uint64, s string, _ int64) {
			if c.freq.count(h, s) == 0 {
				union++
			}
		})
		if union > c.freq.limit {
			c.spill(c.freq)
			c.spill(o.freq)
		}
	case c.freq.exact:
		c.spill(c.freq)
		c.mergeHLL(o.hll)
		c.dig.merge(o.dig)
	case o.freq.exact:
		c.spill(o.freq)
	default:
		c.mergeHLL(o.hll)
		c.dig.merge(o.dig)
	}
	c.freq.merge(o.freq)
	switch {
	case c.hist != nil && o.hist != nil:
		for i, h := range o.hist {
			c.hist[i] += h
		}
	case c.hist != nil || o.hist != nil:
		// One side counted no fixed bins: the merged counts would be wrong.
		c.edges, c.hist = nil, nil
	}
}

// clone returns a deep copy of c.
func (c *column) clone(cfg *Config) *column {
	d := newColumn(c.name, cfg)
	d.edges, d.hist = nil, nil
	d.merge(c)
	d.edges, d.hist = slices.Clone(c.edges), slices.Clone(c.hist)
	return d
}

// numericValues returns the distinct numeric values of the exact table in
// increasing order with their counts; ok is false when the table is no
// longer exact.
func (c *column) numericValues() (vals []float64, counts []int64, ok bool) {
	if !c.freq.exact {
		return nil, nil, false
	}
	type vc struct {
		v float64
		c int64
	}
	var all []vc
	c.freq.each(func(_ uint64, s string, n int64) {
		cl, v := classify(s)
		if cl == classInteger || cl == classFloat || cl == classTimestamp {
			all = append(all, vc{v, n})
		}
	})
	slices.SortFunc(all, func(a, b vc) int { return compareFloat(a.v, b.v) })
	for _, x := range all {
		if len(vals) > 0 && vals[len(vals)-1] == x.v {
			counts[len(counts)-1] += x.c
			continue
		}
		vals = append(vals, x.v)
		counts = append(counts, x.c)
	}
	return vals, counts, true
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// exactQuantile returns numpy's default (linear interpolation) quantile p of
// the values with the given counts, sorted increasingly.
func exactQuantile(vals []float64, counts []int64, p float64) float64 {
	var n int64
	for _, c := range counts {
		n += c
	}
	if n == 0 {
		return math.NaN()
	}
	h := float64(n-1) * p
	lo := int64(math.Floor(h))
	x0 := kth(vals, counts, lo)
	if float64(lo) == h || lo+1 >= n {
		return x0
	}
	x1 := kth(vals, counts, lo+1)
	return x0 + (h-float64(lo))*(x1-x0)
}

// kth returns the k-th (0-based) value in sorted order.
func kth(vals []float64, counts []int64, k int64) float64 {
	for i, c := range counts {
		if k < c {
			return vals[i]
		}
		k -= c
	}
	return vals[len(vals)-1]
}
