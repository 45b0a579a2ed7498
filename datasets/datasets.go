// Package datasets is the dataset registry's engine: it turns files into
// immutable dataset versions and back. A version is a content-addressed
// tree stored by package cas in the artifact store, recorded by a
// loopml.DatasetService with the schema and profile that package profile
// infers from its tabular files (CSV, TSV, JSON Lines, by extension).
//
// Add stores files and creates a version (nothing new when the tree is
// unchanged), Get restores a version byte for byte, Profiles loads the
// stored profiles and Diff compares two versions: files added, removed and
// changed, and for changed tables the schema changes and the per-column
// distribution change (PSI and KS for numeric columns on the reference's
// bins, Jensen–Shannon for categorical ones). Validate checks a version
// against YAML expectations (package validate) and records the result;
// Add does so for every new version when the dataset has rules attached
// or AddOptions.Rules is set, and quarantines a failing version (keeps it
// out of @latest) when AddOptions.Strict is set.
//
// It imports the root package, cas, profile, drift (pure statistics) and
// validate.
package datasets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sort"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/cas"
	"github.com/loopml/loopml/profile"
	"github.com/loopml/loopml/validate"
)

// Deps are the services the engine works with. Store and Artifacts are
// required; the zero value of the rest works.
type Deps struct {
	// Store records dataset versions.
	Store loopml.DatasetService
	// Artifacts holds the content-addressed objects and the profiles.
	Artifacts loopml.ArtifactStore
	// Validations records validation results and holds the rules
	// attached to datasets; nil uses Store if it implements it.
	Validations loopml.DatasetValidationService
	// IndexDir, when set, is cas's local index directory, so re-adding an
	// unchanged tree reads no file.
	IndexDir string
	// Logger receives progress and skipped files; nil discards.
	Logger *slog.Logger
}

func (d Deps) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// AddOptions configures Add. The zero value works.
type AddOptions struct {
	// Labels are recorded on a new version (e.g. period=2024-10).
	Labels map[string]string
	// Workers bounds hashing and profiling goroutines; ≤ 0 means GOMAXPROCS.
	Workers int
	// Rules is a YAML rules document (see package validate) the new
	// version is checked against; "" uses the rules attached to the
	// dataset, if any. RulesName labels it in reports and errors.
	Rules     string
	RulesName string
	// Strict makes a failed validation an error: the version is still
	// created and its report recorded, but quarantined (kept out of
	// @latest). It also validates without rules, adding the well_formed
	// check: a malformed row or an unreadable file fails it.
	Strict bool
	// Now is the time freshness rules are measured from; zero means now.
	Now time.Time
}

// AddResult is the outcome of Add.
type AddResult struct {
	// Version is the new version, or the existing latest version when the
	// tree was unchanged.
	Version *loopml.DatasetVersion
	// Created is false when the tree equals the latest version's.
	Created bool
	// Stats are cas's counters: files, bytes hashed and uploaded.
	Stats cas.Stats
	// Report and Validation are the outcome of validating the new
	// version; nil when it was not validated (no rules and not strict, or
	// an unchanged tree).
	Report     *validate.Report
	Validation *loopml.DatasetValidation
}

// ProfilePath returns the artifact store path of the profile of version v
// of dataset name.
func ProfilePath(name string, v int) string {
	return fmt.Sprintf("datasets/%s/v%d/profile.json", name, v)
}

// profileDoc is the stored profile JSON of a version: one profile per
// tabular file, by path.
type profileDoc struct {
	Version int                         `json:"loopml_dataset_profile"`
	Files   map[string]*profile.Profile `json:"files"`
	// Digests holds each profiled file's content digest, so that the next
	// version reuses the profiles of unchanged files.
	Digests map[string]cas.Digest `json:"digests,omitempty"`
	// Issues lists the tabular files that could not be read.
	Issues []profile.Issue `json:"issues,omitempty"`
}

// Tabular reports whether a file is profiled: CSV, TSV or JSON Lines by
// extension, optionally gzipped, or Parquet (profile.FormatOf decides).
func Tabular(p string) bool {
	_, err := profile.FormatOf(p)
	return err == nil
}

