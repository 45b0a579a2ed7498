package training

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
)

// EffectiveParams checks params for learner and returns every
// hyperparameter it will train with, defaults included, as the run logs
// them. An unknown learner or a bad key or value is EINVALID naming it.
func EffectiveParams(learner string, params learn.Params) (learn.Params, error) {
	var (
		p   learn.Params
		err error
	)
	switch learner {
	case learn.KindPopularity:
		var o learn.PopularityOptions
		o, err = learn.ParsePopularityOptions(params)
		p = o.Params()
	case learn.KindMF:
		var o learn.MFOptions
		o, err = learn.ParseMFOptions(params)
		p = o.Params()
	case learn.KindImplicitALS:
		var o learn.ImplicitALSOptions
		o, err = learn.ParseImplicitALSOptions(params)
		p = o.Params()
	case learn.KindLinear:
		var o learn.LinearOptions
		o, err = learn.ParseLinearOptions(params)
		p = o.Params()
	case learn.KindLogistic:
		var o learn.LogisticOptions
		o, err = learn.ParseLogisticOptions(params)
		p = o.Params()
	default:
		return nil, loopml.Errorf(loopml.EINVALID, "learner %q: want one of %s", learner, strings.Join(append(learn.Learners(), learn.TabularLearners()...), ", "))
	}
	if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "params: %v", err)
	}
	return p, nil
}

// ParseParams reads "key=value" pairs (as given to --params). An empty key,
// a missing '=' or a repeated key is EINVALID naming the pair.
func ParseParams(pairs []string) (learn.Params, error) {
	p := learn.Params{}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, loopml.Errorf(loopml.EINVALID, "params %q: want key=value", kv)
		}
		if _, dup := p[k]; dup {
			return nil, loopml.Errorf(loopml.EINVALID, "params %q: key %q given twice", kv, k)
		}
		p[k] = strings.TrimSpace(v)
	}
	return p, nil
}

// sortedParams returns p as run params, sorted by key.
func sortedParams(p learn.Params, prefix string) []loopml.Param {
	out := make([]loopml.Param, 0, len(p))
	for k, v := range p {
		out = append(out, loopml.Param{Key: prefix + k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// invalid maps the learn package's sentinels to EINVALID naming what
// failed; other errors (context, store) pass through with what prepended.
func invalid(what string, err error) error {
	for _, s := range []error{learn.ErrNoData, learn.ErrInvalidParam, learn.ErrBadValue, learn.ErrUnknownColumn, learn.ErrDuplicate, learn.ErrBadModel} {
		if errors.Is(err, s) {
			return loopml.WrapError(loopml.EINVALID, err, "%s: %v", what, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
