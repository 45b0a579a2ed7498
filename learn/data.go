package learn

import (
	"errors"
	"fmt"
	"sort"
)

// Sentinel errors. Errors returned by this package wrap one of them, so
// callers can branch with errors.Is and map them to their own codes.
var (
	// ErrNoData reports an empty data set, split or evaluation.
	ErrNoData = errors.New("no data")
	// ErrUnknownColumn reports a CSV header that lacks a required or named column.
	ErrUnknownColumn = errors.New("unknown column")
	// ErrBadValue reports a field that does not parse (non-numeric, NaN, Inf).
	ErrBadValue = errors.New("bad value")
	// ErrDuplicate reports a repeated (user, item) pair under DuplicateError.
	ErrDuplicate = errors.New("duplicate interaction")
	// ErrInvalidParam reports a learner, split or evaluation parameter that is
	// unknown or out of range.
	ErrInvalidParam = errors.New("invalid parameter")
	// ErrBadModel reports bytes that are not a model this package wrote.
	ErrBadModel = errors.New("bad model encoding")
)

// IDMap is a dense, two-way mapping between external ids (strings) and int32
// indices 0..Len()-1 in order of first appearance. The zero value is an
// empty map ready to use. It is not safe for concurrent mutation.
type IDMap struct {
	ids   []string
	index map[string]int32
}

// NewIDMap returns a map holding ids in order; duplicates keep their first index.
func NewIDMap(ids ...string) *IDMap {
	m := &IDMap{}
	for _, id := range ids {
		m.Add(id)
	}
	return m
}

// Add returns the index of id, assigning the next free index if it is new.
func (m *IDMap) Add(id string) int32 {
	if i, ok := m.index[id]; ok {
		return i
	}
	if m.index == nil {
		m.index = make(map[string]int32)
	}
	i := int32(len(m.ids))
	m.ids = append(m.ids, id)
	m.index[id] = i
	return i
}

// Index returns the index of id and whether it is known.
func (m *IDMap) Index(id string) (int32, bool) {
	i, ok := m.index[id]
	return i, ok
}

// ID returns the external id of index i. It panics if i is out of range.
func (m *IDMap) ID(i int32) string { return m.ids[i] }

// Len returns the number of ids.
func (m *IDMap) Len() int {
	if m == nil {
		return 0
	}
	return len(m.ids)
}

// IDs returns the ids in index order. The caller must not modify the slice.
func (m *IDMap) IDs() []string { return m.ids }

// Interaction is one observed (user, item) event: an explicit rating or, for
// implicit feedback, a strength (1 when the source has no rating column).
// Time is in Unix seconds (0 when unknown).
type Interaction struct {
	User   int32
	Item   int32
	Rating float32
	Time   int64
}

// Interactions is a set of interactions with the id maps of its users and
// items. Splits share the maps of their parent, so a test row's indices mean
// the same as a training row's; a map may therefore hold ids that have no row
// in a given split.
type Interactions struct {
	Users *IDMap
	Items *IDMap
	Rows  []Interaction
}

// NewInteractions returns an empty set with fresh id maps.
func NewInteractions() *Interactions {
	return &Interactions{Users: &IDMap{}, Items: &IDMap{}}
}

// Add appends one interaction by external ids.
func (d *Interactions) Add(user, item string, rating float32, time int64) {
	d.Rows = append(d.Rows, Interaction{User: d.Users.Add(user), Item: d.Items.Add(item), Rating: rating, Time: time})
}

// Len returns the number of rows.
func (d *Interactions) Len() int { return len(d.Rows) }

// withRows returns a set sharing d's id maps with the given rows.
func (d *Interactions) withRows(rows []Interaction) *Interactions {
	return &Interactions{Users: d.Users, Items: d.Items, Rows: rows}
}

// DuplicatePolicy says what to do when the same (user, item) pair occurs
// more than once.
type DuplicatePolicy string

// Duplicate policies. The zero value behaves as DuplicateLast.
const (
	// DuplicateLast keeps the row that occurs last.
	DuplicateLast DuplicatePolicy = "last"
	// DuplicateMean keeps one row with the mean rating and the latest time.
	DuplicateMean DuplicatePolicy = "mean"
	// DuplicateError fails with ErrDuplicate naming both lines.
	DuplicateError DuplicatePolicy = "error"
)

// Dedup applies policy to repeated (user, item) pairs in place, keeping the
// first occurrence's position. Errors wrap ErrDuplicate (policy
// DuplicateError, naming both row numbers) or ErrInvalidParam.
func (d *Interactions) Dedup(policy DuplicatePolicy) error {
	_, err := d.dedup(policy, nil)
	return err
}

