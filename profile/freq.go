package profile

import (
	"cmp"
	"slices"
	"strings"

	metro "github.com/dgryski/go-metro"
)

// ValueCount is one value of a column and its (possibly estimated) count.
type ValueCount struct {
	// Value is the value's text.
	Value string `json:"value"`
	// Count is its count: exact while the column's counts are exact, else a
	// Misra–Gries lower bound at most the column's ErrorBound below the
	// true count.
	Count int64 `json:"count"`
}

// hashString is the 64-bit hash of a value: MetroHash64 with seed 1337,
// the hash HyperLogLog's Insert uses, so InsertHash(hashString(s)) equals
// Insert(s) and stored sketches stay mergeable.
func hashString(s string) uint64 {
	return metro.Hash64Str(s, 1337)
}

// slot is an entry of freq's open-addressing table; n == 0 marks it free.
type slot struct {
	h   uint64
	key string
	n   int64
}

// freq counts values exactly while there are at most limit distinct ones,
// then keeps a Misra–Gries summary of between k and 2k counters. It is an
// open-addressing hash table keyed by the value's hash (computed once per
// cell and shared with the HyperLogLog sketch), which is several times
// cheaper than a Go map for the insert-heavy churn of a summary.
//
// Keys are not copied: a key may keep the string it was sliced from (a CSV
// record) alive, which costs at most limit records per column.
type freq struct {
	slots []slot
	spare []slot  // a free table that rehash reuses
	cs    []int64 // reduce's scratch
	used  int
	exact bool
	limit int
	k     int
	// spill, if set, is called with the exact table just before the
	// table turns into a Misra–Gries summary.
	spill func(*freq)
	// errBound is the total amount subtracted from every counter by
	// Misra–Gries reductions: an upper bound on any value's undercount.
	errBound int64
}

func newFreq(limit, k int) *freq {
	return &freq{slots: make([]slot, 16), exact: true, limit: limit, k: k}
}

// find returns the index of s's slot, or of the free slot where it goes.
func (f *freq) find(h uint64, s string) int {
	mask := uint64(len(f.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &f.slots[i]
		if sl.n == 0 || sl.h == h && sl.key == s {
			return int(i)
		}
	}
}

// put adds n to s's counter, creating it if needed, and reports whether it
// was created. It keeps the table at most half full.
func (f *freq) put(h uint64, s string, n int64) bool {
	i := f.find(h, s)
	if f.slots[i].n > 0 {
		f.slots[i].n += n
		return false
	}
	f.slots[i] = slot{h, s, n}
	f.used++
	if 2*f.used > len(f.slots) {
		f.rehash(2 * len(f.slots))
	}
	return true
}

// rehash moves the counters into a table of size slots, dropping those
// with n ≤ 0.
func (f *freq) rehash(size int) {
	old := f.slots
	if cap(f.spare) >= size {
		f.slots = f.spare[:size]
		clear(f.slots)
	} else {
		f.slots = make([]slot, size)
	}
	f.used = 0
	mask := uint64(size - 1)
	for _, sl := range old {
		if sl.n <= 0 {
			continue
		}
		i := sl.h & mask
		for f.slots[i].n != 0 {
			i = (i + 1) & mask
		}
		f.slots[i] = sl
		f.used++
	}
	f.spare = old
}

// each calls fn for every counter.
func (f *freq) each(fn func(h uint64, s string, n int64)) {
	for _, sl := range f.slots {
		if sl.n > 0 {
			fn(sl.h, sl.key, sl.n)
		}
	}
}

// count returns s's counter (0 if none).
func (f *freq) count(h uint64, s string) int64 {
	return f.slots[f.find(h, s)].n
}

// add counts one occurrence of s (hash h) and reports whether s had no
// counter.
func (f *freq) add(h uint64, s string) bool {
	if !f.put(h, s, 1) {
		return false
	}
	if f.exact {
		if f.used <= f.limit {
			return true
		}
		f.exact = false
		if f.spill != nil {
			f.spill(f)
		}
		f.reduce()
		return true
	}
	// Misra–Gries in batches: the summary grows to 2k counters, then
	// reduce subtracts the (k+1)-th largest count from all of them, which
	// removes at least (k+1)·d from the total for an error increase of d,
	// so the bound N/(k+1) holds at amortised O(log k) per value.
	if f.used > 2*f.k {
		f.reduce()
	}
	return true
}

// reduce brings the summary back to at most k counters by subtracting the
// (k+1)-th largest count from all counters (Agarwal et al.'s merge of
// Misra–Gries summaries), which keeps the error at most N/(k+1).
func (f *freq) reduce() {
	if f.used <= f.k {
		return
	}
	cs := f.cs[:0]
	f.each(func(_ uint64, _ string, n int64) { cs = append(cs, n) })
	slices.Sort(cs)
	d := cs[len(cs)-1-f.k] // the (k+1)-th largest
	f.cs = cs
	f.errBound += d
	for i := range f.slots {
		if f.slots[i].n > 0 {
			f.slots[i].n -= d
		}
	}
	size := 16
	for size < 4*f.k+2 {
		size *= 2
	}
	f.rehash(size)
}

// merge adds o into f.
func (f *freq) merge(o *freq) {
	o.each(func(h uint64, s string, n int64) { f.put(h, s, n) })
	f.errBound += o.errBound
	if !o.exact || f.used > f.limit {
		f.exact = false
	}
	if !f.exact {
		f.reduce()
	}
}

// sorted returns the counters by decreasing count, then by value.
func (f *freq) sorted() []ValueCount {
	out := make([]ValueCount, 0, f.used)
	f.each(func(_ uint64, s string, n int64) { out = append(out, ValueCount{s, n}) })
	slices.SortFunc(out, func(a, b ValueCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out
}
