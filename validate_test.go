package loopml_test

import (
	"math"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		kind, key string
		wantErr   string // "" = valid
	}{
		{"metric", "rmse", ""},
		{"metric", "val/loss_1.epoch-2 x", ""},
		{"metric", "", "'metric.key'"},
		{"metric", "a!b", "Invalid metric name"},
		{"metric", "../x", "'..'"},
		{"metric", strings.Repeat("k", 250), ""},
		{"metric", strings.Repeat("k", 251), "exceeded length limit of 250"},
		{"param", "lr", ""},
		{"param", "lr=3", "Invalid param name"},
		{"tag", "mlflow.note.content", ""},
		{"tag", "any key: with (punctuation)!", ""},
		{"tag", "bad\x01key", "control"},
		{"tag", strings.Repeat("t", 251), "exceeded length limit"},
	}
	for _, tt := range tests {
		err := loopml.ValidateKey(tt.kind, tt.key)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("ValidateKey(%s, %.20q) = %v, want nil", tt.kind, tt.key, err)
			}
			continue
		}
		if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
			t.Errorf("ValidateKey(%s, %.20q) = %v, want EINVALID containing %q", tt.kind, tt.key, err, tt.wantErr)
		}
	}
}

func TestBatchValidate(t *testing.T) {
	metrics := func(n int) []loopml.Metric {
		m := make([]loopml.Metric, n)
		for i := range m {
			m[i] = loopml.Metric{Key: "loss", Value: float64(i), Step: int64(i)}
		}
		return m
	}
	params := func(n int) []loopml.Param {
		p := make([]loopml.Param, n)
		for i := range p {
			p[i] = loopml.Param{Key: "p" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26)), Value: "v"}
		}
		return p
	}
	tags := func(n int) []loopml.Tag {
		tg := make([]loopml.Tag, n)
		for i := range tg {
			tg[i] = loopml.Tag{Key: "t", Value: "v"}
		}
		return tg
	}
	tests := []struct {
		name    string
		b       loopml.Batch
		wantErr string
	}{
		{"empty", loopml.Batch{}, ""},
		{"max metrics", loopml.Batch{Metrics: metrics(1000)}, ""},
		{"too many metrics", loopml.Batch{Metrics: metrics(1001)}, "at most 1000 metrics"},
		{"too many params", loopml.Batch{Params: params(101)}, "at most 100 params"},
		{"too many tags", loopml.Batch{Tags: tags(101)}, "at most 100 tags"},
		{"too many total", loopml.Batch{Metrics: metrics(950), Params: params(51)}, "in total"},
		{"NaN and Inf are fine", loopml.Batch{Metrics: []loopml.Metric{{Key: "a", Value: math.NaN()}, {Key: "b", Value: math.Inf(-1)}}}, ""},
		{"bad metric key", loopml.Batch{Metrics: []loopml.Metric{{Key: "a*b"}}}, "Invalid metric name"},
		{"long param value", loopml.Batch{Params: []loopml.Param{{Key: "p", Value: strings.Repeat("v", 6001)}}}, "exceeded length limit of 6000"},
		{"param value at limit", loopml.Batch{Params: []loopml.Param{{Key: "p", Value: strings.Repeat("é", 6000)}}}, ""},
		{"long tag value", loopml.Batch{Tags: []loopml.Tag{{Key: "t", Value: strings.Repeat("v", 8001)}}}, "exceeded length limit of 8000"},
		{"duplicate param same value", loopml.Batch{Params: []loopml.Param{{Key: "p", Value: "1"}, {Key: "p", Value: "1"}}}, ""},
		{"duplicate param other value", loopml.Batch{Params: []loopml.Param{{Key: "p", Value: "1"}, {Key: "p", Value: "2"}}}, "Duplicate parameter keys"},
		{"invalid utf8 tag", loopml.Batch{Tags: []loopml.Tag{{Key: "t", Value: "\xff"}}}, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
				t.Fatalf("Validate() = %v, want EINVALID containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMetricLatest(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name    string
		m, cur  loopml.Metric
		replace bool
	}{
		{"higher step", loopml.Metric{Step: 2, Timestamp: 1, Value: 0}, loopml.Metric{Step: 1, Timestamp: 9, Value: 9}, true},
		{"lower step", loopml.Metric{Step: 1, Timestamp: 9}, loopml.Metric{Step: 2, Timestamp: 1}, false},
		{"same step later time", loopml.Metric{Step: 1, Timestamp: 5, Value: 0}, loopml.Metric{Step: 1, Timestamp: 4, Value: 9}, true},
		{"same step and time larger value", loopml.Metric{Step: 1, Timestamp: 5, Value: 2}, loopml.Metric{Step: 1, Timestamp: 5, Value: 1}, true},
		{"same everything", loopml.Metric{Step: 1, Timestamp: 5, Value: 1}, loopml.Metric{Step: 1, Timestamp: 5, Value: 1}, false},
		{"NaN beats number", loopml.Metric{Value: nan}, loopml.Metric{Value: 1}, true},
		{"number loses to NaN", loopml.Metric{Value: 1}, loopml.Metric{Value: nan}, false},
		{"NaN vs NaN", loopml.Metric{Value: nan}, loopml.Metric{Value: nan}, false},
	}
	for _, tt := range tests {
		if got := tt.m.Latest(tt.cur); got != tt.replace {
			t.Errorf("%s: Latest = %v, want %v", tt.name, got, tt.replace)
		}
	}
}
