package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/loopml/loopml"
)

// The Client implements loopml.DatasetValidationService over loopml's
// dataset validation endpoints (see dataset_validation.go). The server
// works in its own workspace: the workspace of ctx is not sent.
var _ loopml.DatasetValidationService = (*Client)(nil)

// RecordDatasetValidation records val on the server and fills in its ID,
// Workspace, CreatedBy and CreationTimestamp from the answer.
func (c *Client) RecordDatasetValidation(ctx context.Context, val *loopml.DatasetValidation) error {
	if val == nil {
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'validation'")
	}
	got := new(loopml.DatasetValidation)
	err := c.loopmlSend(ctx, http.MethodPost, "datasets/validations/record", func(e *encoder) {
		in := *val
		in.ID, in.Workspace, in.CreatedBy, in.CreationTimestamp = 0, "", "", 0
		encodeDatasetValidation(e, &in)
	}, func(d *decoder, key []byte) error {
		if string(key) == "validation" {
			return decodeDatasetValidation(d, got)
		}
		return d.skip()
	})
	if err != nil {
		return err
	}
	val.ID, val.Workspace, val.CreatedBy, val.CreationTimestamp = got.ID, got.Workspace, got.CreatedBy, got.CreationTimestamp
	return nil
}

// ListDatasetValidations lists the validations of a dataset's version (all
// versions when version is 0), newest first.
func (c *Client) ListDatasetValidations(ctx context.Context, name string, version int) ([]*loopml.DatasetValidation, error) {
	q := url.Values{"name": {name}}
	if version != 0 {
		q.Set("version", strconv.Itoa(version))
	}
	var out []*loopml.DatasetValidation
	err := c.loopmlGet(ctx, "datasets/validations/list", q, func(d *decoder, key []byte) error {
		if string(key) != "validations" {
			return d.skip()
		}
		return d.array(func(d *decoder, _ int) error {
			v := new(loopml.DatasetValidation)
			out = append(out, v)
			return decodeDatasetValidation(d, v)
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LatestDatasetValidation returns the newest validation of the version ref
// resolves to.
func (c *Client) LatestDatasetValidation(ctx context.Context, ref loopml.DatasetRef) (*loopml.DatasetValidation, error) {
	v := new(loopml.DatasetValidation)
	err := c.loopmlGet(ctx, "datasets/validations/latest", url.Values{"ref": {ref.String()}}, func(d *decoder, key []byte) error {
		if string(key) == "validation" {
			return decodeDatasetValidation(d, v)
		}
		return d.skip()
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// rulesField decodes {"rules": {...}}.
func rulesField(r *loopml.DatasetRules) func(d *decoder, key []byte) error {
	return func(d *decoder, key []byte) error {
		if string(key) == "rules" {
			return decodeDatasetRules(d, r)
		}
		return d.skip()
	}
}

// SetDatasetRules attaches rules (YAML) to dataset name as a new revision.
func (c *Client) SetDatasetRules(ctx context.Context, name, yaml string) (*loopml.DatasetRules, error) {
	r := new(loopml.DatasetRules)
	err := c.loopmlSend(ctx, http.MethodPost, "datasets/rules/set", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("rules", yaml)
	}, rulesField(r))
	if err != nil {
		return nil, err
	}
	return r, nil
}

// GetDatasetRules returns the rules attached to name.
func (c *Client) GetDatasetRules(ctx context.Context, name string) (*loopml.DatasetRules, error) {
	r := new(loopml.DatasetRules)
	if err := c.loopmlGet(ctx, "datasets/rules/get", url.Values{"name": {name}}, rulesField(r)); err != nil {
		return nil, err
	}
	return r, nil
}

// ListDatasetRules returns every rules revision of name, newest first.
func (c *Client) ListDatasetRules(ctx context.Context, name string) ([]*loopml.DatasetRules, error) {
	var out []*loopml.DatasetRules
	err := c.loopmlGet(ctx, "datasets/rules/list", url.Values{"name": {name}}, func(d *decoder, key []byte) error {
		if string(key) != "revisions" {
			return d.skip()
		}
		return d.array(func(d *decoder, _ int) error {
			r := new(loopml.DatasetRules)
			out = append(out, r)
			return decodeDatasetRules(d, r)
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteDatasetRules detaches the rules of name.
func (c *Client) DeleteDatasetRules(ctx context.Context, name string) error {
	return c.loopmlSend(ctx, http.MethodDelete, "datasets/rules/delete", func(e *encoder) {
		e.strAlways("name", name)
	}, nil)
}

// SetDatasetVersionQuarantine puts a version into quarantine or releases
// it.
func (c *Client) SetDatasetVersionQuarantine(ctx context.Context, name string, version int, quarantined bool) error {
	return c.loopmlSend(ctx, http.MethodPost, "datasets/versions/quarantine", func(e *encoder) {
		e.strAlways("name", name)
		e.int("version", int64(version))
		e.boolAlways("quarantined", quarantined)
	}, nil)
}
