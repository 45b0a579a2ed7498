package movies_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/learn/movies"
)

func generate(t *testing.T, c movies.Config) (ratings, mov []byte) {
	t.Helper()
	var r, m bytes.Buffer
	if err := movies.Generate(c, &r, &m); err != nil {
		t.Fatal(err)
	}
	return r.Bytes(), m.Bytes()
}

var small = movies.Config{Seed: 1, Users: 200, Movies: 400, RatingsPerUser: 40}

func TestDeterministic(t *testing.T) {
	r1, m1 := generate(t, small)
	r2, m2 := generate(t, small)
	if !bytes.Equal(r1, r2) || !bytes.Equal(m1, m2) {
		t.Fatal("same config gave different bytes")
	}
	other := small
	other.Seed = 2
	r3, _ := generate(t, other)
	if bytes.Equal(r1, r3) {
		t.Fatal("different seeds gave the same ratings")
	}
}

// load parses the output with the learn package's loaders, which checks the
// MovieLens shape.
func load(t *testing.T, c movies.Config) (*learn.Interactions, map[string][]string, map[string]int64) {
	t.Helper()
	r, m := generate(t, c)
	d, err := learn.LoadCSV(context.Background(), bytes.NewReader(r), learn.CSVOptions{Duplicates: learn.DuplicateError})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := learn.ReadMovies(bytes.NewReader(m))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != c.Movies {
		t.Fatalf("got %d movies, want %d", len(ms), c.Movies)
	}
	genres := map[string][]string{}
	for _, mv := range ms {
		genres[mv.ID] = mv.Genres
	}
	// First rating time per movie, a lower bound on its release.
	first := map[string]int64{}
	for _, row := range d.Rows {
		id := d.Items.ID(row.Item)
		if f, ok := first[id]; !ok || row.Time < f {
			first[id] = row.Time
		}
	}
	return d, genres, first
}

func TestShape(t *testing.T) {
	d, genres, _ := load(t, small)
	if d.Users.Len() != small.Users {
		t.Errorf("got %d users, want %d", d.Users.Len(), small.Users)
	}
	lo := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, r := range d.Rows {
		if r.Rating < 0.5 || r.Rating > 5 || r.Rating*2 != float32(int(r.Rating*2)) {
			t.Fatalf("rating %v is not a half star in [0.5, 5]", r.Rating)
		}
		if r.Time < lo || r.Time >= hi {
			t.Fatalf("time %d outside the default window", r.Time)
		}
		if _, ok := genres[d.Items.ID(r.Item)]; !ok {
			t.Fatalf("rated movie %s not in movies.csv", d.Items.ID(r.Item))
		}
	}
}

// share returns, per month, the share of ratings of movies having one of the genres.
func share(d *learn.Interactions, genres map[string][]string, want ...string) (inMonth [13]float64) {
	var n, hit [13]float64
	for _, r := range d.Rows {
		m := time.Unix(r.Time, 0).UTC().Month()
		n[m]++
		for _, g := range genres[d.Items.ID(r.Item)] {
			if g == want[0] || (len(want) > 1 && g == want[1]) {
				hit[m]++
				break
			}
		}
	}
	for m := 1; m <= 12; m++ {
		inMonth[m] = hit[m] / n[m]
	}
	return inMonth
}

func TestSeasonalGenreShares(t *testing.T) {
	d, genres, _ := load(t, small)
	tests := []struct {
		genres []string
		month  time.Month
	}{
		{[]string{"Horror"}, time.October},
		{[]string{"Children", "Animation"}, time.December},
	}
	for _, tt := range tests {
		s := share(d, genres, tt.genres...)
		var rest float64
		for m := time.January; m <= time.December; m++ {
			if m != tt.month {
				rest += s[m] / 11
			}
		}
		t.Logf("%v share: %s %.3f, other months %.3f", tt.genres, tt.month, s[tt.month], rest)
		if s[tt.month] < 1.5*rest {
			t.Errorf("%v share in %s = %.3f, want ≥ 1.5 × the other months' %.3f", tt.genres, tt.month, s[tt.month], rest)
		}
	}
}

func TestNewReleaseWave(t *testing.T) {
	// Share of ratings in the 30 days after a movie's first rating: higher
	// with a strong release wave than with a negligible one.
	early := func(c movies.Config) float64 {
		d, _, first := load(t, c)
		var n float64
		for _, r := range d.Rows {
			if r.Time-first[d.Items.ID(r.Item)] < 30*86400 {
				n++
			}
		}
		return n / float64(len(d.Rows))
	}
	weak, strong := small, small
	weak.NewReleaseBoost = 1e-9
	strong.NewReleaseBoost = 3
	w, s := early(weak), early(strong)
	t.Logf("ratings within 30 days of a movie's first rating: weak wave %.3f, strong wave %.3f", w, s)
	if s < w*1.2 {
		t.Errorf("strong wave %.3f, want ≥ 1.2 × weak wave %.3f", s, w)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []movies.Config{
		{Users: -1},
		{Movies: 5},
		{Factors: 1000},
		{Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Noise: -1},
	} {
		if err := movies.Generate(c, &bytes.Buffer{}, &bytes.Buffer{}); !errors.Is(err, movies.ErrConfig) {
			t.Errorf("%+v: got %v, want ErrConfig", c, err)
		}
	}
}