// Add stores the files named by paths (files, directory trees or globs,
// as cas.Add takes them) and records them as a new version of dataset
// name, with a profile and schema of each tabular file. When the tree's
// root digest equals the latest version's, it returns that version and
// Created false; the files' objects were already stored, so nothing is
// uploaded. It returns EINVALID for a bad name or label and ENOTFOUND for a
// path that does not exist.
//
// When opts.Rules is set, the dataset has rules attached, or opts.Strict,
// the new version is validated before it is recorded (see Validate), and
// the report and validation are recorded with it. A failed validation
// marks the version failed; with opts.Strict the version is also
// quarantined and Add returns the result together with an EINVALID error
// that summarises the failures. A file that cannot be read is skipped
// (no profile) and reported, unless opts.Strict. When the tree equals the
// newest version's and that version is quarantined, Add returns it; if it
// now passes validation (rules fixed), its quarantine is lifted.
func Add(ctx context.Context, d Deps, name string, paths []string, opts AddOptions) (*AddResult, error) {
	if err := loopml.ValidateDatasetName(name); err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "dataset %s: no path to add", name)
	}
	yaml, label, err := rulesFor(ctx, d, name, opts.Rules, opts.RulesName)
	if err != nil {
		return nil, err
	}
	var rules *validate.Rules
	if yaml != "" || opts.Strict {
		if rules, err = LoadRules(yaml, label); err != nil {
			return nil, err
		}
		if d.validations() == nil {
			return nil, loopml.Errorf(loopml.ENOTIMPLEMENTED, "dataset %s: this store does not record validations", name)
		}
	}
	log := d.logger()
	local := new(localFiles)
	m, stats, err := cas.Add(ctx, d.Artifacts, paths, cas.AddOptions{IndexDir: d.IndexDir, Workers: opts.Workers, Logger: log, LocalFile: local.record})
	if err != nil {
		return nil, fmt.Errorf("add dataset %s: %w", name, err)
	}
	res := &AddResult{Stats: stats}
	if v, ok, err := sameAsLatest(ctx, d, name, m.Root); err != nil || ok {
		res.Version = v
		return res, err
	}
	prev, err := previousProfiles(ctx, d, name)
	if err != nil {
		return nil, err
	}
	var val *loopml.DatasetValidation
	var checkErr error
	if rules != nil {
		res.Report, val, checkErr = validateNew(ctx, d, name, m, yaml, rules, opts, local)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The validation pass profiled the files it read: use those
		// profiles rather than read the files again (not when drift rules
		// binned columns on a reference's edges).
		if res.Report != nil && !hasDrift(rules) {
			prev = withProfiles(prev, m, res.Report.FileProfiles)
		}
	}
	doc, schema, err := profileManifest(ctx, d, m, prev, opts.Workers, local)
	if err != nil {
		return nil, fmt.Errorf("profile dataset %s: %w", name, err)
	}
	// Version numbers are taken optimistically: the profile is written at
	// the next number's path, then that number is claimed; a concurrent
	// add that won it makes us look again.
	for attempt := 0; attempt < 5; attempt++ {
		next := 1
		if s, err := d.Store.GetDataset(ctx, name); err == nil {
			next = s.NextVersion
		} else if loopml.ErrorCode(err) != loopml.ENOTFOUND {
			return nil, err
		}
		v := &loopml.DatasetVersion{
			Name: name, Version: next, Root: m.Root.String(), Files: m.Files, Size: m.Size,
			Labels: opts.Labels, Schema: schema,
		}
		if val != nil {
			v.Validation = val.Status
			v.Quarantined = opts.Strict && val.Status != loopml.ValidationPassed
		}
		if doc != nil {
			v.ProfileRef = ProfilePath(name, next)
			if _, err := d.Artifacts.Put(ctx, v.ProfileRef, bytes.NewReader(doc)); err != nil {
				return nil, fmt.Errorf("store profile of dataset %s: %w", name, err)
			}
		}
		// When a concurrent add of the same tree wins (created false), the
		// profile just written is left in place: the winner may have
		// written the same path, and its content is equivalent.
		out, created, err := d.Store.CreateDatasetVersion(ctx, v)
		if loopml.ErrorCode(err) == loopml.ECONFLICT {
			log.Debug("dataset version taken concurrently, retrying", "dataset", name, "version", next)
			if v, ok, err := sameAsLatest(ctx, d, name, m.Root); err != nil || ok {
				res.Version = v
				return res, err
			}
			continue
		} else if err != nil {
			return nil, err
		}
		res.Version, res.Created = out, created
		log.Info("dataset version", "dataset", name, "version", out.Version, "created", created,
			"files", m.Files, "bytes", m.Size, "uploaded", stats.BytesUploaded)
		if val == nil {
			return res, nil
		}
		return res, recordAddValidation(ctx, d, res, val, checkErr, opts.Strict)
	}
	return nil, loopml.Errorf(loopml.ECONFLICT, "dataset %s: too many concurrent adds, try again", name)
}

