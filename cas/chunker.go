package cas

import (
	"io"
	"math/bits"

	"github.com/loopml/loopml"
)

// Default chunking parameters. A file is cut at content-defined positions
// into chunks of at least DefaultMinChunk bytes (except the last), about
// DefaultAvgChunk bytes on average and at most DefaultMaxChunk bytes.
// Changing them changes every chunk boundary, so objects stored with other
// parameters no longer deduplicate; treat them as part of the format.
const (
	DefaultMinChunk = 512 << 10
	DefaultAvgChunk = 2 << 20
	DefaultMaxChunk = 8 << 20
)

// ChunkParams are the sizes of a Chunker. The zero value means the
// defaults (512 KiB / 2 MiB / 8 MiB).
type ChunkParams struct {
	Min int // minimum chunk size in bytes; the last chunk of a file may be smaller
	Avg int // target average size, a power of two
	Max int // maximum chunk size in bytes
}

// withDefaults returns p, or the default parameters if p is the zero value.
func (p ChunkParams) withDefaults() ChunkParams {
	if p == (ChunkParams{}) {
		return ChunkParams{Min: DefaultMinChunk, Avg: DefaultAvgChunk, Max: DefaultMaxChunk}
	}
	return p
}

// Validate reports (EINVALID) parameters a Chunker cannot use: they must
// satisfy 1 <= Min <= Avg <= Max <= 1 GiB, Avg a power of two of at least 64.
// The zero value is valid.
func (p ChunkParams) Validate() error {
	p = p.withDefaults()
	switch {
	case p.Min < 1:
		return loopml.Errorf(loopml.EINVALID, "invalid chunk params: Min %d must be at least 1", p.Min)
	case p.Avg < 64 || p.Avg&(p.Avg-1) != 0:
		return loopml.Errorf(loopml.EINVALID, "invalid chunk params: Avg %d must be a power of two of at least 64", p.Avg)
	case p.Min > p.Avg:
		return loopml.Errorf(loopml.EINVALID, "invalid chunk params: Min %d exceeds Avg %d", p.Min, p.Avg)
	case p.Avg > p.Max:
		return loopml.Errorf(loopml.EINVALID, "invalid chunk params: Avg %d exceeds Max %d", p.Avg, p.Max)
	case p.Max > 1<<30:
		return loopml.Errorf(loopml.EINVALID, "invalid chunk params: Max %d exceeds 1 GiB", p.Max)
	}
	return nil
}

// gear is the table of the gear rolling hash: 256 pseudo-random 64-bit
// values from splitmix64 seeded with a fixed constant. It is part of the
// format: changing it moves every chunk boundary.
var gear = func() (t [256]uint64) {
	x := uint64(0x6c6f6f706d6c4344) // "loopmlCD"
	for i := range t {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		t[i] = z ^ z>>31
	}
	return t
}()

// masks returns FastCDC's normalised-chunking masks for avg: a strict mask
// (two more bits than log2(avg)) used before the average size, and a loose
// one (two fewer) after it. The masks take the top bits of the gear hash,
// which depend on the last 64 bytes.
func masks(avg int) (strict, loose uint64) {
	b := bits.TrailingZeros(uint(avg))
	return ^uint64(0) << (64 - (b + 2)), ^uint64(0) << (64 - max(b-2, 1))
}

