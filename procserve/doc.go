// Package procserve serves a model package by a child process: loopml's
// process runtime, for every package the native Go runtime cannot load.
//
// The package decides the command ([Resolve]): a command declared in the
// package's MLmodel under the loopml_process flavor, or, for an MLflow
// python_function package, MLflow's own scoring server
// (python -m mlflow models serve -m DIR -p PORT --env-manager local) when
// the serving environment has MLflow:
//
//	flavors:
//	  loopml_process:
//	    command: [python3, score.py, --port, "{port}"]  # run in the package directory
//	    protocol: mlflow          # mlflow (default): /invocations, merged by batching; http: proxied as is
//	    listen: tcp               # tcp (default): a free loopback port; unix: a Unix socket
//	    health_path: /ping        # GET answered 200 when ready (default /ping)
//	    startup_timeout: 60s      # first health answer within (default 60s)
//	    env: {OMP_NUM_THREADS: "1"}
//	    batch: {max_rows: 256, max_wait_ms: 2, concurrency: 1}   # adaptive batching (mlflow protocol)
//
// The child learns where to listen from the placeholders {port}, {host},
// {socket} and {model_dir} in its arguments and from the environment
// (PORT, HOST, LOOPML_SOCKET, LOOPML_MODEL_DIR). A package may carry a
// loopml_process flavor without command next to python_function, to tune
// MLflow's server (batching, timeouts).
//
// [Start] runs the child in its own process group, waits for its health
// route, then proxies requests to it over keep-alive connections
// ([Runtime.ServeHTTP]). A supervisor restarts a child that exits, with
// exponential backoff, and kills and restarts one that stops answering its
// health checks (hung); meanwhile requests get 503 with a message. The
// child's stdout and stderr go to the logger, one record per line, with the
// model label. [Runtime.Close] kills the process group.
//
// # Adaptive batching
//
// For mlflow-protocol children with a batch setting, concurrent JSON
// requests in the dataframe_split, dataframe_records, instances or inputs
// (list) formats, without params, are merged into one request: when the
// child is idle a request is sent at once; while it is busy (concurrency
// batches in flight), requests queue and go together when a batch returns,
// when max_rows rows are waiting, or when the oldest has waited max_wait
// (never more than 2 × concurrency merged requests in flight).
// Only requests of the same shape merge (same format and columns). The
// child's "predictions" list is split back by row counts. When a merged
// batch fails (a non-200 answer, or predictions that are not a list of one
// entry per row), each request of it is retried alone, so a bad row fails
// only its own request, with the child's status and message.
//
// Serving a package runs code it contains (as loading a pickled model
// does): serve only packages you trust.
package procserve
