package pipeline

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// Tags that identify the process running a pipeline, so that a later run
// can tell that it died (kill -9, power loss) and close its runs.
const (
	TagRunnerHost  = "loopml.runner.host"
	TagRunnerPID   = "loopml.runner.pid"
	TagRunnerStart = "loopml.runner.start" // the process's start time (Linux: clock ticks since boot)
)

// runnerTags describe this process.
func runnerTags() []loopml.Tag {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return []loopml.Tag{
		{Key: TagRunnerHost, Value: host},
		{Key: TagRunnerPID, Value: strconv.Itoa(pid)},
		{Key: TagRunnerStart, Value: processStart(pid)},
	}
}

// processStart returns a token that changes when pid is reused: the start
// time from /proc (Linux), or "" where it is unavailable.
func processStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	// Fields after the command name (which may contain spaces) in ")".
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19] // field 22: starttime
}

// runnerGone reports whether the runner recorded in a run's tags is known
// to be dead: it ran on this host and no process with its pid and start
// time exists. A runner on another host is never declared gone.
func runnerGone(r *loopml.Run) (bool, string) {
	tag := func(k string) string {
		for _, t := range r.Tags {
			if t.Key == k {
				return t.Value
			}
		}
		return ""
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(tag(TagRunnerPID))
	if tag(TagRunnerHost) != host || err != nil || pid <= 0 {
		return false, ""
	}
	if pid == os.Getpid() && tag(TagRunnerStart) == processStart(pid) {
		return false, ""
	}
	start := processStart(pid)
	if start != "" && start == tag(TagRunnerStart) {
		return false, "" // still running
	}
	if start == "" {
		if _, err := os.Stat("/proc/self/stat"); err != nil {
			return false, "" // no /proc: cannot tell
		}
	}
	return true, fmt.Sprintf("interrupted: the runner (pid %d on %s) stopped without finishing the run", pid, host)
}

// RecoverInterrupted marks FAILED, with the reason in the loopml.error tag,
// the runs of pipeline spec (and their stage runs) left RUNNING in its
// experiment by a runner on this host that no longer exists. It returns
// the ids of the pipeline runs it closed. Run calls it before starting.
// Nothing a dead runner half-wrote is in the cache: entries are written
// only after a stage's outputs are stored, so the next run resumes from
// the stages that completed.
func RecoverInterrupted(ctx context.Context, spec *Spec, deps Deps) ([]string, error) {
	e, err := deps.Experiments.GetExperimentByName(ctx, spec.Experiment)
	if loopml.ErrorCode(err) == loopml.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	q := loopml.RunSearch{ExperimentIDs: []string{e.ID}, MaxResults: 1000,
		Filter: fmt.Sprintf("tags.`%s` = '%s' and attributes.status = 'RUNNING'", TagPipeline, strings.ReplaceAll(spec.Name, "'", "''"))}
	runs, _, err := deps.Runs.SearchRuns(ctx, q)
	if err != nil {
		return nil, err
	}
	var closed []string
	for _, r := range runs {
		if hasTag(r, loopml.TagParentRunID) {
			continue // stage runs are closed with their pipeline run
		}
		gone, why := runnerGone(r)
		if !gone {
			continue
		}
		children, _, err := deps.Runs.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{e.ID}, MaxResults: 1000,
			Filter: fmt.Sprintf("tags.`%s` = '%s' and attributes.status = 'RUNNING'", loopml.TagParentRunID, r.ID)})
		if err != nil {
			return closed, err
		}
		for _, c := range children {
			if err := failRun(ctx, deps.Runs, c.ID, why); err != nil {
				return closed, err
			}
		}
		if err := failRun(ctx, deps.Runs, r.ID, why); err != nil {
			return closed, err
		}
		closed = append(closed, r.ID)
	}
	return closed, nil
}

func hasTag(r *loopml.Run, key string) bool {
	for _, t := range r.Tags {
		if t.Key == key {
			return true
		}
	}
	return false
}

func failRun(ctx context.Context, runs loopml.RunService, id, why string) error {
	if err := runs.LogBatch(ctx, id, loopml.Batch{Tags: []loopml.Tag{{Key: TagError, Value: why}, {Key: TagStageStatus, Value: StatusFailed}}}); err != nil {
		return err
	}
	status, end := loopml.RunFailed, time.Now().UnixMilli()
	_, err := runs.UpdateRun(ctx, id, loopml.RunUpdate{Status: &status, EndTime: &end})
	return err
}
