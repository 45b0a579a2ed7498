package httpapi_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/sqlstore"
)

// ExampleClient starts a server over a SQLite store, then tracks a run
// through the Go client the way the loopml CLI does.
func ExampleClient() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "loopml-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(dir, "loopml.db"), sqlstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	blobs, err := blobstore.NewLocal(filepath.Join(dir, "artifacts"))
	if err != nil {
		log.Fatal(err)
	}
	defer blobs.Close()
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{Experiments: db, Runs: db, Artifacts: blobs}).Handler())
	defer srv.Close()

	c := httpapi.NewClient(srv.URL, nil)
	exp := &loopml.Experiment{Name: "demo"}
	if err := c.CreateExperiment(ctx, exp); err != nil {
		log.Fatal(err)
	}
	run := &loopml.Run{ExperimentID: exp.ID, Name: "baseline"}
	if err := c.CreateRun(ctx, run); err != nil {
		log.Fatal(err)
	}
	err = c.LogBatch(ctx, run.ID, loopml.Batch{
		Metrics: []loopml.Metric{{Key: "loss", Value: 0.25, Timestamp: 1, Step: 1}, {Key: "gap", Value: math.NaN(), Timestamp: 1}},
		Params:  []loopml.Param{{Key: "lr", Value: "0.01"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	got, err := c.GetRun(ctx, run.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Name, got.Status, len(got.Metrics), got.Params[0].Key+"="+got.Params[0].Value)

	_, err = c.GetExperimentByName(ctx, "no such experiment")
	fmt.Println(loopml.ErrorCode(err) == loopml.ENOTFOUND)
	// Output:
	// baseline RUNNING 2 lr=0.01
	// true
}
