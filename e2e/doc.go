// Package e2e holds end-to-end tests that run the real loopml binary as a
// child process and talk to it over HTTP, the way users and their MLflow
// clients do. It has no non-test code.
//
// TestMain builds ./cmd/loopml once into a temporary directory (with -race
// when the tests themselves run under the race detector). Each test starts
// that binary with `loopml server --addr 127.0.0.1:0 --home <temp dir>`,
// reads the listening address from its output and waits for GET /health.
//
// The tests:
//
//   - TestKill9UnderLoad (always runs, SQLite store): eight writers send
//     log-batch requests (200 metrics, a param and a tag each) as fast as
//     they can; the server is killed with SIGKILL while requests are in
//     flight and restarted on the same home. Every acknowledged metric point,
//     param and tag must be there with its exact value, every unacknowledged
//     batch must be all there or all absent, the runs' latest metric values
//     must agree with the histories, and SQLite's PRAGMA integrity_check must
//     answer "ok". With LOOPML_TEST_POSTGRES_DSN
//     set (for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable)
//     the same test also runs on PostgreSQL, in a fresh schema that is
//     dropped afterwards.
//
//   - TestNpmMlflowClient (runs when LOOPML_TEST_NPM=1): runs `npm ci` in
//     e2e/npm and then `node --test` there with MLFLOW_TRACKING_URI pointing
//     at the server. The Node tests drive the third-party npm package
//     "mlflow" (a small MLflow REST client) through every tracking endpoint
//     it supports, plus the newer endpoints it lacks through its own request
//     helper. Needs Node.js 20 and npm on PATH and access to the npm registry.
//
//   - TestServing (always runs, SQLite store): trains two small models with
//     the binary, then drives the gateway of one server with synthetic
//     traffic through endpoints created over the endpoints API: traffic
//     split (80/20 within 5 points), sticky routing by header, shadow (never
//     answers, gets the mirrored traffic), alias hot swap under load (zero
//     failed requests), a canary rollout promoted through three 1-second
//     steps (the alias moves), and a canary rolled back automatically
//     because its candidate cannot be loaded.
//
// Environment:
//
//	LOOPML_TEST_POSTGRES_DSN  also run the crash test on PostgreSQL
//	LOOPML_TEST_NPM=1         run the npm mlflow client test
//	LOOPML_E2E_BINARY         use this loopml binary instead of building one
package e2e