// recordAddValidation records the validation of the version Add created
// (or found: an unchanged quarantined tree), lifts the quarantine of a
// found version that now passes, quarantines it when strict and failing,
// and returns the strict failure as an error.
func recordAddValidation(ctx context.Context, d Deps, res *AddResult, val *loopml.DatasetValidation, checkErr error, strict bool) error {
	v := res.Version
	val.Version = v.Version
	if err := recordValidation(ctx, d, val, res.Report, checkErr); err != nil {
		return err
	}
	res.Validation = val
	v.Validation = val.Status
	passed := val.Status == loopml.ValidationPassed
	if want := strict && !passed; v.Quarantined && passed || !v.Quarantined && want {
		if err := d.validations().SetDatasetVersionQuarantine(ctx, v.Name, v.Version, want); err != nil {
			return err
		}
		v.Quarantined = want
	}
	if strict && !passed {
		return loopml.Errorf(loopml.EINVALID, "dataset %s@v%d %s validation and is quarantined (not @latest): %s; report at %s",
			v.Name, v.Version, map[bool]string{true: "could not finish", false: "failed"}[val.Status == loopml.ValidationError], val.Summary, val.ReportRef)
	}
	return nil
}

// sameAsLatest returns the latest version of name when its root is root.
func sameAsLatest(ctx context.Context, d Deps, name string, root cas.Digest) (*loopml.DatasetVersion, bool, error) {
	latest, err := d.Store.GetDatasetVersion(ctx, loopml.DatasetRef{Name: name})
	switch {
	case loopml.ErrorCode(err) == loopml.ENOTFOUND:
		return nil, false, nil
	case err != nil:
		return nil, false, err
	case latest.Root == root.String():
		return latest, true, nil
	}
	return nil, false, nil
}

// previousProfiles loads the profile document of the latest version of
// name, to reuse the profiles of unchanged files; an empty one when there
// is none or it cannot be read (profiling again is always correct).
func previousProfiles(ctx context.Context, d Deps, name string) (profileDoc, error) {
	latest, err := d.Store.GetDatasetVersion(ctx, loopml.DatasetRef{Name: name})
	if loopml.ErrorCode(err) == loopml.ENOTFOUND {
		return profileDoc{}, nil
	} else if err != nil {
		return profileDoc{}, err
	}
	doc, err := loadProfileDoc(ctx, d, latest)
	if err != nil {
		d.logger().Warn("previous profiles unreadable; profiling every file", "dataset", name, "version", latest.Version, "err", err)
		return profileDoc{}, nil
	}
	return doc, nil
}

// profileManifest profiles every tabular file of m, reading its local file
// (the same bytes, verified by digest) when local knows it and else the
// stored copy, reusing prev's profile of a file with the same path and
// digest, and returns the profile document and the schema JSON; nil and
// "" without tabular files.
func profileManifest(ctx context.Context, d Deps, m cas.Manifest, prev profileDoc, workers int, local *localFiles) ([]byte, string, error) {
	doc := profileDoc{Version: 1, Files: map[string]*profile.Profile{}, Digests: map[string]cas.Digest{}}
	schemas := map[string]profile.Schema{}
	for _, e := range m.Entries {
		if e.Dir || !Tabular(e.Path) {
			continue
		}
		p := prev.Files[e.Path]
		if p == nil || prev.Digests[e.Path] != e.Digest {
			var err error
			if p, err = profileAdded(ctx, d, local, e, profile.Options{Workers: workers}); err != nil {
				// A file that does not parse (a broken gzip stream, say)
				// does not stop the others: it is reported and left
				// unprofiled (a strict validation then fails). Missing or
				// corrupt objects (loopml errors) are errors.
				var le *loopml.Error
				if ctx.Err() != nil || errors.As(err, &le) {
					return nil, "", err
				}
				d.logger().Warn("file unreadable; not profiled", "file", e.Path, "err", err)
				doc.Issues = append(doc.Issues, profile.Issue{File: e.Path, Reason: err.Error()})
				continue
			}
		}
		doc.Files[e.Path] = p
		doc.Digests[e.Path] = e.Digest
		schemas[e.Path] = p.Schema()
	}
	if len(doc.Files) == 0 && len(doc.Issues) == 0 {
		return nil, "", nil
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, "", loopml.WrapError(loopml.EINTERNAL, err, "encode profile")
	}
	s, err := json.Marshal(schemas)
	if err != nil {
		return nil, "", loopml.WrapError(loopml.EINTERNAL, err, "encode schema")
	}
	return b, string(s), nil
}

