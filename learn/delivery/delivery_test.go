package delivery_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/learn/delivery"
)

func TestGenerateDeterministic(t *testing.T) {
	var a, b, c bytes.Buffer
	cfg := delivery.Config{Seed: 1, Rows: 3000}
	for _, buf := range []*bytes.Buffer{&a, &b} {
		if err := delivery.Generate(cfg, buf); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same seed gave different bytes")
	}
	if err := delivery.Generate(delivery.Config{Seed: 2, Rows: 3000}, &c); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("different seeds gave the same bytes")
	}
	lines := strings.Split(strings.TrimSpace(a.String()), "\n")
	if len(lines) != 3001 || lines[0] != delivery.Header {
		t.Fatalf("%d lines, header %q", len(lines), lines[0])
	}
}

func TestLinearRecoversPlantedCoefficients(t *testing.T) {
	var buf bytes.Buffer
	if err := delivery.Generate(delivery.Config{Seed: 1, Rows: 20000}, &buf); err != nil {
		t.Fatal(err)
	}
	tab, err := learn.ReadTable(context.Background(), &buf, learn.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tab.Target, tab.Exclude = "delivery_minutes", []string{"late"}
	m, err := learn.FitLinear(context.Background(), tab, learn.LinearOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Coefficients()
	for _, k := range []string{"distance_km", "items", "prep_minutes"} {
		if math.Abs(c[k]-delivery.Planted[k]) > 0.05*math.Abs(delivery.Planted[k])+0.03 {
			t.Errorf("%s = %.3f, planted %.3f", k, c[k], delivery.Planted[k])
		}
	}
	for _, pair := range [][2]string{{"weather=rain", "weather=clear"}, {"weather=snow", "weather=clear"}, {"weather=fog", "weather=clear"}, {"courier=bike", "courier=scooter"}, {"courier=car", "courier=scooter"}} {
		got := c[pair[0]] - c[pair[1]]
		want := delivery.Planted[pair[0]] - delivery.Planted[pair[1]]
		if math.Abs(got-want) > 0.4 {
			t.Errorf("%s − %s = %.3f, planted %.3f", pair[0], pair[1], got, want)
		}
	}
	// The weekend effect is planted; weekday's one-hot recovers it.
	if d := c["weekday=sat"] - c["weekday=wed"]; math.Abs(d-delivery.WeekendBoost) > 0.5 {
		t.Errorf("sat − wed = %.3f, planted %v", d, delivery.WeekendBoost)
	}
	// late is a logistic target.
	tab.Target, tab.Exclude = "late", []string{"delivery_minutes"}
	lm, err := learn.FitLogistic(context.Background(), tab, learn.LogisticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	met, err := learn.TabularMetrics(lm, tab)
	if err != nil {
		t.Fatal(err)
	}
	if met["auc"] < 0.9 {
		t.Errorf("late AUC = %v", met["auc"])
	}
}

func TestGenerateBadConfig(t *testing.T) {
	for _, cfg := range []delivery.Config{{Rows: -1}, {Noise: -1}, {MissingPrep: 1}, {LateAfter: math.NaN()}} {
		if err := delivery.Generate(cfg, &bytes.Buffer{}); !errors.Is(err, delivery.ErrConfig) {
			t.Errorf("%+v: error %v, want ErrConfig", cfg, err)
		}
	}
}
