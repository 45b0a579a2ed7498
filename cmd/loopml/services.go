package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/sqlstore"
	"github.com/spf13/cobra"
)

// Environment variables of the client commands.
const (
	trackingURIEnv = "LOOPML_TRACKING_URI"
	homeEnv        = "LOOPML_HOME"
)

// clientOptions are the flags shared by the experiments, runs and models
// commands.
type clientOptions struct {
	trackingURI string
	home        string
	output      string
}

func addClientFlags(cmd *cobra.Command, o *clientOptions) {
	f := cmd.Flags()
	f.StringVar(&o.trackingURI, "tracking-uri", "", "http(s) URL of a loopml (or MLflow) tracking server; when unset, the local home is opened directly [env "+trackingURIEnv+"]")
	f.StringVar(&o.home, "home", "", "loopml home directory, used when no tracking URI is set (default "+DefaultHome+") [env "+homeEnv+"]")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
}

// services are the root service interfaces the commands work through,
// whether they are backed by HTTP or by the local store.
type services struct {
	experiments loopml.ExperimentService
	runs        loopml.RunService
	registry    loopml.ModelRegistry
	// aliasAt, lineage and artifacts back the models commands: loopml's
	// registry extensions over HTTP, or computed from the local store.
	aliasAt   func(ctx context.Context, name, alias string, t int64) (string, error)
	lineage   func(ctx context.Context, uri string) (*httpapi.Lineage, error)
	artifacts artifactSource
	// webhooks manages webhooks: the Client over HTTP, or the store.
	webhooks httpapi.WebhookAdmin
	// endpoints manages serving endpoints and rollouts: the Client over
	// HTTP, or the store.
	endpoints endpointAdmin
	// datasets, blobs and indexDir back the data commands: the store and
	// the local artifact store, or over HTTP the Client and the server's
	// artifact proxy (the cas index stays on this machine either way).
	datasets loopml.DatasetService
	blobs    loopml.ArtifactStore
	indexDir string
	close    func() error
}

// artifactSource reads an artifact store by store path: the local store or
// the server's artifact proxy.
type artifactSource interface {
	List(ctx context.Context, dir string) ([]loopml.ArtifactInfo, error)
	Open(ctx context.Context, path string) (io.ReadCloser, error)
}

// proxyArtifacts reads the server's artifact store through its artifact
// proxy.
type proxyArtifacts struct{ c *httpapi.Client }

func (p proxyArtifacts) List(ctx context.Context, dir string) ([]loopml.ArtifactInfo, error) {
	return p.c.ListStoreArtifacts(ctx, dir)
}

func (p proxyArtifacts) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		_, err := p.c.DownloadArtifact(ctx, path, pw)
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// openServices connects to the tracking URI (flag, then environment) or,
// when there is none, opens the SQLite store in the home directory. The
// home must exist unless create is set.
func openServices(ctx context.Context, o clientOptions, getenv func(string) (string, bool), create bool) (*services, error) {
	if o.output != "table" && o.output != "json" {
		return nil, loopml.Errorf(loopml.EINVALID, "output %q must be table or json", o.output)
	}
	uri := o.trackingURI
	if uri == "" {
		uri, _ = getenv(trackingURIEnv)
	}
	if uri != "" {
		u, err := url.Parse(uri)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, loopml.Errorf(loopml.EINVALID, "tracking-uri %q must be an http:// or https:// URL", uri)
		}
		c := httpapi.NewClient(uri, &http.Client{Timeout: 5 * time.Minute})
		return &services{
			experiments: c, runs: c, registry: c,
			aliasAt: c.AliasAt, lineage: c.ModelLineage, artifacts: proxyArtifacts{c}, webhooks: c, endpoints: c,
			datasets: c, blobs: c.Artifacts(), indexDir: remoteIndexDir(o, getenv),
			close: func() error { return nil },
		}, nil
	}
	home := o.home
	if home == "" {
		if h, ok := getenv(homeEnv); ok && h != "" {
			home = h
		} else {
			home = DefaultHome
		}
	}
	if create {
		if err := os.MkdirAll(home, 0o755); err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "home: %v", err)
		}
	} else if _, err := os.Stat(home); err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "no loopml home at %s: run `loopml server` once, pass --home, or set --tracking-uri / %s", home, trackingURIEnv)
	}
	dsn, err := Config{Home: home}.StoreDSN()
	if err != nil {
		return nil, err
	}
	artDir, err := Config{Home: home}.ArtifactsDir()
	if err != nil {
		return nil, err
	}
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		return nil, err
	}
	arts, err := blobstore.NewLocal(artDir)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &services{
		experiments: db, runs: db, registry: db,
		aliasAt: func(ctx context.Context, name, alias string, t int64) (string, error) {
			return httpapi.AliasAtTime(ctx, db, name, alias, t)
		},
		lineage: func(ctx context.Context, uri string) (*httpapi.Lineage, error) {
			return httpapi.BuildLineage(ctx, db, db, uri)
		},
		artifacts: arts,
		webhooks:  db,
		endpoints: localEndpoints{db, db},
		datasets:  db,
		blobs:     arts,
		indexDir:  filepath.Join(home, "index"),
		close:     func() error { return errors.Join(arts.Close(), db.Close()) },
	}, nil
}
