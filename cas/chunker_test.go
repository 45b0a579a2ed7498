package cas_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/cas"
)

// randBytes returns n deterministic pseudo-random bytes.
func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	_, _ = r.Read(b)
	return b
}

// chunkAll splits data with params p.
func chunkAll(t testing.TB, data []byte, p cas.ChunkParams) [][]byte {
	t.Helper()
	c, err := cas.NewChunker(bytes.NewReader(data), p)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		ch, err := c.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), ch...))
	}
}

var small = cas.ChunkParams{Min: 1 << 10, Avg: 4 << 10, Max: 16 << 10}

func TestChunkParamsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    cas.ChunkParams
		ok   bool
	}{
		{"zero means defaults", cas.ChunkParams{}, true},
		{"small", small, true},
		{"min zero", cas.ChunkParams{Min: 0, Avg: 64, Max: 128}, false},
		{"avg not power of two", cas.ChunkParams{Min: 10, Avg: 100, Max: 200}, false},
		{"min above avg", cas.ChunkParams{Min: 128, Avg: 64, Max: 256}, false},
		{"avg above max", cas.ChunkParams{Min: 16, Avg: 128, Max: 64}, false},
		{"max too large", cas.ChunkParams{Min: 16, Avg: 128, Max: 2 << 30}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("code = %q, want %q", loopml.ErrorCode(err), loopml.EINVALID)
			}
		})
	}
}

func TestChunkerSizes(t *testing.T) {
	data := randBytes(1, 4<<20)
	chunks := chunkAll(t, data, small)
	if got := bytes.Join(chunks, nil); !bytes.Equal(got, data) {
		t.Fatal("concatenated chunks differ from the input")
	}
	var total int
	for i, c := range chunks {
		if len(c) > small.Max || (i < len(chunks)-1 && len(c) < small.Min) {
			t.Fatalf("chunk %d has %d bytes, want within [%d, %d]", i, len(c), small.Min, small.Max)
		}
		total += len(c)
	}
	avg := total / len(chunks)
	if avg < small.Avg/2 || avg > small.Avg*2 {
		t.Errorf("average chunk size %d, want near %d", avg, small.Avg)
	}
}

func TestChunkerDefaultsAverage(t *testing.T) {
	data := randBytes(2, 64<<20)
	chunks := chunkAll(t, data, cas.ChunkParams{})
	avg := len(data) / len(chunks)
	if avg < cas.DefaultAvgChunk/2 || avg > cas.DefaultAvgChunk*2 {
		t.Errorf("average chunk size %d over %d chunks, want near %d", avg, len(chunks), cas.DefaultAvgChunk)
	}
}

// TestChunkerLocality checks the point of content-defined chunking: after
// an insertion, only chunks near it change.
func TestChunkerLocality(t *testing.T) {
	data := randBytes(3, 1<<20)
	for _, ins := range []string{"x", "inserted bytes", "odd insert"} {
		edited := append(append(append([]byte(nil), data[:500_000]...), ins...), data[500_000:]...)
		if fresh, total := changedChunks(t, data, edited); fresh > 3 {
			t.Errorf("%d of %d chunks changed after inserting %q, want at most 3", fresh, total, ins)
		}
	}
}

// changedChunks counts the chunks of b that are not chunks of a.
func changedChunks(t *testing.T, data, edited []byte) (fresh, total int) {
	a, b := chunkAll(t, data, small), chunkAll(t, edited, small)
	set := make(map[string]bool)
	for _, c := range a {
		set[string(c)] = true
	}
	for _, c := range b {
		if !set[string(c)] {
			fresh++
		}
	}
	return fresh, len(b)
}

// TestChunkerDeterministicAcrossReads checks that boundaries do not depend
// on how the reader splits its reads.
func TestChunkerDeterministicAcrossReads(t *testing.T) {
	data := randBytes(4, 300_000)
	want := chunkAll(t, data, small)
	c, err := cas.NewChunker(iotestOneByte{bytes.NewReader(data)}, small)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		ch, err := c.Next()
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("got %d chunks, want %d", i, len(want))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ch, want[i]) {
			t.Fatalf("chunk %d differs", i)
		}
	}
}

type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestChunkerReadError(t *testing.T) {
	boom := errors.New("boom")
	c, err := cas.NewChunker(io.MultiReader(bytes.NewReader(randBytes(5, 10_000)), errReader{boom}), small)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := c.Next()
		if err == nil {
			continue
		}
		if !errors.Is(err, boom) {
			t.Fatalf("Next() error = %v, want %v", err, boom)
		}
		return
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func FuzzChunker(f *testing.F) {
	f.Add([]byte{}, uint16(64), uint8(7), uint16(512))
	f.Add(randBytes(6, 5000), uint16(100), uint8(8), uint16(1000))
	f.Add(bytes.Repeat([]byte{0}, 4000), uint16(1), uint8(6), uint16(64))
	f.Fuzz(func(t *testing.T, data []byte, mn uint16, avgBits uint8, mx uint16) {
		p := cas.ChunkParams{Min: int(mn), Avg: 1 << (avgBits % 16), Max: int(mx)}
		c, err := cas.NewChunker(bytes.NewReader(data), p)
		if err != nil {
			if p.Validate() == nil {
				t.Fatalf("NewChunker(%+v) = %v, but Validate accepts it", p, err)
			}
			return
		}
		var got []byte
		var sizes []int
		for {
			ch, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ch...)
			sizes = append(sizes, len(ch))
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("concatenated chunks differ from the input")
		}
		for i, n := range sizes {
			if n == 0 || n > p.Max || (i < len(sizes)-1 && n < p.Min) {
				t.Fatalf("chunk %d of %d has %d bytes, params %+v", i, len(sizes), n, p)
			}
		}
		if want := refChunks(data, p); !reflect.DeepEqual(sizes, want) {
			t.Fatalf("chunk sizes %v differ from the byte-by-byte reference %v", sizes, want)
		}
	})
}

// refCut is the plain byte-by-byte FastCDC loop that the Chunker must
// agree with.
func refChunks(data []byte, p cas.ChunkParams) []int {
	var gear [256]uint64
	x := uint64(0x6c6f6f706d6c4344)
	for i := range gear {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		gear[i] = z ^ z>>31
	}
	b := 0
	for v := p.Avg; v > 1; v >>= 1 {
		b++
	}
	strict, loose := ^uint64(0)<<(64-(b+2)), ^uint64(0)<<(64-max(b-2, 1))
	var sizes []int
	for len(data) > 0 {
		n := len(data)
		if n > p.Min {
			n = min(n, p.Max)
			var h uint64
			for i := p.Min; i < n; i++ {
				h = h<<1 + gear[data[i]]
				mask := loose
				if i < p.Avg {
					mask = strict
				}
				if h&mask == 0 {
					n = i + 1
					break
				}
			}
		}
		sizes = append(sizes, n)
		data = data[n:]
	}
	return sizes
}

func TestChunkerMatchesReference(t *testing.T) {
	for _, p := range []cas.ChunkParams{small, {Min: 63, Avg: 128, Max: 333}, {Min: 1, Avg: 64, Max: 64}, {Min: 64, Avg: 64, Max: 65}} {
		data := randBytes(7, 200_003)
		var got []int
		for _, c := range chunkAll(t, data, p) {
			got = append(got, len(c))
		}
		if want := refChunks(data, p); !reflect.DeepEqual(got, want) {
			t.Fatalf("params %+v: chunk sizes differ from the byte-by-byte reference", p)
		}
	}
}
