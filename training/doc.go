// Package training turns loopml's built-in learners (package learn) into
// tracked, packaged and registrable models: Train loads interaction data,
// fits a learner inside a tracking run (params, metrics, tags and the
// dataset input are logged), writes a model package with the loopml flavor
// and a signature (package mlmodel), uploads it under the run's artifacts at
// "model/" and optionally registers it; Evaluate splits the data, fits,
// scores the model and logs the metrics and a JSON report; Load reads a
// package back into a learn.Model. The tabular learners (linear, logistic)
// take the same path with a table (TrainOptions.Target, Features, Exclude;
// tabular.go) and load with LoadTabular; per-epoch metrics of the
// iterative learners are logged as metric history (step = epoch).
//
// It is an engine: it imports the root package, learn and mlmodel (the only
// siblings it may import), and gets the tracking services as root
// interfaces and the artifact store as the one-method Uploader it declares.
// The CLI (cmd/loopml) wires it to the local store or to a server over HTTP.
package training