// cut returns the length of the chunk starting at data[0]. data holds the
// rest of the input, or at least p.Max bytes of it. The result is
// len(data) when len(data) <= p.Min, otherwise in [p.Min+1, p.Max]
// (or len(data) if smaller).
//
// The gear hash h = h<<1 + gear[byte] is tested after every byte from
// p.Min on. The loop advances two bytes per step, computing the hash after
// the second byte directly from h (h<<2 + gear[b0]<<1 + gear[b1]) so that
// the serial dependency is one shift and add per two bytes, and tests the
// intermediate hash off that chain (as FastCDC 2020 does); the cut points
// are exactly those of the byte-by-byte loop.
func cut(data []byte, p ChunkParams, strict, loose uint64) int {
	n := len(data)
	if n <= p.Min {
		return n
	}
	if n > p.Max {
		n = p.Max
	}
	normal := min(p.Avg, n)
	var h uint64
	i := p.Min
	for ; i+2 <= normal; i += 2 {
		g0, g1 := gear[data[i]], gear[data[i+1]]
		if (h<<1+g0)&strict == 0 {
			return i + 1
		}
		h = h<<2 + (g0<<1 + g1)
		if h&strict == 0 {
			return i + 2
		}
	}
	if i < normal {
		h = h<<1 + gear[data[i]]
		i++
		if h&strict == 0 {
			return i
		}
	}
	for ; i+2 <= n; i += 2 {
		g0, g1 := gear[data[i]], gear[data[i+1]]
		if (h<<1+g0)&loose == 0 {
			return i + 1
		}
		h = h<<2 + (g0<<1 + g1)
		if h&loose == 0 {
			return i + 2
		}
	}
	if i < n {
		h = h<<1 + gear[data[i]]
		if h&loose == 0 {
			return i + 1
		}
	}
	return n
}

// Chunker splits a stream into content-defined chunks with FastCDC: a gear
// rolling hash is tested against a strict mask between Min and Avg bytes
// and a loose mask between Avg and Max, which keeps chunk sizes close to Avg.
// Because a cut depends only on the bytes since the previous cut, an edit
// moves only the boundaries near it and chunks after the next unchanged cut
// are identical. Memory is bounded by 2×Max whatever the stream length. A
// Chunker is not safe for concurrent use.
type Chunker struct {
	r             io.Reader
	p             ChunkParams
	strict, loose uint64
	buf           []byte
	start, end    int
	eof           bool
	err           error
}

// NewChunker returns a Chunker reading r with parameters p (zero value:
// defaults). It returns EINVALID if p is invalid.
func NewChunker(r io.Reader, p ChunkParams) (*Chunker, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = p.withDefaults()
	c := &Chunker{p: p}
	c.strict, c.loose = masks(p.Avg)
	c.Reset(r)
	return c, nil
}

// Reset makes c read r from the start, keeping its buffer.
func (c *Chunker) Reset(r io.Reader) {
	c.r, c.start, c.end, c.eof, c.err = r, 0, 0, false, nil
}

// Next returns the next chunk. The slice is valid only until the next call
// to Next or Reset. At the end of the stream it returns io.EOF; a read error
// is returned as is, after the chunks before it.
func (c *Chunker) Next() ([]byte, error) {
	if !c.eof && c.end-c.start < c.p.Max {
		c.fill()
	}
	if c.start == c.end {
		if c.err != nil {
			return nil, c.err
		}
		return nil, io.EOF
	}
	if c.err != nil && c.end-c.start < c.p.Max {
		// Do not cut short of Max at a read error: the rest is unknown.
		return nil, c.err
	}
	n := cut(c.buf[c.start:c.end], c.p, c.strict, c.loose)
	chunk := c.buf[c.start : c.start+n]
	c.start += n
	return chunk, nil
}

// Done reports whether the stream ended and every chunk has been returned,
// so that a caller can tell after the first Next that a file is one chunk.
func (c *Chunker) Done() bool { return c.eof && c.err == nil && c.start == c.end }

// fill moves the unread bytes to the front and reads until the buffer is
// full or the stream ends. The buffer starts at 64 KiB and doubles up to
// 2×Max only as a stream needs it, so small files cost little memory.
func (c *Chunker) fill() {
	if c.buf == nil {
		c.buf = make([]byte, min(64<<10, 2*c.p.Max))
	}
	if c.start > 0 {
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	for !c.eof {
		if c.end == len(c.buf) {
			if len(c.buf) >= 2*c.p.Max {
				return
			}
			nb := make([]byte, min(2*len(c.buf), 2*c.p.Max))
			copy(nb, c.buf[:c.end])
			c.buf = nb
		}
		n, err := c.r.Read(c.buf[c.end:])
		c.end += n
		if err == io.EOF {
			c.eof = true
		} else if err != nil {
			c.eof, c.err = true, err
		}
	}
}
