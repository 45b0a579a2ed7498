// Package learn is loopml's pure recommender learning core: interaction data
// and its CSV loader, train/test splits, three learners (popularity, biased
// matrix factorisation, implicit ALS) behind one small interface, and the
// evaluation metrics that compare them. Beside them, two tabular learners
// (linear and logistic regression, see [TabularLearner], [Table] and the
// notes in tabular.go) predict a column of a CSV table, and [WithProgress]
// reports per-epoch metrics of the iterative learners.
//
// It imports only the standard library and gonum, never the loopml root
// package or a sibling, so that the model-package format, the registry and the
// CLI can wrap it without a cycle and it stays reusable on its own.
//
// The flow is:
//
//	data, err := learn.LoadCSVFile(ctx, "ratings.csv", learn.CSVOptions{})
//	train, test, err := learn.Split(data, learn.SplitOptions{Method: learn.SplitRandom, TestFraction: 0.2, Seed: 42})
//	l, err := learn.LearnerByName("mf")
//	report, model, err := learn.Evaluate(ctx, l, train, test, nil, learn.EvalOptions{K: 10})
//	blob, err := model.MarshalBinary()
//	model, err = learn.UnmarshalModel(blob)
//
// Errors that callers branch on wrap one of the sentinels ErrNoData,
// ErrUnknownColumn, ErrBadValue, ErrDuplicate, ErrInvalidParam and
// ErrBadModel; an adapter maps them all to its "invalid argument" code.
//
// Users and items are identified outside this package by strings (the ids
// in the CSV file) and inside by dense int32 indices ([IDMap]). A trained
// model keeps the ids of the users and items it saw, so a model loaded from
// bytes answers by id without the training data; an id it never saw is a cold
// start, answered from popularity and flagged.
package learn
