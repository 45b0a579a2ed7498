package main

import (
	"strings"
	"testing"
	"time"
)

func TestPredictionLogSettings(t *testing.T) {
	def, err := loadWith(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if def.PredictionLogSample != 1 || def.PredictionLogMaxBytes != 64<<10 || def.PredictionLogQueue != 8192 || def.PredictionLogRetention != 30*24*time.Hour {
		t.Errorf("defaults %+v", def)
	}
	cfg, err := loadWith(t, []string{"--prediction-log-sample", "0.25", "--prediction-log-max-bytes", "4KiB", "--prediction-log-retention", "7d"},
		map[string]string{"LOOPML_PREDICTION_LOG_QUEUE": "100", "LOOPML_PREDICTION_LOG_SAMPLE": "0.5"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PredictionLogSample != 0.25 || cfg.PredictionLogMaxBytes != 4096 || cfg.PredictionLogQueue != 100 || cfg.PredictionLogRetention != 7*24*time.Hour {
		t.Errorf("flags and env: %+v", cfg)
	}
	if got := formatRetention(cfg.PredictionLogRetention); got != "7d" {
		t.Errorf("formatRetention = %q", got)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--prediction-log-sample", "1.5"}, "prediction-log-sample must be between 0 and 1"},
		{[]string{"--prediction-log-sample", "NaN"}, "prediction-log-sample"},
		{[]string{"--prediction-log-max-bytes", "0"}, "prediction-log-max-bytes"},
		{[]string{"--prediction-log-queue", "0"}, "prediction-log-queue must be positive"},
		{[]string{"--prediction-log-retention", "-1h"}, "prediction-log-retention must not be negative"},
	} {
		if _, err := loadWith(t, tt.args, nil); err == nil || !strings.Contains(userMessage(err), tt.want) {
			t.Errorf("%v: got %v, want %q", tt.args, err, tt.want)
		}
	}
	for _, bad := range []string{"30x", "d", "-2d"} {
		if _, err := parseRetention(bad); err == nil {
			t.Errorf("parseRetention(%q) accepted", bad)
		}
	}
	for in, want := range map[string]time.Duration{"0": 0, "12h": 12 * time.Hour, "1.5d": 36 * time.Hour} {
		if got, err := parseRetention(in); err != nil || got != want {
			t.Errorf("parseRetention(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if c := predictionLogConfig(nil, 1, 10, 10); c.Store != nil {
		t.Error("no store: logging must be off")
	}
}
