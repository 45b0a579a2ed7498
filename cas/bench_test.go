package cas_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/loopml/loopml/cas"
)

// BenchmarkChunker measures content-defined chunking alone, in memory.
func BenchmarkChunker(b *testing.B) {
	data := randBytes(40, 64<<20)
	b.SetBytes(int64(len(data)))
	c, _ := cas.NewChunker(nil, cas.ChunkParams{})
	for b.Loop() {
		c.Reset(bytes.NewReader(data))
		for {
			if _, err := c.Next(); err == io.EOF {
				break
			}
		}
	}
}

// BenchmarkSum measures BLAKE3 on 8 MiB buffers.
func BenchmarkSum(b *testing.B) {
	data := randBytes(41, 8<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		cas.Sum(data)
	}
}
