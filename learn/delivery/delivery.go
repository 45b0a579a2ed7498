// Package delivery generates a synthetic food-delivery data set for the
// tabular learners: one row per order with its distance, basket size, hour,
// weekday, weather, courier type and restaurant preparation time, the
// delivery time in minutes (a known, mostly linear function of them plus
// noise) and whether the order was late.
//
// The generator is deterministic: the same Config (including Seed) always
// produces identical bytes. It imports only the standard library.
//
// # Model
//
// Per order: distance_km ~ 0.3 + LogNormal(ln 3, 0.6) capped at 25 (two
// decimals); items ~ 1 + Poisson(2) capped at 15; hour uniform in 10..23;
// weekday uniform in mon..sun; weather clear 60%, rain 25%, fog 8%, snow
// 7%; courier bike 35%, scooter 45%, car 20%; prep_minutes ~ N(14, 4²)
// clipped to [3, 40] (one decimal), missing (empty) in MissingPrep of the
// rows. Then
//
//	delivery_minutes = 6 + 2.5·distance_km + 0.8·items + 1.0·prep_minutes
//	                 + weather (clear 0, rain 6, fog 3, snow 14)
//	                 + courier (bike 4, scooter 0, car −2)
//	                 + 7 at rush hours (12, 13, 18, 19, 20) + 3 on sat/sun
//	                 + N(0, Noise²)
//
// rounded to one decimal (prep_minutes enters with its true value even
// when it is not reported). The rush-hour bump is not linear in hour, so a
// linear model recovers the other coefficients but not it. late is 1 when
// delivery_minutes exceeds LateAfter.
package delivery

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
)

// Header is the first line of the generated CSV.
const Header = "distance_km,items,hour,weekday,weather,courier,prep_minutes,delivery_minutes,late"

// Planted are the coefficients of the delivery-time model: per unit of a
// numeric column, and per category relative to the baseline category
// (weather=clear, courier=scooter), keyed as learn's Coefficients keys them.
var Planted = map[string]float64{
	"distance_km": 2.5, "items": 0.8, "prep_minutes": 1.0,
	"weather=rain": 6, "weather=fog": 3, "weather=snow": 14, "weather=clear": 0,
	"courier=bike": 4, "courier=scooter": 0, "courier=car": -2,
}

// Intercept is the planted base time in minutes.
const Intercept = 6.0

// RushBoost and WeekendBoost are the planted non-linear effects.
const (
	RushBoost    = 7.0
	WeekendBoost = 3.0
)

// ErrConfig marks an invalid Config; the message starts with the field's
// snake_case name.
var ErrConfig = errors.New("invalid delivery config")

// Config sets the generator's parameters; zero fields take the defaults.
type Config struct {
	// Seed selects the data set.
	Seed uint64
	// Rows is the number of orders (default 20000, at most 100 million).
	Rows int
	// Noise is the standard deviation in minutes of the delivery-time
	// noise (default 4).
	Noise float64
	// LateAfter is the delivery time in minutes above which an order is
	// late (default 45).
	LateAfter float64
	// MissingPrep is the share of rows whose prep_minutes is not reported
	// (default 0.02; negative means none).
	MissingPrep float64
}

func (c Config) withDefaults() Config {
	if c.Rows == 0 {
		c.Rows = 20000
	}
	if c.Noise == 0 {
		c.Noise = 4
	}
	if c.LateAfter == 0 {
		c.LateAfter = 45
	}
	if c.MissingPrep == 0 {
		c.MissingPrep = 0.02
	}
	if c.MissingPrep < 0 {
		c.MissingPrep = 0
	}
	return c
}

var (
	weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	weathers = []struct {
		name   string
		p, eff float64
	}{{"clear", 0.60, 0}, {"rain", 0.25, 6}, {"fog", 0.08, 3}, {"snow", 0.07, 14}}
	couriers = []struct {
		name   string
		p, eff float64
	}{{"bike", 0.35, 4}, {"scooter", 0.45, 0}, {"car", 0.20, -2}}
)

// Generate writes cfg.Rows orders as CSV (Header first) to w.
func Generate(cfg Config, w io.Writer) error {
	c := cfg.withDefaults()
	switch {
	case c.Rows < 1 || c.Rows > 100_000_000:
		return fmt.Errorf("rows %d: want 1..100000000: %w", c.Rows, ErrConfig)
	case c.Noise < 0 || math.IsNaN(c.Noise) || math.IsInf(c.Noise, 0):
		return fmt.Errorf("noise %v: want a finite value ≥ 0: %w", c.Noise, ErrConfig)
	case math.IsNaN(c.LateAfter) || math.IsInf(c.LateAfter, 0):
		return fmt.Errorf("late_after %v: want a finite number: %w", c.LateAfter, ErrConfig)
	case !(c.MissingPrep < 1):
		return fmt.Errorf("missing_prep %v: want a share below 1: %w", c.MissingPrep, ErrConfig)
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x64656c69))
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(Header + "\n")
	var line []byte
	for i := 0; i < c.Rows; i++ {
		dist := math.Min(0.3+math.Exp(math.Log(3)+0.6*rng.NormFloat64()), 25)
		dist = math.Round(dist*100) / 100
		items := min(1+poisson(rng, 2), 15)
		hour := 10 + rng.IntN(14)
		day := rng.IntN(7)
		wi := pick(rng, len(weathers), func(k int) float64 { return weathers[k].p })
		ci := pick(rng, len(couriers), func(k int) float64 { return couriers[k].p })
		prep := math.Round(math.Min(math.Max(14+4*rng.NormFloat64(), 3), 40)*10) / 10
		missing := rng.Float64() < c.MissingPrep
		y := Intercept + Planted["distance_km"]*dist + Planted["items"]*float64(items) + Planted["prep_minutes"]*prep +
			weathers[wi].eff + couriers[ci].eff + c.Noise*rng.NormFloat64()
		switch hour {
		case 12, 13, 18, 19, 20:
			y += RushBoost
		}
		if day >= 5 {
			y += WeekendBoost
		}
		y = math.Round(y*10) / 10
		late := 0
		if y > c.LateAfter {
			late = 1
		}
		line = line[:0]
		line = strconv.AppendFloat(line, dist, 'f', 2, 64)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(items), 10)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(hour), 10)
		line = append(line, ',')
		line = append(line, weekdays[day]...)
		line = append(line, ',')
		line = append(line, weathers[wi].name...)
		line = append(line, ',')
		line = append(line, couriers[ci].name...)
		line = append(line, ',')
		if !missing {
			line = strconv.AppendFloat(line, prep, 'f', 1, 64)
		}
		line = append(line, ',')
		line = strconv.AppendFloat(line, y, 'f', 1, 64)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(late), 10)
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// poisson draws from Poisson(lambda) by inversion (small lambda).
func poisson(rng *rand.Rand, lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// pick draws an index with probabilities p(k) (summing to 1).
func pick(rng *rand.Rand, n int, p func(int) float64) int {
	u := rng.Float64()
	for k := 0; k < n-1; k++ {
		if u -= p(k); u < 0 {
			return k
		}
	}
	return n - 1
}
