package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/loopml/loopml"
)

var _ loopml.ModelRegistry = (*Client)(nil)

// send sends a JSON body built by build with method to an MLflow path.
func (c *Client) send(ctx context.Context, method, path string, build func(e *encoder), fill func(d *decoder, key []byte) error) error {
	bp := getBuf()
	defer putBuf(bp)
	e := encoder{b: (*bp)[:0]}
	e.beginObject()
	build(&e)
	e.endObject()
	*bp = e.b
	return c.do(ctx, method, apiPrefix+path, nil, e.b, fill)
}

// modelField decodes {"registered_model": {...}}.
func modelField(m *loopml.RegisteredModel) func(d *decoder, key []byte) error {
	return func(d *decoder, key []byte) error {
		if string(key) == "registered_model" {
			return decodeRegisteredModel(d, m)
		}
		return d.skip()
	}
}

// versionField decodes {"model_version": {...}}.
func versionField(v *loopml.ModelVersion) func(d *decoder, key []byte) error {
	return func(d *decoder, key []byte) error {
		if string(key) == "model_version" {
			return decodeModelVersion(d, v)
		}
		return d.skip()
	}
}

// versionsField decodes {"model_versions": [...], "next_page_token": ...}.
func versionsField(vs *[]*loopml.ModelVersion, next *string) func(d *decoder, key []byte) error {
	return func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "model_versions":
			return d.array(func(d *decoder, _ int) error {
				v := new(loopml.ModelVersion)
				*vs = append(*vs, v)
				return decodeModelVersion(d, v)
			})
		case "next_page_token":
			*next, err = d.str()
			return err
		}
		return d.skip()
	}
}

// CreateRegisteredModel creates m and fills it in from the server's answer.
func (c *Client) CreateRegisteredModel(ctx context.Context, m *loopml.RegisteredModel) error {
	got := new(loopml.RegisteredModel)
	err := c.post(ctx, "registered-models/create", func(e *encoder) {
		e.strAlways("name", m.Name)
		encodeTagList(e, "tags", m.Tags)
		e.str("description", m.Description)
	}, modelField(got))
	if err != nil {
		return err
	}
	*m = *got
	return nil
}

// GetRegisteredModel returns a model with its tags, aliases and latest
// versions.
func (c *Client) GetRegisteredModel(ctx context.Context, name string) (*loopml.RegisteredModel, error) {
	m := new(loopml.RegisteredModel)
	if err := c.get(ctx, "registered-models/get", url.Values{"name": {name}}, modelField(m)); err != nil {
		return nil, err
	}
	return m, nil
}

// RenameRegisteredModel renames a model and returns it under its new name.
func (c *Client) RenameRegisteredModel(ctx context.Context, name, newName string) (*loopml.RegisteredModel, error) {
	m := new(loopml.RegisteredModel)
	err := c.post(ctx, "registered-models/rename", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("new_name", newName)
	}, modelField(m))
	if err != nil {
		return nil, err
	}
	return m, nil
}

// UpdateRegisteredModel sets a model's description.
func (c *Client) UpdateRegisteredModel(ctx context.Context, name, description string) (*loopml.RegisteredModel, error) {
	m := new(loopml.RegisteredModel)
	err := c.send(ctx, http.MethodPatch, "registered-models/update", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("description", description)
	}, modelField(m))
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DeleteRegisteredModel deletes a model with its versions and aliases.
func (c *Client) DeleteRegisteredModel(ctx context.Context, name string) error {
	return c.send(ctx, http.MethodDelete, "registered-models/delete", func(e *encoder) {
		e.strAlways("name", name)
	}, nil)
}

// searchValues is the query string of a registry search.
func searchValues(filter string, orderBy []string, maxResults int, pageToken string) url.Values {
	v := url.Values{}
	if filter != "" {
		v.Set("filter", filter)
	}
	if len(orderBy) > 0 {
		v["order_by"] = orderBy
	}
	if maxResults != 0 {
		v.Set("max_results", strconv.Itoa(maxResults))
	}
	if pageToken != "" {
		v.Set("page_token", pageToken)
	}
	return v
}

// SearchRegisteredModels returns one page of models and the next page
// token.
func (c *Client) SearchRegisteredModels(ctx context.Context, q loopml.RegisteredModelSearch) ([]*loopml.RegisteredModel, string, error) {
	var ms []*loopml.RegisteredModel
	var next string
	err := c.get(ctx, "registered-models/search", searchValues(q.Filter, q.OrderBy, q.MaxResults, q.PageToken),
		func(d *decoder, key []byte) (err error) {
			switch string(key) {
			case "registered_models":
				return d.array(func(d *decoder, _ int) error {
					m := new(loopml.RegisteredModel)
					ms = append(ms, m)
					return decodeRegisteredModel(d, m)
				})
			case "next_page_token":
				next, err = d.str()
				return err
			}
			return d.skip()
		})
	if err != nil {
		return nil, "", err
	}
	return ms, next, nil
}

