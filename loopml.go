// Package loopml is the domain of the loopml MLOps platform: the types that
// every other package speaks (experiments, runs, metrics, artifacts, ...), the
// service interfaces that the storage adapters implement and the engines and
// the HTTP layer consume, and the error codes that cross every boundary.
//
// It imports only the standard library. Each technology lives in its own
// subpackage that imports this one and none of its siblings:
//
//	cmd/loopml   wires everything: config, CLI, server start-up
//	httpapi      MLflow-compatible REST API and the Go client over it
//	sqlstore     metadata on SQLite (embedded) or PostgreSQL (scale-out)
//	blobstore    artifact stores (local filesystem; S3 later)
//	storetest    conformance suite every metadata store passes
//	artifacttest conformance suite every artifact store passes
//
// See docs/architecture.md for the picture.
package loopml

// Version is the loopml release, overridden at link time with
// -ldflags "-X github.com/loopml/loopml.Version=...".
var Version = "0.1.0-dev"

// MLflowVersion is the MLflow server version loopml reports on /version, so
// that clients enable the features of that release.
const MLflowVersion = "2.12.2"

// DefaultWorkspace is the workspace every object belongs to until
// multi-tenancy lands.
const DefaultWorkspace = "default"

// AnonymousPrincipal is the principal of every mutation until authentication
// lands.
const AnonymousPrincipal = "anonymous"
