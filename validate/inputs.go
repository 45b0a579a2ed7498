package validate

import (
	"context"
	"io"
	"strings"

	"github.com/loopml/loopml/profile"
)

// Input is one file of the table [CheckInputs] validates.
type Input struct {
	// Name labels the input in examples and issues (for a dataset, the
	// file's path within the version); its extension picks the format
	// unless Options.Format is set.
	Name string
	// Open opens the input's bytes.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// CheckInputs validates inputs as one table (columns matched by name) in
// one streaming pass over each, like [CheckFiles], except that an input
// that cannot be opened or read to its end does not stop the check: it
// becomes an Issue of the report (the input's name, line 0 and the reason)
// and the other inputs are still checked. Rows of such an input read before
// the failure count for the row-level rules, not for the profile. Only
// cancellation, and rules that cannot run (a drift rule without a
// reference), are errors.
func CheckInputs(ctx context.Context, rules *Rules, inputs []Input, opts Options) (*Report, error) {
	c, err := newChecker(rules, opts)
	if err != nil {
		return nil, err
	}
	for _, in := range inputs {
		if err := c.input(ctx, in); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			reason := strings.TrimPrefix(err.Error(), "profile "+in.Name+": ")
			c.prof.AddIssue(profile.Issue{File: in.Name, Reason: reason})
		}
	}
	return c.report(), nil
}

func (c *checker) input(ctx context.Context, in Input) error {
	rc, err := in.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	rd, err := profile.NewReader(rc, in.Name, c.opts.Format)
	if err != nil {
		return err
	}
	err = c.source(ctx, rd, in.Name)
	if cerr := rd.Close(); err == nil {
		err = cerr
	}
	return err
}
