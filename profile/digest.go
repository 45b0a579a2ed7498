package profile

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// digestBuffer is how many values a digest buffers before merging them
// into its centroids.
const digestBuffer = 4096

// centroid is a t-digest cluster: the mean of weight values.
type centroid struct {
	mean   float64
	weight float64
}

// digest is a merging t-digest (Dunning and Ertl, "Computing extremely
// accurate quantiles using t-digests", 2019) with the k1 scale function
// k(q) = δ/(2π)·asin(2q−1): adjacent clusters are merged while they span
// at most one unit of k, which keeps at most about δ clusters, small ones
// at the tails. It is deterministic (no random choices) and encodes its
// centroid means as exact float64s.
//
// github.com/caio/go-tdigest was the first choice, but its binary encoding
// stores centroid means as float32 deltas: lossy (tens of seconds on epoch
// timestamps) and not idempotent across a decode/encode round trip, which a
// stored baseline must be.
type digest struct {
	compression float64
	cs          []centroid
	buf         []float64
	scratch     []centroid
	total       float64
	min, max    float64
}

func newDigest(compression float64) *digest {
	return &digest{compression: compression, min: math.Inf(1), max: math.Inf(-1)}
}

func (d *digest) add(v float64) {
	d.buf = append(d.buf, v)
	if len(d.buf) >= digestBuffer {
		d.flush()
	}
}

// flush merges the buffered values into the centroids.
func (d *digest) flush() {
	if len(d.buf) == 0 {
		return
	}
	slices.Sort(d.buf)
	d.min, d.max = min(d.min, d.buf[0]), max(d.max, d.buf[len(d.buf)-1])
	d.total += float64(len(d.buf))
	all := d.scratch[:0]
	i := 0
	for _, v := range d.buf {
		for i < len(d.cs) && d.cs[i].mean <= v {
			all = append(all, d.cs[i])
			i++
		}
		all = append(all, centroid{v, 1})
	}
	all = append(all, d.cs[i:]...)
	d.buf = d.buf[:0]
	d.cs = d.compress(all, d.cs[:0])
	d.scratch = all
}

// addCentroids adds weighted values.
func (d *digest) addCentroids(cs []centroid) {
	if len(cs) == 0 {
		return
	}
	d.flush()
	slices.SortFunc(cs, func(a, b centroid) int { return cmp.Compare(a.mean, b.mean) })
	all := make([]centroid, 0, len(d.cs)+len(cs))
	i, j := 0, 0
	for i < len(d.cs) && j < len(cs) {
		if cs[j].mean < d.cs[i].mean {
			all = append(all, cs[j])
			j++
		} else {
			all = append(all, d.cs[i])
			i++
		}
	}
	all = append(append(all, d.cs[i:]...), cs[j:]...)
	for _, c := range cs {
		d.total += c.weight
	}
	d.min, d.max = min(d.min, cs[0].mean), max(d.max, cs[len(cs)-1].mean)
	d.cs = d.compress(all, make([]centroid, 0, len(all)))
}

// qLimit returns the largest q with k(q) ≤ k(q0) + 1.
func (d *digest) qLimit(q0 float64) float64 {
	k := d.compression/(2*math.Pi)*math.Asin(2*min(max(q0, 0), 1)-1) + 1
	if k >= d.compression/4 {
		return 1
	}
	return (math.Sin(k*2*math.Pi/d.compression) + 1) / 2
}

// compress merges neighbouring clusters of all (sorted by mean) while the
// merged cluster spans at most one unit of k; equal means always merge.
// It appends to out, which must not overlap all beyond what it has read.
func (d *digest) compress(all []centroid, out []centroid) []centroid {
	if len(all) == 0 {
		return out
	}
	total := 0.0
	for _, c := range all {
		total += c.weight
	}
	cur := all[0]
	var before float64 // weight left of cur
	limit := total * d.qLimit(0)
	for _, c := range all[1:] {
		if before+cur.weight+c.weight <= limit || c.mean == cur.mean {
			w := cur.weight + c.weight
			cur.mean += (c.mean - cur.mean) * c.weight / w
			cur.weight = w
			continue
		}
		out = append(out, cur)
		before += cur.weight
		limit = total * d.qLimit(before/total)
		cur = c
	}
	return append(out, cur)
}

// merge adds o's values into d; o is not modified apart from its buffer
// being flushed.
func (d *digest) merge(o *digest) {
	o.flush()
	d.flush()
	if o.total == 0 {
		return
	}
	all := make([]centroid, 0, len(d.cs)+len(o.cs))
	i, j := 0, 0
	for i < len(d.cs) && j < len(o.cs) {
		if o.cs[j].mean < d.cs[i].mean {
			all = append(all, o.cs[j])
			j++
		} else {
			all = append(all, d.cs[i])
			i++
		}
	}
	all = append(append(all, d.cs[i:]...), o.cs[j:]...)
	d.total += o.total
	d.min, d.max = min(d.min, o.min), max(d.max, o.max)
	d.cs = d.compress(all, make([]centroid, 0, len(all)))
}

