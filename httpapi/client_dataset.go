package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/loopml/loopml"
)

// The Client implements loopml.DatasetService over loopml's dataset
// endpoints (see dataset.go). The server works in its own workspace: the
// workspace of ctx is not sent.
var _ loopml.DatasetService = (*Client)(nil)

// datasetVersionField decodes {"dataset_version": {...}}.
func datasetVersionField(v *loopml.DatasetVersion) func(d *decoder, key []byte) error {
	return func(d *decoder, key []byte) error {
		if string(key) == "dataset_version" {
			return decodeDatasetVersion(d, v)
		}
		return d.skip()
	}
}

// CreateDatasetVersion records v as a new version (see
// loopml.DatasetService); on success v is filled in from the server's
// answer, which is also returned.
func (c *Client) CreateDatasetVersion(ctx context.Context, v *loopml.DatasetVersion) (*loopml.DatasetVersion, bool, error) {
	if v == nil {
		return nil, false, loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'dataset_version'")
	}
	got := new(loopml.DatasetVersion)
	var created bool
	err := c.loopmlSend(ctx, http.MethodPost, "datasets/versions/create", func(e *encoder) {
		in := *v
		in.Tags, in.Workspace, in.CreatedBy, in.CreationTimestamp = nil, "", "", 0
		encodeDatasetVersion(e, &in)
	}, func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "dataset_version":
			return decodeDatasetVersion(d, got)
		case "created":
			created, err = d.boolean()
			return err
		}
		return d.skip()
	})
	if err != nil {
		return nil, false, err
	}
	if got.Version <= 0 {
		return nil, false, loopml.Errorf(loopml.EINTERNAL, "create dataset version: the server sent no version number")
	}
	if created {
		v.Version, v.Workspace, v.CreatedBy, v.CreationTimestamp = got.Version, got.Workspace, got.CreatedBy, got.CreationTimestamp
	}
	return got, created, nil
}

// GetDatasetVersion resolves ref on the server.
func (c *Client) GetDatasetVersion(ctx context.Context, ref loopml.DatasetRef) (*loopml.DatasetVersion, error) {
	v := new(loopml.DatasetVersion)
	if err := c.loopmlGet(ctx, "datasets/versions/get", url.Values{"ref": {ref.String()}}, datasetVersionField(v)); err != nil {
		return nil, err
	}
	return v, nil
}

// GetDataset returns the summary of a dataset.
func (c *Client) GetDataset(ctx context.Context, name string) (*loopml.DatasetSummary, error) {
	s := new(loopml.DatasetSummary)
	err := c.loopmlGet(ctx, "datasets/get", url.Values{"name": {name}}, func(d *decoder, key []byte) error {
		if string(key) == "dataset" {
			return decodeDatasetSummary(d, s)
		}
		return d.skip()
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ListDatasets returns every dataset with a live version, by name.
func (c *Client) ListDatasets(ctx context.Context) ([]*loopml.DatasetSummary, error) {
	var out []*loopml.DatasetSummary
	err := c.loopmlGet(ctx, "datasets/list", nil, func(d *decoder, key []byte) error {
		if string(key) != "datasets" {
			return d.skip()
		}
		return d.array(func(d *decoder, _ int) error {
			s := new(loopml.DatasetSummary)
			out = append(out, s)
			return decodeDatasetSummary(d, s)
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListDatasetVersions returns the live versions of name, oldest first.
func (c *Client) ListDatasetVersions(ctx context.Context, name string) ([]*loopml.DatasetVersion, error) {
	var out []*loopml.DatasetVersion
	err := c.loopmlGet(ctx, "datasets/versions/list", url.Values{"name": {name}}, func(d *decoder, key []byte) error {
		if string(key) != "dataset_versions" {
			return d.skip()
		}
		return d.array(func(d *decoder, _ int) error {
			v := new(loopml.DatasetVersion)
			out = append(out, v)
			return decodeDatasetVersion(d, v)
		})
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// SetDatasetTag points tag at a live version, moving it if it exists.
func (c *Client) SetDatasetTag(ctx context.Context, name, tag string, version int) error {
	return c.loopmlSend(ctx, http.MethodPost, "datasets/tags/set", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("tag", tag)
		e.int("version", int64(version))
	}, nil)
}

// DeleteDatasetTag deletes a tag.
func (c *Client) DeleteDatasetTag(ctx context.Context, name, tag string) error {
	return c.loopmlSend(ctx, http.MethodDelete, "datasets/tags/delete", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("tag", tag)
	}, nil)
}

// DeleteDatasetVersion soft-deletes a version.
func (c *Client) DeleteDatasetVersion(ctx context.Context, name string, version int) error {
	if version <= 0 {
		return loopml.Errorf(loopml.EINVALID, "Invalid value %s for parameter 'version' supplied: expected a version number (1, 2, ...)", strconv.Itoa(version))
	}
	return c.loopmlSend(ctx, http.MethodDelete, "datasets/versions/delete", func(e *encoder) {
		e.strAlways("name", name)
		e.int("version", int64(version))
	}, nil)
}
