package bench

import (
	"io"
	"math"
	"math/rand/v2"
	"strconv"
)

// baseTimestamp is the epoch-ms timestamp of step 0 of every generated
// metric (2026-01-01T00:00:00Z); step s is logged at baseTimestamp+s so
// that no time.Now call sits in the hot loop.
const baseTimestamp int64 = 1767225600000

// metricValue returns a realistic, deterministic value for a training
// metric: a decaying loss-like curve per key with a little noise.
func metricValue(key int, step int64) float64 {
	noise := uniform(key, step) - 0.5
	scale := 1 + float64(key)/10
	return scale*math.Exp(-float64(step)/20000) + 0.01*noise
}

// uniform returns a deterministic pseudo-random number in [0, 1) for
// (key, i): splitmix64 of the pair.
func uniform(key int, i int64) float64 {
	x := uint64(i)*0x9E3779B97F4A7C15 + uint64(key)*0xBF58476D1CE4E5B9
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return float64(x>>11) / float64(1<<53)
}

// metricKeyPrefixes are the keys m0..m9 pre-encoded as JSON object prefixes.
var metricKeyPrefixes = func() [][]byte {
	out := make([][]byte, MetricKeys)
	for k := range out {
		out[k] = []byte(`{"key":"m` + strconv.Itoa(k) + `","value":`)
	}
	return out
}()

// appendLogBatch appends a runs/log-batch request body to buf: steps
// consecutive steps from firstStep, each with keys metrics m0..m(keys-1).
func appendLogBatch(buf []byte, runID string, keys int, firstStep int64, steps int) []byte {
	buf = append(buf, `{"run_id":"`...)
	buf = append(buf, runID...)
	buf = append(buf, `","metrics":[`...)
	first := true
	for s := firstStep; s < firstStep+int64(steps); s++ {
		for k := 0; k < keys; k++ {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = append(buf, metricKeyPrefixes[k%MetricKeys]...)
			buf = strconv.AppendFloat(buf, metricValue(k, s), 'g', -1, 64)
			buf = append(buf, `,"timestamp":`...)
			buf = strconv.AppendInt(buf, baseTimestamp+s, 10)
			buf = append(buf, `,"step":`...)
			buf = strconv.AppendInt(buf, s, 10)
			buf = append(buf, '}')
		}
	}
	return append(buf, "]}"...)
}

// appendSingleKeyBatch appends a log-batch body with count points of one
// metric key starting at firstStep.
func appendSingleKeyBatch(buf []byte, runID, key string, firstStep int64, count int) []byte {
	buf = append(buf, `{"run_id":"`...)
	buf = append(buf, runID...)
	buf = append(buf, `","metrics":[`...)
	for i := 0; i < count; i++ {
		s := firstStep + int64(i)
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"key":"`...)
		buf = append(buf, key...)
		buf = append(buf, `","value":`...)
		buf = strconv.AppendFloat(buf, metricValue(0, s), 'g', -1, 64)
		buf = append(buf, `,"timestamp":`...)
		buf = strconv.AppendInt(buf, baseTimestamp+s, 10)
		buf = append(buf, `,"step":`...)
		buf = strconv.AppendInt(buf, s, 10)
		buf = append(buf, '}')
	}
	return append(buf, "]}"...)
}

// appendLogMetric appends a runs/log-metric request body to buf.
func appendLogMetric(buf []byte, runID string, step int64) []byte {
	buf = append(buf, `{"run_id":"`...)
	buf = append(buf, runID...)
	buf = append(buf, `","key":"loss","value":`...)
	buf = strconv.AppendFloat(buf, metricValue(0, step), 'g', -1, 64)
	buf = append(buf, `,"timestamp":`...)
	buf = strconv.AppendInt(buf, baseTimestamp+step, 10)
	buf = append(buf, `,"step":`...)
	buf = strconv.AppendInt(buf, step, 10)
	return append(buf, '}')
}

// patternBlockSize is deliberately not a power of two, so the repeated
// block does not line up with the transport's buffer sizes and a dropped or
// duplicated chunk changes the checksum.
const patternBlockSize = 1<<20 + 7

var patternBlock = func() []byte {
	b := make([]byte, patternBlockSize)
	r := rand.New(rand.NewPCG(42, 7))
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}()

// patternReader yields size deterministic pseudo-random bytes without
// holding more than one shared block in memory, so an artifact of any size
// can be uploaded with no temporary file.
type patternReader struct {
	size int64
	off  int64
}

func newPatternReader(size int64) *patternReader { return &patternReader{size: size} }

// Read implements io.Reader.
func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if rem := r.size - r.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n := 0
	for n < len(p) {
		i := int((r.off + int64(n)) % patternBlockSize)
		n += copy(p[n:], patternBlock[i:])
	}
	r.off += int64(n)
	return n, nil
}