// GetLatestVersions returns the newest version per stage (only the given
// stages when any are given).
func (c *Client) GetLatestVersions(ctx context.Context, name string, stages []string) ([]*loopml.ModelVersion, error) {
	var vs []*loopml.ModelVersion
	var next string
	err := c.post(ctx, "registered-models/get-latest-versions", func(e *encoder) {
		e.strAlways("name", name)
		encodeStrList(e, "stages", stages)
	}, versionsField(&vs, &next))
	if err != nil {
		return nil, err
	}
	return vs, nil
}

// SetRegisteredModelTag sets a model tag.
func (c *Client) SetRegisteredModelTag(ctx context.Context, name string, tag loopml.Tag) error {
	return c.post(ctx, "registered-models/set-tag", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("key", tag.Key)
		e.strAlways("value", tag.Value)
	}, nil)
}

// DeleteRegisteredModelTag removes a model tag.
func (c *Client) DeleteRegisteredModelTag(ctx context.Context, name, key string) error {
	return c.send(ctx, http.MethodDelete, "registered-models/delete-tag", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("key", key)
	}, nil)
}

// SetAlias points alias at version.
func (c *Client) SetAlias(ctx context.Context, name, alias, version string) error {
	return c.post(ctx, "registered-models/alias", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("alias", alias)
		e.strAlways("version", version)
	}, nil)
}

// DeleteAlias removes an alias.
func (c *Client) DeleteAlias(ctx context.Context, name, alias string) error {
	return c.send(ctx, http.MethodDelete, "registered-models/alias", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("alias", alias)
	}, nil)
}

// GetVersionByAlias returns the version an alias points at.
func (c *Client) GetVersionByAlias(ctx context.Context, name, alias string) (*loopml.ModelVersion, error) {
	v := new(loopml.ModelVersion)
	if err := c.get(ctx, "registered-models/alias", url.Values{"name": {name}, "alias": {alias}}, versionField(v)); err != nil {
		return nil, err
	}
	return v, nil
}

// CreateModelVersion registers a new version of v.Name and fills v in from
// the server's answer (version number, stage, status, and the source
// resolved from a runs:/ URI).
func (c *Client) CreateModelVersion(ctx context.Context, v *loopml.ModelVersion) error {
	got := new(loopml.ModelVersion)
	err := c.post(ctx, "model-versions/create", func(e *encoder) {
		e.strAlways("name", v.Name)
		e.strAlways("source", v.Source)
		e.str("run_id", v.RunID)
		encodeTagList(e, "tags", v.Tags)
		e.str("run_link", v.RunLink)
		e.str("description", v.Description)
	}, versionField(got))
	if err != nil {
		return err
	}
	*v = *got
	return nil
}

// GetModelVersion returns one version.
func (c *Client) GetModelVersion(ctx context.Context, name, version string) (*loopml.ModelVersion, error) {
	v := new(loopml.ModelVersion)
	if err := c.get(ctx, "model-versions/get", url.Values{"name": {name}, "version": {version}}, versionField(v)); err != nil {
		return nil, err
	}
	return v, nil
}

// UpdateModelVersion sets a version's description.
func (c *Client) UpdateModelVersion(ctx context.Context, name, version, description string) (*loopml.ModelVersion, error) {
	v := new(loopml.ModelVersion)
	err := c.send(ctx, http.MethodPatch, "model-versions/update", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("version", version)
		e.strAlways("description", description)
	}, versionField(v))
	if err != nil {
		return nil, err
	}
	return v, nil
}

// DeleteModelVersion deletes a version (and the aliases pointing at it).
func (c *Client) DeleteModelVersion(ctx context.Context, name, version string) error {
	return c.send(ctx, http.MethodDelete, "model-versions/delete", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("version", version)
	}, nil)
}

// SearchModelVersions returns one page of versions and the next page token.
func (c *Client) SearchModelVersions(ctx context.Context, q loopml.ModelVersionSearch) ([]*loopml.ModelVersion, string, error) {
	var vs []*loopml.ModelVersion
	var next string
	err := c.get(ctx, "model-versions/search", searchValues(q.Filter, q.OrderBy, q.MaxResults, q.PageToken), versionsField(&vs, &next))
	if err != nil {
		return nil, "", err
	}
	return vs, next, nil
}

// SetModelVersionTag sets a version tag.
func (c *Client) SetModelVersionTag(ctx context.Context, name, version string, tag loopml.Tag) error {
	return c.post(ctx, "model-versions/set-tag", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("version", version)
		e.strAlways("key", tag.Key)
		e.strAlways("value", tag.Value)
	}, nil)
}

// DeleteModelVersionTag removes a version tag.
func (c *Client) DeleteModelVersionTag(ctx context.Context, name, version, key string) error {
	return c.send(ctx, http.MethodDelete, "model-versions/delete-tag", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("version", version)
		e.strAlways("key", key)
	}, nil)
}

// TransitionModelVersionStage moves a version to stage, archiving the
// model's other versions in that stage when archiveExisting is set.
func (c *Client) TransitionModelVersionStage(ctx context.Context, name, version, stage string, archiveExisting bool) (*loopml.ModelVersion, error) {
	v := new(loopml.ModelVersion)
	err := c.post(ctx, "model-versions/transition-stage", func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("version", version)
		e.strAlways("stage", stage)
		e.key("archive_existing_versions")
		e.b = strconv.AppendBool(e.b, archiveExisting)
	}, versionField(v))
	if err != nil {
		return nil, err
	}
	return v, nil
}

