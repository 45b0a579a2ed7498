package main

import (
	"encoding/json"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loopml/loopml"
)

// newTable returns the tabwriter every table is printed with; call Flush.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// writeJSON prints v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// fmtTime formats epoch milliseconds in UTC, "-" for unset.
func fmtTime(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05")
}

// fmtFloat formats a metric value exactly (shortest round-trip form).
func fmtFloat(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// jsonFloat marshals NaN and ±Inf as the strings MLflow uses.
type jsonFloat float64

// MarshalJSON implements json.Marshaler.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// sortByKey sorts key/value pairs by key, so output does not depend on
// the order a backend returns them in.
func sortByKey(kvs []keyValue) {
	slices.SortFunc(kvs, func(a, b keyValue) int { return strings.Compare(a.Key, b.Key) })
}

type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func tagViews(tags []loopml.Tag) []keyValue {
	out := make([]keyValue, len(tags))
	for i, t := range tags {
		out[i] = keyValue{t.Key, t.Value}
	}
	sortByKey(out)
	return out
}

// experimentView is the JSON form of an experiment.
type experimentView struct {
	ExperimentID     string     `json:"experiment_id"`
	Name             string     `json:"name"`
	ArtifactLocation string     `json:"artifact_location"`
	LifecycleStage   string     `json:"lifecycle_stage"`
	CreationTime     int64      `json:"creation_time"`
	LastUpdateTime   int64      `json:"last_update_time"`
	Tags             []keyValue `json:"tags,omitempty"`
}

func newExperimentView(e *loopml.Experiment) experimentView {
	return experimentView{
		ExperimentID: e.ID, Name: e.Name, ArtifactLocation: e.ArtifactLocation,
		LifecycleStage: e.LifecycleStage, CreationTime: e.CreationTime, LastUpdateTime: e.LastUpdateTime,
		Tags: tagViews(e.Tags),
	}
}

type metricView struct {
	Key       string    `json:"key"`
	Value     jsonFloat `json:"value"`
	Timestamp int64     `json:"timestamp"`
	Step      int64     `json:"step"`
}

// runView is the JSON form of a run.
type runView struct {
	RunID          string       `json:"run_id"`
	ExperimentID   string       `json:"experiment_id"`
	RunName        string       `json:"run_name"`
	UserID         string       `json:"user_id,omitempty"`
	Status         string       `json:"status"`
	StartTime      int64        `json:"start_time"`
	EndTime        int64        `json:"end_time,omitempty"`
	ArtifactURI    string       `json:"artifact_uri"`
	LifecycleStage string       `json:"lifecycle_stage"`
	Params         []keyValue   `json:"params,omitempty"`
	Metrics        []metricView `json:"metrics,omitempty"`
	Tags           []keyValue   `json:"tags,omitempty"`
}

func newRunView(r *loopml.Run) runView {
	v := runView{
		RunID: r.ID, ExperimentID: r.ExperimentID, RunName: r.Name, UserID: r.UserID, Status: r.Status,
		StartTime: r.StartTime, EndTime: r.EndTime, ArtifactURI: r.ArtifactURI, LifecycleStage: r.LifecycleStage,
		Tags: tagViews(r.Tags),
	}
	for _, p := range r.Params {
		v.Params = append(v.Params, keyValue{p.Key, p.Value})
	}
	for _, m := range r.Metrics {
		v.Metrics = append(v.Metrics, metricView{m.Key, jsonFloat(m.Value), m.Timestamp, m.Step})
	}
	sortByKey(v.Params)
	slices.SortFunc(v.Metrics, func(a, b metricView) int { return strings.Compare(a.Key, b.Key) })
	return v
}
