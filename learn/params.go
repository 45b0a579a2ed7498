package learn

import "strconv"

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Params returns o (with defaults applied) as Params, e.g. to log the
// effective hyperparameters of a run; ParsePopularityOptions reads them back.
func (o PopularityOptions) Params() Params {
	o = o.withDefaults()
	return Params{
		"min_count": strconv.Itoa(o.MinCount), "prior_count": fmtF(o.PriorCount),
		"min_rating": fmtF(o.MinRating), "since": strconv.FormatInt(o.Since, 10),
		"until": strconv.FormatInt(o.Until, 10), "by": o.By,
	}
}

// Params returns o (with defaults applied) as Params; ParseMFOptions reads
// them back.
func (o MFOptions) Params() Params {
	o = o.withDefaults()
	w := o.PopularityWeight
	if o.NoPopularityBlend {
		w = 0
	}
	return Params{
		"factors": strconv.Itoa(o.Factors), "lambda": fmtF(o.Lambda), "bias_lambda": fmtF(o.BiasLambda),
		"epochs": strconv.Itoa(o.Epochs), "validation_fraction": fmtF(o.ValidationFraction),
		"patience": strconv.Itoa(o.Patience), "early_stopping": strconv.FormatBool(!o.NoEarlyStopping),
		"refit": strconv.FormatBool(!o.NoRefit), "min_item_count": strconv.Itoa(o.MinItemCount),
		"popularity_weight": fmtF(w), "seed": strconv.FormatInt(int64(o.Seed), 10),
		"workers": strconv.Itoa(o.Workers),
	}
}

// Params returns o (with defaults applied) as Params;
// ParseImplicitALSOptions reads them back.
func (o ImplicitALSOptions) Params() Params {
	o = o.withDefaults()
	return Params{
		"factors": strconv.Itoa(o.Factors), "lambda": fmtF(o.Lambda), "alpha": fmtF(o.Alpha),
		"iterations": strconv.Itoa(o.Iterations), "cg_steps": strconv.Itoa(o.CGSteps),
		"binary": strconv.FormatBool(o.Binary), "seed": strconv.FormatInt(int64(o.Seed), 10),
		"workers": strconv.Itoa(o.Workers),
	}
}
