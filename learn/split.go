package learn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// SplitMethod names a way of dividing interactions into train and test.
type SplitMethod string

// Split methods.
const (
	// SplitRandom puts each row in test with probability TestFraction,
	// shuffled by Seed (exactly round(TestFraction·rows) test rows).
	SplitRandom SplitMethod = "random"
	// SplitUserTime puts each user's latest TestFraction of rows (by time,
	// then file order) in test, keeping at least one row in train.
	SplitUserTime SplitMethod = "user-time"
	// SplitTime puts every row at or after a global time cut in test; the
	// cut is Cut when set, else the (1-TestFraction) quantile of row times.
	SplitTime SplitMethod = "time"
)

// SplitOptions configures Split. The zero value is a random 80/20 split with
// seed 0.
type SplitOptions struct {
	Method       SplitMethod `json:"method"`
	TestFraction float64     `json:"test_fraction"` // in (0, 1); 0 means 0.2
	Seed         uint64      `json:"seed"`          // SplitRandom only
	Cut          int64       `json:"cut,omitempty"` // SplitTime only: Unix seconds; 0 means by TestFraction
}

// Split divides d into train and test sets that share d's id maps. Errors
// wrap ErrInvalidParam (unknown method, fraction outside (0,1)) or ErrNoData
// (empty input, or a split that leaves one side empty).
func Split(d *Interactions, o SplitOptions) (train, test *Interactions, err error) {
	if d == nil || len(d.Rows) == 0 {
		return nil, nil, fmt.Errorf("split: %w", ErrNoData)
	}
	f := o.TestFraction
	if f == 0 {
		f = 0.2
	}
	if !(f > 0 && f < 1) {
		return nil, nil, fmt.Errorf("split test_fraction %v: want a value in (0, 1): %w", o.TestFraction, ErrInvalidParam)
	}
	var tr, te []Interaction
	switch o.Method {
	case "", SplitRandom:
		tr, te = splitRandom(d.Rows, f, o.Seed)
	case SplitUserTime:
		tr, te = splitUserTime(d.Rows, f)
	case SplitTime:
		tr, te = splitTime(d.Rows, f, o.Cut)
	default:
		return nil, nil, fmt.Errorf("split method %q: want random, user-time or time: %w", o.Method, ErrInvalidParam)
	}
	if len(tr) == 0 || len(te) == 0 {
		return nil, nil, fmt.Errorf("split %s left %d train and %d test rows: %w", o.Method, len(tr), len(te), ErrNoData)
	}
	return d.withRows(tr), d.withRows(te), nil
}

func splitRandom(rows []Interaction, f float64, seed uint64) (tr, te []Interaction) {
	perm := rand.New(rand.NewPCG(seed, 0x6c6f6f706d6c)).Perm(len(rows))
	nTest := int(math.Round(f * float64(len(rows))))
	isTest := make([]bool, len(rows))
	for _, p := range perm[:nTest] {
		isTest[p] = true
	}
	for i, r := range rows {
		if isTest[i] {
			te = append(te, r)
		} else {
			tr = append(tr, r)
		}
	}
	return tr, te
}

func splitUserTime(rows []Interaction, f float64) (tr, te []Interaction) {
	byUser := map[int32][]int{}
	for i, r := range rows {
		byUser[r.User] = append(byUser[r.User], i)
	}
	isTest := make([]bool, len(rows))
	for _, idx := range byUser {
		sort.SliceStable(idx, func(a, b int) bool { return rows[idx[a]].Time < rows[idx[b]].Time })
		n := int(math.Round(f * float64(len(idx))))
		n = min(n, len(idx)-1)
		for _, i := range idx[len(idx)-n:] {
			isTest[i] = true
		}
	}
	for i, r := range rows {
		if isTest[i] {
			te = append(te, r)
		} else {
			tr = append(tr, r)
		}
	}
	return tr, te
}

func splitTime(rows []Interaction, f float64, cut int64) (tr, te []Interaction) {
	if cut == 0 {
		ts := make([]int64, len(rows))
		for i, r := range rows {
			ts[i] = r.Time
		}
		sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
		k := min(int(math.Round((1-f)*float64(len(ts)))), len(ts)-1)
		cut = ts[k]
	}
	for _, r := range rows {
		if r.Time >= cut {
			te = append(te, r)
		} else {
			tr = append(tr, r)
		}
	}
	return tr, te
}
