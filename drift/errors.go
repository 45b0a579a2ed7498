package drift

import "errors"

// Sentinel errors returned (possibly wrapped) by this package. Test with
// errors.Is.
var (
	// ErrEmpty reports a sample or count vector with no usable observations
	// (empty, all NaN, or all-zero counts).
	ErrEmpty = errors.New("drift: empty sample")
	// ErrMismatch reports inputs that must line up but do not: count vectors
	// of different lengths or histograms on different bin edges.
	ErrMismatch = errors.New("drift: inputs do not line up")
	// ErrInvalid reports malformed input: negative or non-finite counts,
	// unsorted or NaN bin edges, a non-positive bin count, and the like.
	ErrInvalid = errors.New("drift: invalid input")
	// ErrMethod reports an unknown drift method or one that does not apply to
	// the column kind (for example KS on a categorical column).
	ErrMethod = errors.New("drift: unsupported method")
)