func (d *digest) count() float64 {
	d.flush()
	return d.total
}

// quantile estimates the p-quantile by linear interpolation between the
// cluster centres, anchored at the exact minimum and maximum.
func (d *digest) quantile(p float64) float64 {
	d.flush()
	n := len(d.cs)
	switch {
	case n == 0:
		return math.NaN()
	case n == 1 || d.min == d.max:
		return d.cs[0].mean
	}
	idx := p * d.total
	first, last := d.cs[0], d.cs[n-1]
	if idx <= first.weight/2 {
		return d.min + (first.mean-d.min)*idx/(first.weight/2)
	}
	if idx >= d.total-last.weight/2 {
		return last.mean + (d.max-last.mean)*(idx-(d.total-last.weight/2))/(last.weight/2)
	}
	centre := first.weight / 2
	for i := 0; i < n-1; i++ {
		next := centre + (d.cs[i].weight+d.cs[i+1].weight)/2
		if idx < next {
			return d.cs[i].mean + (d.cs[i+1].mean-d.cs[i].mean)*(idx-centre)/(next-centre)
		}
		centre = next
	}
	return last.mean
}

// cdf estimates the fraction of values ≤ v (the inverse of quantile).
func (d *digest) cdf(v float64) float64 {
	d.flush()
	n := len(d.cs)
	switch {
	case n == 0:
		return math.NaN()
	case v < d.min:
		return 0
	case v >= d.max:
		return 1
	}
	first, last := d.cs[0], d.cs[n-1]
	if v < first.mean {
		return (v - d.min) / (first.mean - d.min) * first.weight / 2 / d.total
	}
	if v >= last.mean {
		return (d.total - last.weight/2 + (v-last.mean)/(d.max-last.mean)*last.weight/2) / d.total
	}
	centre := first.weight / 2
	for i := 0; i < n-1; i++ {
		next := centre + (d.cs[i].weight+d.cs[i+1].weight)/2
		if v < d.cs[i+1].mean {
			return (centre + (v-d.cs[i].mean)/(d.cs[i+1].mean-d.cs[i].mean)*(next-centre)) / d.total
		}
		centre = next
	}
	return 1
}

// digestMagic starts the binary encoding.
const digestMagic = "TD1\x00"

// marshal encodes the digest: magic, compression, min and max (float64
// big-endian), the cluster count (uvarint), then each cluster's mean
// (float64 big-endian) and weight (uvarint).
func (d *digest) marshal() ([]byte, error) {
	d.flush()
	b := make([]byte, 0, 32+len(d.cs)*12)
	b = append(b, digestMagic...)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(d.compression))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(d.min))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(d.max))
	b = binary.AppendUvarint(b, uint64(len(d.cs)))
	for _, c := range d.cs {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(c.mean))
		b = binary.AppendUvarint(b, uint64(c.weight))
	}
	return b, nil
}

var errDigest = errors.New("invalid t-digest encoding")

// unmarshal restores a digest encoded by marshal.
func (d *digest) unmarshal(b []byte) error {
	if len(b) < len(digestMagic)+24 || string(b[:len(digestMagic)]) != digestMagic {
		return fmt.Errorf("%w: bad header", errDigest)
	}
	b = b[len(digestMagic):]
	comp := math.Float64frombits(binary.BigEndian.Uint64(b))
	lo := math.Float64frombits(binary.BigEndian.Uint64(b[8:]))
	hi := math.Float64frombits(binary.BigEndian.Uint64(b[16:]))
	b = b[24:]
	if !(comp >= 1 && comp <= 1e6) {
		return fmt.Errorf("%w: compression %v", errDigest, comp)
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return fmt.Errorf("%w: cluster count", errDigest)
	}
	b = b[k:]
	cs := make([]centroid, 0, n)
	var total float64
	for i := uint64(0); i < n; i++ {
		if len(b) < 9 {
			return fmt.Errorf("%w: truncated", errDigest)
		}
		m := math.Float64frombits(binary.BigEndian.Uint64(b))
		w, k := binary.Uvarint(b[8:])
		if k <= 0 || w == 0 || w > 1<<53 || math.IsNaN(m) || math.IsInf(m, 0) || m < lo || m > hi ||
			len(cs) > 0 && m < cs[len(cs)-1].mean {
			return fmt.Errorf("%w: cluster %d", errDigest, i)
		}
		b = b[8+k:]
		cs = append(cs, centroid{m, float64(w)})
		total += float64(w)
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errDigest, len(b))
	}
	if n == 0 {
		lo, hi = math.Inf(1), math.Inf(-1)
	}
	*d = digest{compression: comp, cs: cs, total: total, min: lo, max: hi}
	return nil
}
