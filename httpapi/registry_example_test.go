package httpapi_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/sqlstore"
)

// ExampleClient_registry registers a model from a run over HTTP, promotes
// it with an alias and follows its lineage back to the run.
func ExampleClient_registry() {
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
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{Experiments: db, Runs: db, Registry: db}).Handler())
	defer srv.Close()
	c := httpapi.NewClient(srv.URL, nil)

	run := &loopml.Run{ExperimentID: "0", Name: "train", Tags: []loopml.Tag{{Key: "mlflow.source.git.commit", Value: "0123abc"}}}
	if err := c.CreateRun(ctx, run); err != nil {
		log.Fatal(err)
	}
	if err := c.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "churn"}); err != nil {
		log.Fatal(err)
	}
	v := &loopml.ModelVersion{Name: "churn", Source: "runs:/" + run.ID + "/model"}
	if err := c.CreateModelVersion(ctx, v); err != nil {
		log.Fatal(err)
	}
	if err := c.SetAlias(ctx, "churn", "champion", v.Version); err != nil {
		log.Fatal(err)
	}
	l, err := c.ModelLineage(ctx, "models:/churn@champion")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.Version.Version, l.Version.Status, l.Run.Name, l.Code.GitCommit, l.Version.RunID == run.ID)
	// Output:
	// 1 READY train 0123abc true
}
