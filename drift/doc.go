// Package drift is loopml's statistics engine for distribution drift: it
// compares a reference sample (or a stored reference profile) with a current
// one and says whether, and how much, the distribution changed.
//
// It is used by dataset diffs (per-column distribution change between two
// dataset versions), by validation rules ("no drift beyond a threshold
// against version X") and by production monitoring (a stored training
// baseline against a live window of predictions).
//
// # Two input forms
//
// Every statistic works from raw samples and from binned counts. Reference
// data is summarised once into a profile that is cheap to store:
//
//   - numeric columns: a [Histogram] on fixed bin edges (usually reference
//     quantiles, see [QuantileEdges]) plus exact value counts while the column
//     has few distinct values, and the raw values while the reference is small
//     (see [NumericProfile]);
//   - categorical columns: category → count maps with an "other" bucket
//     (see [CategoryProfile]).
//
// Checking a live window is then O(rows of the window): the window is counted
// into the reference bin edges and never requires a rescan of reference data.
// Statistics computed from bins instead of raw values are approximations and
// are marked as such in [Result].
//
// # Statistics
//
// [PSI], two-sample Kolmogorov–Smirnov ([KS]), Pearson's chi-squared
// goodness of fit ([ChiSquare]), the two-proportion Z-test ([ZTest]),
// Jensen–Shannon distance ([JensenShannon]) and the 1-D Wasserstein (earth
// mover's) distance normed by the reference standard deviation
// ([WassersteinNorm]). [SelectMethod] reproduces Evidently's default choice
// of test per column and [DatasetDrift] its share-of-drifted-columns rule.
//
// # Conventions
//
// NaN means "missing": sample-based functions ignore NaN values, and a
// [Histogram] counts them separately from its bins. The sample-based tests
// also ignore ±Inf, as Evidently does (it replaces them with NaN and drops
// them); a Histogram counts ±Inf in its open-ended outer bins. A sample that
// is empty after dropping missing values yields [ErrEmpty].
//
// The package imports only the standard library and gonum, never loopml's
// domain packages, so it can be reused and tested on its own. All functions
// are safe for concurrent use; values of the profile types are not safe for
// concurrent mutation.
package drift
