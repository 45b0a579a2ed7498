package drift

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// CategoryProfile counts the values of a categorical column: the stored form
// of a categorical reference (or current window). Counts maps each kept
// category to its count; Other counts the values of every category that was
// not kept (see [NewCategoryProfile]). Missing values are the caller's to
// drop or to map to a category of their own.
type CategoryProfile struct {
	// Counts maps each kept category to its number of values.
	Counts map[string]int64 `json:"counts"`
	// Other counts the values of the categories that were not kept.
	Other int64 `json:"other,omitempty"`
}

// NewCategoryProfile counts values. If maxCategories > 0 and there are more
// distinct categories than that, only the maxCategories most frequent are
// kept (ties broken by name) and the rest are summed into Other, which bounds
// the stored size of high-cardinality columns. maxCategories ≤ 0 keeps all.
func NewCategoryProfile(values []string, maxCategories int) CategoryProfile {
	counts := make(map[string]int64)
	for _, v := range values {
		counts[v]++
	}
	p := CategoryProfile{Counts: counts}
	if maxCategories <= 0 || len(counts) <= maxCategories {
		return p
	}
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, k := range keys[maxCategories:] {
		p.Other += counts[k]
		delete(p.Counts, k)
	}
	return p
}

// N returns the number of values counted, Other included.
func (p CategoryProfile) N() int64 {
	n := p.Other
	for _, c := range p.Counts {
		n += c
	}
	return n
}

// AlignCategories lines up two category profiles for the count-based
// statistics. keys is the sorted union of the categories with a non-zero
// count in either profile, and ref and cur hold their counts in that order.
//
// If the reference folded categories into Other, a current category unknown
// to the reference may belong to that bucket, so such categories are folded
// into the current Other as well. If other is true the last entry of ref and
// cur is the "other" bucket; it has no key (keys is one shorter). Folding
// categories that the reference never saw into a single bucket changes
// neither the Jensen–Shannon distance nor an infinite chi-squared statistic,
// so it only matters for reference profiles that were truncated.
//
// It returns ErrInvalid for a negative count.
func AlignCategories(refP, curP CategoryProfile) (keys []string, ref, cur []float64, other bool, err error) {
	for name, p := range map[string]CategoryProfile{"reference": refP, "current": curP} {
		if p.Other < 0 {
			return nil, nil, nil, false, fmt.Errorf("align categories: %s other=%d: %w", name, p.Other, ErrInvalid)
		}
		for k, c := range p.Counts {
			if c < 0 {
				return nil, nil, nil, false, fmt.Errorf("align categories: %s count of %q=%d: %w", name, k, c, ErrInvalid)
			}
		}
	}
	refOther, curOther := refP.Other, curP.Other
	set := make(map[string]struct{})
	for k, c := range refP.Counts {
		if c > 0 {
			set[k] = struct{}{}
		}
	}
	for k, c := range curP.Counts {
		if c == 0 {
			continue
		}
		if _, known := refP.Counts[k]; !known && refOther > 0 {
			curOther += c
			continue
		}
		set[k] = struct{}{}
	}
	keys = slices.Sorted(maps.Keys(set))
	for _, k := range keys {
		ref = append(ref, float64(refP.Counts[k]))
		cur = append(cur, float64(curP.Counts[k]))
	}
	if refOther > 0 || curOther > 0 {
		ref = append(ref, float64(refOther))
		cur = append(cur, float64(curOther))
		other = true
	}
	return keys, ref, cur, other, nil
}
