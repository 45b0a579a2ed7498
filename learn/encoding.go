package learn

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Model encoding: every model starts with modelMagic, a uint16 format
// version and its kind as a length-prefixed string, then the shared base
// (ids, seen items, popularity fallback) and its own payload. Integers are
// little-endian; lengths are uint32; floats are IEEE 754 bits.
const (
	modelMagic   = "LOOPMLRS"
	modelVersion = 1
	// maxLen bounds any decoded length so corrupt input cannot make the
	// decoder allocate without limit (2^28 elements).
	maxLen = 1 << 28
)

type encoder struct{ b []byte }

func (e *encoder) u32(v uint32)  { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64)  { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) f64(v float64) { e.u64(math.Float64bits(v)) }
func (e *encoder) str(s string)  { e.u32(uint32(len(s))); e.b = append(e.b, s...) }
func (e *encoder) strs(s []string) {
	e.u32(uint32(len(s)))
	for _, v := range s {
		e.str(v)
	}
}
func (e *encoder) f64s(v []float64) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.f64(x)
	}
}
func (e *encoder) i32s(v []int32) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.u32(uint32(x))
	}
}
func (e *encoder) ints(v []int) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.u64(uint64(x))
	}
}

// decoder reads what encoder wrote; the first failure sticks in err and
// every later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format+": %w", append(a, ErrBadModel)...)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("truncated: want %d bytes, have %d", n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

// length reads a length and checks that at least elem bytes per element remain.
func (d *decoder) length(elem int) int {
	n := d.u32()
	if d.err != nil {
		return 0
	}
	if n > maxLen || int(n)*elem > len(d.b) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) str() string { return string(d.take(d.length(1))) }

func (d *decoder) strs() []string {
	n := d.length(4)
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *decoder) f64s() []float64 {
	n := d.length(8)
	out := make([]float64, n)
	for i := range out {
		out[i] = d.f64()
	}
	return out
}

func (d *decoder) i32s() []int32 {
	n := d.length(4)
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(d.u32())
	}
	return out
}

func (d *decoder) ints() []int {
	n := d.length(8)
	out := make([]int, n)
	for i := range out {
		out[i] = int(d.u64())
	}
	return out
}

// header writes the magic, version and kind.
func (e *encoder) header(kind string) {
	e.b = append(e.b, modelMagic...)
	e.b = binary.LittleEndian.AppendUint16(e.b, modelVersion)
	e.str(kind)
}

// readHeader checks magic and version and returns the kind.
func readHeader(b []byte) (kind string, d *decoder) {
	d = &decoder{b: b}
	if string(d.take(len(modelMagic))) != modelMagic {
		d.err = nil
		d.fail("missing magic %q", modelMagic)
		return "", d
	}
	v := d.take(2)
	if d.err == nil && binary.LittleEndian.Uint16(v) != modelVersion {
		d.fail("format version %d, want %d", binary.LittleEndian.Uint16(v), modelVersion)
	}
	return d.str(), d
}

// UnmarshalModel decodes a model written by any learner's MarshalBinary.
// Errors wrap ErrBadModel.
func UnmarshalModel(b []byte) (Model, error) {
	kind, d := readHeader(b)
	if d.err != nil {
		return nil, d.err
	}
	var m Model
	switch kind {
	case KindPopularity:
		m = &PopularityModel{}
	case KindMF:
		m = &MFModel{}
	case KindImplicitALS:
		m = &ImplicitALSModel{}
	default:
		return nil, fmt.Errorf("unknown model kind %q: %w", kind, ErrBadModel)
	}
	if err := m.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return m, nil
}
