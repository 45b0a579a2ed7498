package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	neturl "net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver, to create a private schema

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
)

// postgresDSN returns a DSN for a fresh schema of the test database, dropped
// when the test ends, or skips the test.
func postgresDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv("LOOPML_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("set LOOPML_TEST_POSTGRES_DSN to run the server against PostgreSQL")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := fmt.Sprintf("loopml_cmd_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func TestServerOnPostgres(t *testing.T) {
	dsn := postgresDSN(t)
	// Trust authentication ignores the password; the server must not log it.
	u, err := neturl.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = neturl.UserPassword(u.User.Username(), "s3cr3t-pw")
	ctx := context.Background()
	url, stderr, stop := startServer(t, t.TempDir(), "--store", u.String(), "--log-level", "debug")
	c := httpapi.NewClient(url, nil)
	exp := &loopml.Experiment{Name: "pg"}
	if err := c.CreateExperiment(ctx, exp); err != nil {
		t.Fatal(err)
	}
	r := &loopml.Run{ExperimentID: exp.ID, Name: "pg-run"}
	if err := c.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := c.LogBatch(ctx, r.ID, loopml.Batch{Metrics: []loopml.Metric{{Key: "m", Value: 1, Timestamp: 1}}}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"runs", "list", "--tracking-uri", url, "--experiment", "pg", "-o", "json"}, envMap(nil), &out, &out); err != nil {
		t.Fatalf("runs list: %v", err)
	}
	var runs []runView
	if err := json.Unmarshal(out.Bytes(), &runs); err != nil || len(runs) != 1 || runs[0].RunID != r.ID {
		t.Fatalf("runs list = %s, %v", out.String(), err)
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, stderr.String())
	}
	if logs := stderr.String(); strings.Contains(logs, "s3cr3t-pw") || !strings.Contains(logs, "loopml server started") {
		t.Errorf("logs show the password or lack the start line:\n%s", logs)
	}
}