// dedup is Dedup returning d; lines, when not nil, gives the source line of
// each row for error messages (else 1-based row numbers are used).
func (d *Interactions) dedup(policy DuplicatePolicy, lines []int) (*Interactions, error) {
	switch policy {
	case "", DuplicateLast, DuplicateMean, DuplicateError:
	default:
		return nil, fmt.Errorf("duplicates %q: want last, mean or error: %w", policy, ErrInvalidParam)
	}
	type key struct{ u, i int32 }
	first := make(map[key]int, len(d.Rows))
	count := map[int]int{}
	out := make([]Interaction, 0, len(d.Rows))
	for n, r := range d.Rows {
		k := key{r.User, r.Item}
		at, seen := first[k]
		if !seen {
			first[k] = len(out)
			out = append(out, r)
			continue
		}
		switch policy {
		case DuplicateError:
			// Under this policy no duplicate was kept before, so the
			// output position of the first occurrence is its input position.
			l1, l2 := at+1, n+1
			if lines != nil {
				l1, l2 = lines[at], lines[n]
			}
			return nil, fmt.Errorf("user %q item %q on lines %d and %d: %w",
				d.Users.ID(r.User), d.Items.ID(r.Item), l1, l2, ErrDuplicate)
		case DuplicateMean:
			c := count[at]
			if c == 0 {
				c = 1
			}
			o := &out[at]
			o.Rating = float32((float64(o.Rating)*float64(c) + float64(r.Rating)) / float64(c+1))
			o.Time = max(o.Time, r.Time)
			count[at] = c + 1
		default:
			out[at].Rating, out[at].Time = r.Rating, r.Time
		}
	}
	d.Rows = out
	return d, nil
}

// csr is a compressed sparse row view: for row r, cols[ptr[r]:ptr[r+1]] are
// the column indices (ascending) and vals the values.
type csr struct {
	ptr  []int
	cols []int32
	vals []float32
}

// buildCSR groups rows by user (byItem false) or by item (byItem true) with
// n rows in the result. Column indices within a row are sorted.
func buildCSR(rows []Interaction, n int, byItem bool) csr {
	c := csr{ptr: make([]int, n+1), cols: make([]int32, len(rows)), vals: make([]float32, len(rows))}
	for _, r := range rows {
		k := r.User
		if byItem {
			k = r.Item
		}
		c.ptr[k+1]++
	}
	for i := 0; i < n; i++ {
		c.ptr[i+1] += c.ptr[i]
	}
	next := append([]int(nil), c.ptr[:n]...)
	for _, r := range rows {
		k, col := r.User, r.Item
		if byItem {
			k, col = r.Item, r.User
		}
		c.cols[next[k]] = col
		c.vals[next[k]] = r.Rating
		next[k]++
	}
	for i := 0; i < n; i++ {
		lo, hi := c.ptr[i], c.ptr[i+1]
		if !sort.SliceIsSorted(c.cols[lo:hi], func(a, b int) bool { return c.cols[lo+a] < c.cols[lo+b] }) {
			sort.Sort(csrRow{c.cols[lo:hi], c.vals[lo:hi]})
		}
	}
	return c
}

type csrRow struct {
	cols []int32
	vals []float32
}

func (r csrRow) Len() int           { return len(r.cols) }
func (r csrRow) Less(a, b int) bool { return r.cols[a] < r.cols[b] }
func (r csrRow) Swap(a, b int) {
	r.cols[a], r.cols[b] = r.cols[b], r.cols[a]
	r.vals[a], r.vals[b] = r.vals[b], r.vals[a]
}

// compact re-indexes the users and items that occur in d.Rows densely, as a
// model sees them: it returns the rows with new indices and the ids in new
// index order.
func compact(d *Interactions) (rows []Interaction, users, items []string) {
	um := make([]int32, d.Users.Len())
	im := make([]int32, d.Items.Len())
	for i := range um {
		um[i] = -1
	}
	for i := range im {
		im[i] = -1
	}
	rows = make([]Interaction, len(d.Rows))
	for n, r := range d.Rows {
		if um[r.User] < 0 {
			um[r.User] = int32(len(users))
			users = append(users, d.Users.ID(r.User))
		}
		if im[r.Item] < 0 {
			im[r.Item] = int32(len(items))
			items = append(items, d.Items.ID(r.Item))
		}
		rows[n] = Interaction{User: um[r.User], Item: im[r.Item], Rating: r.Rating, Time: r.Time}
	}
	return rows, users, items
}