// GetModelVersionDownloadURI returns the artifact URI of a version's files.
func (c *Client) GetModelVersionDownloadURI(ctx context.Context, name, version string) (string, error) {
	var uri string
	err := c.get(ctx, "model-versions/get-download-uri", url.Values{"name": {name}, "version": {version}},
		func(d *decoder, key []byte) (err error) {
			if string(key) == "artifact_uri" {
				uri, err = d.str()
				return err
			}
			return d.skip()
		})
	return uri, err
}

// loopmlGet calls one of loopml's own GET endpoints.
func (c *Client) loopmlGet(ctx context.Context, path string, q url.Values, fill func(d *decoder, key []byte) error) error {
	return c.do(ctx, http.MethodGet, loopmlPrefix+path, q, nil, fill)
}

// RegistryEvents returns the events matching q in ID order, following the
// server's pages until q.MaxResults events (0: 1000) are read or the log
// ends.
func (c *Client) RegistryEvents(ctx context.Context, q loopml.RegistryEventQuery) ([]loopml.RegistryEvent, error) {
	if q.MaxResults <= 0 {
		q.MaxResults = maxEventsPage
	}
	var out []loopml.RegistryEvent
	after := q.AfterID
	for {
		v := url.Values{}
		if q.Model != "" {
			v.Set("name", q.Model)
		}
		if q.Alias != "" {
			v.Set("alias", q.Alias)
		}
		if after != 0 {
			v.Set("after_id", strconv.FormatInt(after, 10))
		}
		if q.Until != 0 {
			v.Set("until", strconv.FormatInt(q.Until, 10))
		}
		page := maxEventsPage
		if q.MaxResults-len(out) < page {
			page = q.MaxResults - len(out)
		}
		v.Set("max_results", strconv.Itoa(page))
		var next int64
		err := c.loopmlGet(ctx, "registry/events", v, func(d *decoder, key []byte) (err error) {
			switch string(key) {
			case "events":
				return d.array(func(d *decoder, _ int) error {
					out = append(out, loopml.RegistryEvent{})
					return decodeRegistryEvent(d, &out[len(out)-1])
				})
			case "next_after_id":
				next, err = d.int64()
				return err
			}
			return d.skip()
		})
		if err != nil {
			return nil, err
		}
		if next == 0 || len(out) >= q.MaxResults {
			return out, nil
		}
		if next <= after {
			return nil, loopml.Errorf(loopml.EINTERNAL, "server sent next_after_id %d, not after %d", next, after)
		}
		after = next
	}
}

// AliasAt returns the version alias of model name pointed at at time t
// (epoch ms), or "" if it pointed nowhere then.
func (c *Client) AliasAt(ctx context.Context, name, alias string, t int64) (string, error) {
	var version string
	v := url.Values{"name": {name}, "alias": {alias}, "time": {strconv.FormatInt(t, 10)}}
	err := c.loopmlGet(ctx, "registry/alias-at", v, func(d *decoder, key []byte) (err error) {
		if string(key) == "version" {
			version, err = d.id()
			return err
		}
		return d.skip()
	})
	return version, err
}

// ModelLineage returns the lineage of the version uri resolves to.
func (c *Client) ModelLineage(ctx context.Context, uri string) (*Lineage, error) {
	l := new(Lineage)
	err := c.loopmlGet(ctx, "models/lineage", url.Values{"uri": {uri}}, func(d *decoder, key []byte) error {
		return decodeLineage(d, key, l)
	})
	if err != nil {
		return nil, err
	}
	if l.Version == nil {
		return nil, loopml.Errorf(loopml.EINTERNAL, "lineage of %q: the server sent no model_version", uri)
	}
	return l, nil
}

// ListStoreArtifacts lists the direct children of dir in the server's
// artifact store through the artifact proxy; paths are relative to the
// store root, as loopml.ArtifactStore.List returns them.
func (c *Client) ListStoreArtifacts(ctx context.Context, dir string) ([]loopml.ArtifactInfo, error) {
	clean, err := loopml.CleanArtifactPath(dir)
	if err != nil {
		return nil, err
	}
	var out []loopml.ArtifactInfo
	v := url.Values{}
	if clean != "" {
		v.Set("path", clean)
	}
	err = c.do(ctx, http.MethodGet, artifactListRoute, v, nil, func(d *decoder, key []byte) error {
		if string(key) != "files" {
			return d.skip()
		}
		return d.array(func(d *decoder, _ int) error {
			var f loopml.ArtifactInfo
			err := d.object(func(d *decoder, key []byte) (err error) {
				switch string(key) {
				case "path":
					f.Path, err = d.str()
				case "is_dir":
					f.IsDir, err = d.boolean()
				case "file_size":
					f.Size, err = d.int64()
				default:
					err = d.skip()
				}
				return err
			})
			if clean != "" {
				f.Path = clean + "/" + f.Path
			}
			out = append(out, f)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
