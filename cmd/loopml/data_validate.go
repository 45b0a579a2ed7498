package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
	"github.com/loopml/loopml/validate"
	"github.com/spf13/cobra"
)

// validations returns the store's validation service.
func (e *dataEnv) validations() (loopml.DatasetValidationService, error) {
	if e.deps.Validations != nil {
		return e.deps.Validations, nil
	}
	if vs, ok := e.deps.Store.(loopml.DatasetValidationService); ok {
		return vs, nil
	}
	return nil, loopml.Errorf(loopml.ENOTIMPLEMENTED, "this store does not record dataset validations")
}

// openValidations opens the data environment and its validation service;
// the caller closes env.svc.
func openValidations(ctx context.Context, o clientOptions, getenv func(string) (string, bool), write bool, stderr io.Writer) (*dataEnv, loopml.DatasetValidationService, error) {
	env, err := openData(ctx, o, getenv, write, stderr)
	if err != nil {
		return nil, nil, err
	}
	vs, err := env.validations()
	if err != nil {
		env.svc.close()
		return nil, nil, err
	}
	return env, vs, nil
}

// readRulesFile reads a rules file and checks that it parses.
func readRulesFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", loopml.Errorf(loopml.EINVALID, "rules: %v", err)
	}
	if _, err := datasets.LoadRules(string(b), filepath.Base(path)); err != nil {
		return "", err
	}
	return string(b), nil
}

// validationView is the JSON form of a validation record.
type validationView struct {
	ID                int64  `json:"id"`
	Name              string `json:"name"`
	Version           int    `json:"version"`
	Status            string `json:"status"`
	Checks            int    `json:"checks"`
	Failed            int    `json:"failed"`
	Strict            bool   `json:"strict,omitempty"`
	Summary           string `json:"summary"`
	RulesDigest       string `json:"rules_digest"`
	ReportRef         string `json:"report_ref,omitempty"`
	CreatedBy         string `json:"created_by,omitempty"`
	CreationTimestamp int64  `json:"creation_timestamp,omitempty"`
}

func newValidationView(v *loopml.DatasetValidation) validationView {
	return validationView{ID: v.ID, Name: v.Name, Version: v.Version, Status: v.Status, Checks: v.Checks, Failed: v.Failed,
		Strict: v.Strict, Summary: v.Summary, RulesDigest: v.RulesDigest, ReportRef: v.ReportRef,
		CreatedBy: v.CreatedBy, CreationTimestamp: v.CreationTimestamp}
}

// shortDigest abbreviates a rules digest for tables.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return orDash(d)
}

// validationFailed is the error of a command whose validation failed: the
// report has been printed, the exit code is 1.
func validationFailed(v *loopml.DatasetValidation) error {
	return loopml.Errorf(loopml.EINVALID, "%s@v%d: validation %s (%d of %d checks failed)", v.Name, v.Version, v.Status, v.Failed, v.Checks)
}

func newDataValidateCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	var rulesFile string
	var strict, record bool
	cmd := &cobra.Command{
		Use:   "validate NAME[@VERSION]",
		Short: "Check a dataset version against expectations (YAML rules); exit 1 when they fail",
		Long: `Check a dataset version's tabular files against a rules file (--rules) or,
without one, the rules attached to the dataset (loopml data rules set). The
report lists every rule with what was observed and expected, and example
offending rows as file:line. --record stores the report and records the
result, which then shows in "data show" and "data validations". --strict
also fails on malformed rows and unreadable files. The exit code is 1 when
the validation fails or cannot run.`,
		Example: `  loopml data validate ratings@v3 --rules rules.yaml
  loopml data validate ratings --record -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := datasets.ValidateOptions{Strict: strict, Record: record}
			if rulesFile != "" {
				y, err := readRulesFile(rulesFile)
				if err != nil {
					return err
				}
				opts.Rules, opts.RulesName = y, filepath.Base(rulesFile)
			}
			env, err := openData(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			rep, val, err := datasets.Validate(cmd.Context(), env.deps, args[0], opts)
			if err != nil {
				if val != nil && val.ID != 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "Recorded validation %d of %s@v%d: %s\n", val.ID, val.Name, val.Version, val.Status)
				}
				return err
			}
			w := cmd.OutOrStdout()
			if o.output == "json" {
				if err := writeJSON(w, struct {
					Validation validationView   `json:"validation"`
					Report     *validate.Report `json:"report"`
				}{newValidationView(val), rep}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "%s@v%d: ", val.Name, val.Version)
				if err := rep.WriteText(w); err != nil {
					return err
				}
				printIssues(w, rep)
				if val.ID != 0 {
					fmt.Fprintf(w, "\nRecorded validation %d: %s (report at %s)\n", val.ID, val.Status, val.ReportRef)
				}
			}
			if val.Status != loopml.ValidationPassed {
				return validationFailed(val)
			}
			return nil
		},
	}
	addClientFlags(cmd, &o)
	cmd.Flags().StringVar(&rulesFile, "rules", "", "rules YAML file (default: the rules attached to the dataset)")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on malformed rows and unreadable files too")
	cmd.Flags().BoolVar(&record, "record", false, "store the report and record the result with the version")
	return cmd
}

// printIssues lists the malformed rows and unreadable files of a report.
func printIssues(w io.Writer, rep *validate.Report) {
	if len(rep.Issues) == 0 {
		return
	}
	fmt.Fprintf(w, "\nSkipped input (%d malformed rows):\n", rep.BadRows)
	for _, is := range rep.Issues {
		fmt.Fprintf(w, "  %s\n", is)
	}
}

func newDataValidationsCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	var report bool
	cmd := &cobra.Command{
		Use:   "validations NAME[@VERSION]",
		Short: "List the recorded validations of a dataset (or of one version), newest first",
		Example: `  loopml data validations ratings
  loopml data validations ratings@v3 --report`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			env, vs, err := openValidations(ctx, o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			name, version, err := validationsTarget(ctx, env, args[0])
			if err != nil {
				return err
			}
			list, err := vs.ListDatasetValidations(ctx, name, version)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if report {
				if len(list) == 0 {
					return loopml.Errorf(loopml.ENOTFOUND, "%s has no recorded validation", args[0])
				}
				rep, err := datasets.LoadValidationReport(ctx, env.deps, list[0])
				if err != nil {
					return err
				}
				if o.output == "json" {
					return writeJSON(w, struct {
						Validation validationView   `json:"validation"`
						Report     *validate.Report `json:"report"`
					}{newValidationView(list[0]), rep})
				}
				fmt.Fprintf(w, "Validation %d of %s@v%d (%s): ", list[0].ID, list[0].Name, list[0].Version, fmtTime(list[0].CreationTimestamp))
				if len(rep.Results) == 0 {
					fmt.Fprintf(w, "%s\n", list[0].Summary)
					return nil
				}
				if err := rep.WriteText(w); err != nil {
					return err
				}
				printIssues(w, rep)
				return nil
			}
			views := make([]validationView, len(list))
			for i, v := range list {
				views[i] = newValidationView(v)
			}
			if o.output == "json" {
				return writeJSON(w, views)
			}
			tw := newTable(w)
			fmt.Fprintln(tw, "ID\tVERSION\tSTATUS\tFAILED\tRULES\tCREATED\tSUMMARY")
			for _, v := range views {
				strict := ""
				if v.Strict {
					strict = " (strict)"
				}
				fmt.Fprintf(tw, "%d\tv%d\t%s%s\t%d/%d\t%s\t%s\t%s\n", v.ID, v.Version, v.Status, strict, v.Failed, v.Checks,
					shortDigest(v.RulesDigest), fmtTime(v.CreationTimestamp), oneLineCut(v.Summary, 120))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	cmd.Flags().BoolVar(&report, "report", false, "print the newest validation's full report")
	return cmd
}

// validationsTarget reads NAME (every version) or NAME@VERSION (one).
func validationsTarget(ctx context.Context, env *dataEnv, arg string) (string, int, error) {
	ref, err := loopml.ParseDatasetRef(arg)
	if err != nil {
		return "", 0, err
	}
	if !strings.Contains(arg, "@") {
		return ref.Name, 0, nil
	}
	v, err := env.deps.Store.GetDatasetVersion(ctx, ref)
	if err != nil {
		return "", 0, err
	}
	return v.Name, v.Version, nil
}

// oneLineCut shortens s to n runes for a table cell.
func oneLineCut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func newDataQuarantineCommand(getenv func(string) (string, bool), release bool) *cobra.Command {
	var o clientOptions
	var off bool
	use, short, example := "quarantine NAME@VERSION", "Keep a dataset version out of @latest (--off releases it)",
		`  loopml data quarantine ratings@v7
  loopml data quarantine ratings@v7 --off`
	if release {
		use, short, example = "release NAME@VERSION", "Release a quarantined dataset version: it can be @latest again",
			`  loopml data release ratings@v7`
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, err := loopml.ParseDatasetRef(args[0])
			if err != nil {
				return err
			}
			if ref.Version == 0 && ref.Tag == "" {
				return loopml.Errorf(loopml.EINVALID, "name the version: %s@vN or %s@tag", ref.Name, ref.Name)
			}
			env, vs, err := openValidations(ctx, o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			v, err := env.deps.Store.GetDatasetVersion(ctx, ref)
			if err != nil {
				return err
			}
			q := !release && !off
			if err := vs.SetDatasetVersionQuarantine(ctx, v.Name, v.Version, q); err != nil {
				return err
			}
			latest, err := env.deps.Store.GetDatasetVersion(ctx, loopml.DatasetRef{Name: v.Name})
			now := "no version is @latest (all quarantined)"
			if err == nil {
				now = fmt.Sprintf("@latest is v%d", latest.Version)
			}
			verb := "Released"
			if q {
				verb = "Quarantined"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s@v%d; %s\n", verb, v.Name, v.Version, now)
			return nil
		},
	}
	addClientFlags(cmd, &o)
	if !release {
		cmd.Flags().BoolVar(&off, "off", false, "release the version instead")
	}
	return cmd
}

// addValidationView returns the JSON view of an add's validation, nil if
// the version was not validated.
func addValidationView(res *datasets.AddResult) *validationView {
	if res.Validation == nil {
		return nil
	}
	v := newValidationView(res.Validation)
	return &v
}

// printAddValidation prints the outcome of an add's validation.
func printAddValidation(w io.Writer, res *datasets.AddResult) {
	v := res.Version
	if val := res.Validation; val != nil {
		fmt.Fprintf(w, "Validation %s: %s\n", strings.ToUpper(val.Status), val.Summary)
		if val.ReportRef != "" {
			fmt.Fprintf(w, "Report: loopml data validations %s@v%d --report\n", v.Name, v.Version)
		}
	}
	if v.Quarantined {
		fmt.Fprintf(w, "%s@v%d is quarantined: it is not @latest (loopml data release %s@v%d lifts it)\n", v.Name, v.Version, v.Name, v.Version)
	}
}

// validationStatusLine describes a version's validation and quarantine
// for data show: the status and summary of its newest validation.
func validationStatusLine(ctx context.Context, env *dataEnv, v *loopml.DatasetVersion) string {
	s := "not validated"
	if v.Validation != "" {
		s = v.Validation
		if vs, err := env.validations(); err == nil {
			if val, err := vs.LatestDatasetValidation(ctx, loopml.DatasetRef{Name: v.Name, Version: v.Version}); err == nil {
				s += " (" + fmtTime(val.CreationTimestamp) + "): " + oneLineCut(val.Summary, 200)
			}
		}
	}
	if v.Quarantined {
		s += "; QUARANTINED: not @latest (loopml data release " + v.Name + "@v" + fmt.Sprint(v.Version) + " lifts it)"
	}
	return s
}
