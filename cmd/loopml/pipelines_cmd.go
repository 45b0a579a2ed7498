package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/spf13/cobra"
)

// newPipelinesCommand groups the server-side pipeline commands.
func newPipelinesCommand(getenv func(string) (string, bool)) *cobra.Command {
	p := &cobra.Command{
		Use:   "pipelines",
		Short: "Run pipelines on a loopml server and manage their triggers",
		Long: `A loopml server runs pipelines submitted to it (a loopml.yaml on the server,
or spec text with a working directory on the server) with a bounded
concurrency (loopml server --pipeline-concurrency), and starts runs from
stored triggers: a cron schedule, a new dataset version, a registry event, or
an API call ("loopml pipelines triggers fire"). Each trigger has a concurrency
policy: skip (no new run while one is queued or running), queue, or replace
(cancel the others). Several servers on one PostgreSQL share the work: each
tick and each run happens once.

These commands talk to a server: set --tracking-uri or ` + trackingURIEnv + `.`,
	}
	triggers := &cobra.Command{Use: "triggers", Short: "Manage stored pipeline triggers"}
	triggers.AddCommand(newTriggersCreateCommand(getenv), newTriggersListCommand(getenv), newTriggersRmCommand(getenv), newTriggersFireCommand(getenv))
	p.AddCommand(newPipelinesSubmitCommand(getenv), newPipelinesRunsCommand(getenv), newPipelinesCancelCommand(getenv), triggers)
	return p
}

// pipelineClient returns the HTTP client of the server the commands talk
// to.
func pipelineClient(o clientOptions, getenv func(string) (string, bool)) (*httpapi.Client, error) {
	uri := o.trackingURI
	if uri == "" {
		uri, _ = getenv(trackingURIEnv)
	}
	if uri == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "pipelines commands talk to a loopml server: set --tracking-uri or %s", trackingURIEnv)
	}
	if u, err := url.Parse(uri); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, loopml.Errorf(loopml.EINVALID, "tracking-uri %q must be an http:// or https:// URL", uri)
	}
	return httpapi.NewClient(uri, &http.Client{Timeout: time.Minute}), nil
}

func addPipelineClientFlags(cmd *cobra.Command, o *clientOptions) {
	f := cmd.Flags()
	f.StringVar(&o.trackingURI, "tracking-uri", "", "http(s) URL of the loopml server [env "+trackingURIEnv+"]")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
}

// sourceFlags are the flags that name a pipeline on the server.
type sourceFlags struct {
	path, specFile, dir string
	set                 []string
}

func (s *sourceFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&s.path, "path", "", "the pipeline on the server: a loopml.yaml or its directory (absolute)")
	f.StringVar(&s.specFile, "spec", "", "a local loopml.yaml whose text is sent (with --dir)")
	f.StringVar(&s.dir, "dir", "", "with --spec: the working directory on the server (absolute)")
	f.StringArrayVar(&s.set, "set", nil, "override a parameter (key=value), repeatable")
}

func (s *sourceFlags) source() (loopml.PipelineSource, error) {
	src := loopml.PipelineSource{Path: s.path, Dir: s.dir, Set: s.set}
	if s.specFile != "" {
		b, err := os.ReadFile(s.specFile)
		if err != nil {
			return src, loopml.Errorf(loopml.EINVALID, "spec: %v", err)
		}
		src.Spec = string(b)
		if src.Dir == "" {
			// Same machine (a local server): the spec's own directory.
			if abs, err := filepath.Abs(filepath.Dir(s.specFile)); err == nil {
				src.Dir = abs
			}
		}
	}
	return src, src.Validate()
}

func newPipelinesSubmitCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	var sf sourceFlags
	var policy string
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Queue a pipeline run on the server",
		Example: `  loopml pipelines submit --path /srv/pipelines/movielens
  loopml pipelines submit --spec loopml.yaml --dir /srv/work/movielens --set mf.k=64 --policy replace`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := pipelineClient(o, getenv)
			if err != nil {
				return err
			}
			src, err := sf.source()
			if err != nil {
				return err
			}
			r, err := c.SubmitPipelineRun(cmd.Context(), src, policy)
			if err != nil {
				return err
			}
			return printPipelineRuns(cmd.OutOrStdout(), o.output, []*loopml.PipelineRun{r})
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&policy, "policy", "queue", "if the pipeline has a run queued or running: skip, queue or replace")
	addPipelineClientFlags(cmd, &o)
	return cmd
}

func newPipelinesRunsCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	var q loopml.PipelineRunQuery
	cmd := &cobra.Command{
		Use:     "runs [ID]",
		Short:   "List server-side pipeline runs (newest first), or show one",
		Example: "  loopml pipelines runs --status running\n  loopml pipelines runs 0192f0c2...",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := pipelineClient(o, getenv)
			if err != nil {
				return err
			}
			var runs []*loopml.PipelineRun
			if len(args) == 1 {
				r, err := c.GetPipelineRun(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				runs = append(runs, r)
			} else if runs, err = c.ListPipelineRuns(cmd.Context(), q); err != nil {
				return err
			}
			return printPipelineRuns(cmd.OutOrStdout(), o.output, runs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Pipeline, "pipeline", "", "only runs of this pipeline")
	f.StringVar(&q.Trigger, "trigger", "", "only runs started by this trigger")
	f.StringVar(&q.Status, "status", "", "only runs with this status: queued, running, succeeded, failed or cancelled")
	f.IntVar(&q.MaxResults, "max", 50, "most runs listed")
	addPipelineClientFlags(cmd, &o)
	return cmd
}

func newPipelinesCancelCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	var reason string
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a queued run, or stop a running one (within a heartbeat)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := pipelineClient(o, getenv)
			if err != nil {
				return err
			}
			r, err := c.CancelPipelineRun(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return printPipelineRuns(cmd.OutOrStdout(), o.output, []*loopml.PipelineRun{r})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "recorded on the run")
	addPipelineClientFlags(cmd, &o)
	return cmd
}

func newTriggersCreateCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	var sf sourceFlags
	var t loopml.PipelineTrigger
	var disabled bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Store a trigger: cron, data, model or api",
		Example: `  loopml pipelines triggers create nightly --path /srv/pipelines/movielens --cron "0 3 * * *" --policy queue
  loopml pipelines triggers create on-ratings --path /srv/pipelines/movielens --on-data ratings --require-validation
  loopml pipelines triggers create on-upstream --path /srv/pipelines/movielens --on-model embeddings@champion
  loopml pipelines triggers create hook --path /srv/pipelines/movielens   # fired by "triggers fire" or the API`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := pipelineClient(o, getenv)
			if err != nil {
				return err
			}
			if t.Source, err = sf.source(); err != nil {
				return err
			}
			t.Name, t.Kind, t.Enabled = args[0], loopml.TriggerAPI, !disabled
			n := 0
			for kind, v := range map[string]string{loopml.TriggerCron: t.Schedule, loopml.TriggerData: t.Dataset, loopml.TriggerModel: t.Model} {
				if v != "" {
					t.Kind = kind
					n++
				}
			}
			if n > 1 {
				return loopml.Errorf(loopml.EINVALID, "give one of --cron, --on-data and --on-model (one trigger each)")
			}
			if err := c.CreatePipelineTrigger(cmd.Context(), &t); err != nil {
				return err
			}
			return printTriggers(cmd.OutOrStdout(), o.output, []*loopml.PipelineTrigger{&t})
		},
	}
	sf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&t.Schedule, "cron", "", "cron schedule (5 fields, or @daily, @every 1h)")
	f.StringVar(&t.Dataset, "on-data", "", "start a run when this dataset gets a new version")
	f.BoolVar(&t.RequireValidation, "require-validation", false, "with --on-data: only versions whose validation passed")
	f.StringVar(&t.Model, "on-model", "", "start a run on a new version of model NAME, or when alias NAME@ALIAS moves")
	f.StringVar(&t.Policy, "policy", "skip", "if the pipeline has a run queued or running: skip, queue or replace")
	f.BoolVar(&disabled, "disabled", false, "store the trigger disabled")
	addPipelineClientFlags(cmd, &o)
	return cmd
}

func newTriggersListCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the stored triggers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := pipelineClient(o, getenv)
			if err != nil {
				return err
			}
			list, err := c.ListPipelineTriggers(cmd.Context())
			if err != nil {
				return err
			}
			return printTriggers(cmd.OutOrStdout(), o.output, list)
		},
	}
	addPipelineClientFlags(cmd, &o)
	return cmd
}

func newTriggersRmCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a stored trigger (its runs stay)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := pipelineClient(o, getenv)
			if err != nil {
				return err
			}
			if err := c.DeletePipelineTrigger(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted trigger %s\n", args[0])
			return nil
		},
	}
	addPipelineClientFlags(cmd, &o)
	return cmd
}

func newTriggersFireCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "fire NAME",
		Short: "Start a run of a trigger now (as an API or webhook call does)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := pipelineClient(o, getenv)
			if err != nil {
				return err
			}
			r, err := c.FirePipelineTrigger(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printPipelineRuns(cmd.OutOrStdout(), o.output, []*loopml.PipelineRun{r})
		},
	}
	addPipelineClientFlags(cmd, &o)
	return cmd
}

func printPipelineRuns(w io.Writer, output string, runs []*loopml.PipelineRun) error {
	if output == "json" {
		if runs == nil {
			runs = []*loopml.PipelineRun{}
		}
		return writeJSON(w, runs)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tPIPELINE\tSTATUS\tSTARTED BY\tQUEUED\tTRACKING RUN\tREASON")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, orDash(r.Pipeline), r.Status, r.StartedBy, fmtTime(r.QueuedAt),
			orDash(r.TrackingRunID), orDash(firstLineOf(r.Reason)))
	}
	return tw.Flush()
}

func printTriggers(w io.Writer, output string, list []*loopml.PipelineTrigger) error {
	if output == "json" {
		if list == nil {
			list = []*loopml.PipelineTrigger{}
		}
		return writeJSON(w, list)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tPIPELINE\tKIND\tON\tPOLICY\tENABLED\tSOURCE")
	for _, t := range list {
		on := map[string]string{loopml.TriggerCron: t.Schedule, loopml.TriggerData: t.Dataset, loopml.TriggerModel: t.Model}[t.Kind]
		src := t.Source.Path
		if src == "" {
			src = "spec in " + t.Source.Dir
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\n", t.Name, orDash(t.Pipeline), t.Kind, orDash(on), t.Policy, t.Enabled, src)
	}
	return tw.Flush()
}
