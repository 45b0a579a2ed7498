package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestNpmMlflowClient runs e2e/npm/mlflow.test.js (node's built-in test
// runner) against a real server: the third-party npm "mlflow" package must
// work with loopml unchanged.
func TestNpmMlflowClient(t *testing.T) {
	if os.Getenv("LOOPML_TEST_NPM") != "1" {
		t.Skip("set LOOPML_TEST_NPM=1 to run the npm mlflow client against the server (needs node 20, npm and the npm registry)")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("LOOPML_TEST_NPM=1 but %s is not on PATH: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(testContext(t), 5*time.Minute)
	defer cancel()

	npmCI := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	npmCI.Dir = "npm"
	if out, err := npmCI.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in e2e/npm: %v\n%s", err, out)
	}

	srv := startServer(t, serverOptions{Home: t.TempDir()})

	node := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec", "--test-timeout=60000", "mlflow.test.js")
	node.Dir = "npm"
	node.Env = append(os.Environ(), "MLFLOW_TRACKING_URI="+srv.BaseURL, "NO_COLOR=1", "FORCE_COLOR=0")
	out, err := node.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test mlflow.test.js against %s: %v\n%s", srv.BaseURL, err, out)
	}
	t.Logf("node --test output:\n%s", out)
	srv.checkOutput(t)
}