// profileEntry profiles one stored file.
func profileEntry(ctx context.Context, d Deps, e cas.Entry, opts profile.Options) (*profile.Profile, error) {
	r, err := cas.OpenFile(ctx, d.Artifacts, e)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	p, err := profile.ProfileReader(ctx, r, path.Base(e.Path), opts)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", e.Path, err)
	}
	return p, nil
}

// Resolve parses ref (NAME, NAME@latest, NAME@v3, NAME@tag) and returns the
// version it names.
func Resolve(ctx context.Context, d Deps, ref string) (*loopml.DatasetVersion, error) {
	r, err := loopml.ParseDatasetRef(ref)
	if err != nil {
		return nil, err
	}
	return d.Store.GetDatasetVersion(ctx, r)
}

// Manifest loads the file tree of a version, verifying every tree object.
func Manifest(ctx context.Context, d Deps, v *loopml.DatasetVersion) (cas.Manifest, error) {
	root, err := cas.ParseDigest(v.Root)
	if err != nil {
		return cas.Manifest{}, loopml.WrapError(loopml.EINTERNAL, err, "dataset %s v%d: invalid root %q", v.Name, v.Version, v.Root)
	}
	return cas.LoadManifest(ctx, d.Artifacts, root)
}

// Get restores the files of the version ref names under dest, verifying
// every object, and returns the version.
func Get(ctx context.Context, d Deps, ref, dest string) (*loopml.DatasetVersion, error) {
	v, err := Resolve(ctx, d, ref)
	if err != nil {
		return nil, err
	}
	m, err := Manifest(ctx, d, v)
	if err != nil {
		return nil, err
	}
	if err := cas.Checkout(ctx, d.Artifacts, m, dest); err != nil {
		return nil, fmt.Errorf("get %s@v%d: %w", v.Name, v.Version, err)
	}
	return v, nil
}

// Profiles loads the stored profiles of a version's tabular files by path;
// an empty map when it has none.
func Profiles(ctx context.Context, d Deps, v *loopml.DatasetVersion) (map[string]*profile.Profile, error) {
	doc, err := loadProfileDoc(ctx, d, v)
	return doc.Files, err
}

// loadProfileDoc reads the profile document of a version.
func loadProfileDoc(ctx context.Context, d Deps, v *loopml.DatasetVersion) (profileDoc, error) {
	if v.ProfileRef == "" {
		return profileDoc{Files: map[string]*profile.Profile{}}, nil
	}
	rc, err := d.Artifacts.Open(ctx, v.ProfileRef)
	if err != nil {
		return profileDoc{}, fmt.Errorf("open profile of %s@v%d: %w", v.Name, v.Version, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return profileDoc{}, fmt.Errorf("read profile of %s@v%d: %w", v.Name, v.Version, err)
	}
	var doc profileDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return profileDoc{}, loopml.WrapError(loopml.EINTERNAL, err, "profile of %s@v%d at %s is corrupt", v.Name, v.Version, v.ProfileRef)
	}
	if doc.Files == nil {
		doc.Files = map[string]*profile.Profile{}
	}
	return doc, nil
}

// SortedPaths returns the keys of a profile map in order.
func SortedPaths(ps map[string]*profile.Profile) []string {
	out := make([]string, 0, len(ps))
	for p := range ps {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
