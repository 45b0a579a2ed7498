// Package serving is loopml's model-serving gateway. An endpoint is a named
// route to one or more targets, each a registry reference
// ("models:/recs@champion", "models:/recs/7") with a weight, plus optional
// shadow targets that receive a copy of the traffic. Endpoints are declared
// in YAML (ParseEndpoints) and served by a Gateway over three protocols:
//
//   - Open Inference Protocol v2 REST (/v2, /v2/health/live|ready,
//     /v2/models/{name}[/versions/{v}][/ready|/infer]; the endpoint name is
//     the model name);
//   - MLflow's scoring protocol (POST /endpoints/{name}/invocations, and
//     /invocations for the default endpoint; JSON in the four pandas and
//     TF-serving formats, or text/csv);
//   - recommendation (POST /endpoints/{name}/recommend).
//
// Targets are loaded by the native Go runtime: a loopml-flavored package
// (package training) is read from the artifact store and kept in memory
// behind an atomic pointer. Targets that follow an alias, a stage or
// "latest" are re-resolved by Refresh (and by a background poll): a new
// version is loaded and warmed before it is swapped in, and a failed load
// keeps the old version serving. Routing is weighted random, or sticky by
// the hash of a request header.
//
// Packages of other flavors are served by the process runtime (package
// procserve, see process.go): a child process per version, proxied.
//
// Every prediction request (and shadow copy) can be logged into a
// loopml.PredictionLog through a bounded queue that never delays a
// response (Gateway.PredictionLog, predlog.go); POST
// /endpoints/{name}/feedback joins labels and rewards to them by request
// id (feedback.go); Gateway.Metrics receives Prometheus metrics per
// endpoint, target and version (metrics.go).
//
// serving is an engine: it imports the root package, mlmodel, training,
// registrycache, learn and procserve, and gets the registry and the artifact store as
// root interfaces (or the small interfaces it declares).
package serving
