package datasets

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/cas"
	"github.com/loopml/loopml/drift"
	"github.com/loopml/loopml/profile"
)

// DriftThreshold is the PSI and Jensen–Shannon distance at or above which
// a column is reported as drifted (Evidently's defaults).
const DriftThreshold = 0.1

// Diff compares two versions of datasets.
type Diff struct {
	A, B *loopml.DatasetVersion
	// Files lists the files added, removed and changed from A to B.
	Files cas.Diff
	// Tables compares the tabular files present in both and changed.
	Tables []TableDiff
}

// TableDiff compares one tabular file in two versions.
type TableDiff struct {
	Path         string
	RowsA, RowsB int64
	// AddedColumns and RemovedColumns are in B only and in A only.
	AddedColumns, RemovedColumns []string
	// TypeChanges lists columns whose inferred type changed.
	TypeChanges []TypeChange
	// Columns holds the distribution change of every column in both.
	Columns []ColumnDrift
}

// TypeChange is a column whose inferred type changed.
type TypeChange struct {
	Column   string
	From, To profile.Type
}

// ColumnDrift is the distribution change of one column.
type ColumnDrift struct {
	Column string
	// Method is "psi" for numeric columns (binned on A's histogram edges)
	// or "jensenshannon" (base 2) for categorical ones; "" when the column
	// has no comparable values.
	Method string
	// Value is the PSI or the Jensen–Shannon distance.
	Value float64
	// KS is the Kolmogorov–Smirnov statistic on the same bins (numeric
	// columns only; NaN otherwise).
	KS float64
	// Drifted reports Value ≥ DriftThreshold.
	Drifted bool
}

// DiffRefs resolves two references and diffs their versions.
func DiffRefs(ctx context.Context, d Deps, a, b string) (*Diff, error) {
	va, err := Resolve(ctx, d, a)
	if err != nil {
		return nil, err
	}
	vb, err := Resolve(ctx, d, b)
	if err != nil {
		return nil, err
	}
	return DiffVersions(ctx, d, va, vb)
}

// DiffVersions compares version a (the reference) with version b.
func DiffVersions(ctx context.Context, d Deps, a, b *loopml.DatasetVersion) (*Diff, error) {
	ma, err := Manifest(ctx, d, a)
	if err != nil {
		return nil, err
	}
	mb, err := Manifest(ctx, d, b)
	if err != nil {
		return nil, err
	}
	out := &Diff{A: a, B: b, Files: cas.DiffManifests(ma, mb)}
	pa, err := Profiles(ctx, d, a)
	if err != nil {
		return nil, err
	}
	pb, err := Profiles(ctx, d, b)
	if err != nil {
		return nil, err
	}
	entriesB := map[string]cas.Entry{}
	for _, e := range mb.Entries {
		entriesB[e.Path] = e
	}
	for _, p := range out.Files.Changed {
		ra, rb := pa[p], pb[p]
		if ra == nil || rb == nil {
			continue
		}
		// Count B again on A's bins, so numeric columns compare bin by bin.
		if edges := profile.EdgesOf(ra); len(edges) > 0 {
			e, ok := entriesB[p]
			if !ok {
				return nil, loopml.Errorf(loopml.EINTERNAL, "diff: %s missing from the manifest of %s@v%d", p, b.Name, b.Version)
			}
			rb, err = profileEntry(ctx, d, e, profile.Options{Config: profile.Config{Edges: edges}})
			if err != nil {
				return nil, err
			}
		}
		td, err := diffTables(p, ra, rb)
		if err != nil {
			return nil, err
		}
		out.Tables = append(out.Tables, td)
	}
	return out, nil
}

// diffTables compares the profiles of one file.
func diffTables(p string, a, b *profile.Profile) (TableDiff, error) {
	td := TableDiff{Path: p, RowsA: a.Rows(), RowsB: b.Rows()}
	inA := map[string]bool{}
	for _, n := range a.Names() {
		inA[n] = true
	}
	for _, n := range b.Names() {
		if !inA[n] {
			td.AddedColumns = append(td.AddedColumns, n)
		}
	}
	for _, n := range a.Names() {
		cb, ok := b.Column(n)
		if !ok {
			td.RemovedColumns = append(td.RemovedColumns, n)
			continue
		}
		ca, _ := a.Column(n)
		if ca.Type != cb.Type {
			td.TypeChanges = append(td.TypeChanges, TypeChange{Column: n, From: ca.Type, To: cb.Type})
		}
		cd, err := columnDrift(ca, cb)
		if err != nil {
			return td, fmt.Errorf("diff %s column %s: %w", p, n, err)
		}
		td.Columns = append(td.Columns, cd)
	}
	return td, nil
}

// columnDrift measures one column's change: PSI and KS on the reference's
// histogram edges when both sides have one on the same edges, else the
// Jensen–Shannon distance of the frequent values (the rest pooled as one
// "other" value).
func columnDrift(a, b profile.ColumnSummary) (ColumnDrift, error) {
	cd := ColumnDrift{Column: a.Name, KS: math.NaN()}
	if a.Kind == profile.KindNumeric && a.Numeric != nil && b.Numeric != nil &&
		a.Numeric.Histogram != nil && b.Numeric.Histogram != nil && sameEdges(a.Numeric.Histogram.Edges, b.Numeric.Histogram.Edges) {
		ra, rb := floats(a.Numeric.Histogram.Counts), floats(b.Numeric.Histogram.Counts)
		psi, err := drift.PSI(ra, rb)
		if err != nil {
			return cd, err
		}
		ks, err := drift.KSHistograms(
			&drift.Histogram{Edges: a.Numeric.Histogram.Edges, Counts: a.Numeric.Histogram.Counts},
			&drift.Histogram{Edges: b.Numeric.Histogram.Edges, Counts: b.Numeric.Histogram.Counts})
		if err != nil {
			return cd, err
		}
		cd.Method, cd.Value, cd.KS, cd.Drifted = "psi", psi, ks.D, psi >= DriftThreshold
		return cd, nil
	}
	if a.Count == 0 || b.Count == 0 {
		return cd, nil
	}
	keys := map[string]bool{}
	for _, t := range a.Top {
		keys[t.Value] = true
	}
	for _, t := range b.Top {
		keys[t.Value] = true
	}
	order := make([]string, 0, len(keys))
	for k := range keys {
		order = append(order, k)
	}
	sort.Strings(order)
	ra, rb := topVector(a, order), topVector(b, order)
	js, err := drift.JensenShannon(ra, rb, 2)
	if err != nil {
		return cd, err
	}
	cd.Method, cd.Value, cd.Drifted = "jensenshannon", js, js >= DriftThreshold
	return cd, nil
}

// topVector returns the counts of the values in order, then the count of
// every other present value.
func topVector(c profile.ColumnSummary, order []string) []float64 {
	counts := map[string]int64{}
	for _, t := range c.Top {
		counts[t.Value] = t.Count
	}
	out := make([]float64, len(order)+1)
	var listed int64
	for i, k := range order {
		out[i] = float64(counts[k])
		listed += counts[k]
	}
	out[len(order)] = float64(max(c.Count-listed, 0))
	return out
}

func floats(c []int64) []float64 {
	out := make([]float64, len(c))
	for i, v := range c {
		out[i] = float64(v)
	}
	return out
}

func sameEdges(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
