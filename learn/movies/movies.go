// Package movies generates synthetic, MovieLens-shaped data sets: a
// ratings.csv (userId,movieId,rating,timestamp) and a movies.csv
// (movieId,title,genres) drawn from a latent-factor model with seasonal
// genre effects, for demos, load tests and drift experiments where the real
// MovieLens data cannot be shipped.
//
// The generator is deterministic: the same Config (including Seed) always
// produces identical bytes. It imports only the standard library.
//
// # Model
//
// Each movie has 1–3 genres, a release time, a quality bias b_m ~ N(0, 0.4²)
// and a taste vector q_m (the mean of its genres' vectors plus noise). Each
// user has a bias b_u ~ N(0, 0.3²), a taste vector p_u ~ N(0, I/k), an
// activity level (log-normal around RatingsPerUser) and a join time in the
// first half of the window. Each rating event happens at a uniform time
// between the user's join time and End; the movie is drawn among those
// already released with weight
//
//	exp(Affinity·p_u·q_m + Popularity·pop_m + season(genres, month) + wave(t − release))
//
// where season adds HorrorBoost in October to Horror movies and FamilyBoost
// in December to Children and Animation movies, and wave adds
// NewReleaseBoost·exp(−days/NewReleaseDays) after a release. The rating is
// 3.5 + b_u + b_m + p_u·q_m + N(0, Noise²), rounded to a half star in
// [0.5, 5]. A user never rates a movie twice.
package movies

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"
)

// Genres are the genres movies are drawn from (MovieLens names).
var Genres = []string{
	"Action", "Adventure", "Animation", "Children", "Comedy", "Crime",
	"Documentary", "Drama", "Fantasy", "Horror", "Romance", "Sci-Fi", "Thriller",
}

// Config sets the generator's parameters. The zero value generates 600 users
// rating about 60 of 2000 movies each over 2022–2023 with seed 0. Every zero
// field takes the default given in its comment.
type Config struct {
	// Seed selects the data set; the same Config gives the same bytes.
	Seed uint64
	// Users is the number of users (default 600).
	Users int
	// Movies is the number of movies (default 2000).
	Movies int
	// RatingsPerUser is the median ratings per user (default 60); activity
	// is log-normal with σ 0.6, at least 5, at most half the movies.
	RatingsPerUser int
	// Factors is the latent dimension k (default 8).
	Factors int
	// Start and End bound the rating timestamps (default 2022-01-01 to
	// 2024-01-01 UTC). Movies are released from two years before Start.
	Start, End time.Time
	// Affinity scales the taste term in the choice weight (default 1.5).
	Affinity float64
	// Popularity scales each movie's fixed popularity N(0,1) (default 1).
	Popularity float64
	// HorrorBoost is added to Horror log-weights in October (default 1).
	HorrorBoost float64
	// FamilyBoost is added to Children and Animation log-weights in
	// December (default 1).
	FamilyBoost float64
	// NewReleaseBoost is the log-weight bonus of a just-released movie
	// (default 2), decaying with time constant NewReleaseDays (default 30).
	NewReleaseBoost float64
	NewReleaseDays  float64
	// Noise is the rating noise standard deviation (default 0.6).
	Noise float64
}

func (c Config) withDefaults() Config {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&c.Users, 600)
	defInt(&c.Movies, 2000)
	defInt(&c.RatingsPerUser, 60)
	defInt(&c.Factors, 8)
	if c.Start.IsZero() {
		c.Start = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if c.End.IsZero() {
		c.End = c.Start.AddDate(2, 0, 0)
	}
	def(&c.Affinity, 1.5)
	def(&c.Popularity, 1)
	def(&c.HorrorBoost, 1)
	def(&c.FamilyBoost, 1)
	def(&c.NewReleaseBoost, 2)
	def(&c.NewReleaseDays, 30)
	def(&c.Noise, 0.6)
	return c
}

// ErrConfig reports a Config value out of range.
var ErrConfig = errors.New("invalid generator config")

func (c Config) validate() error {
	switch {
	case c.Users < 1 || c.Users > 10_000_000:
		return fmt.Errorf("users %d: want 1..1e7: %w", c.Users, ErrConfig)
	case c.Movies < 10 || c.Movies > 1_000_000:
		return fmt.Errorf("movies %d: want 10..1e6: %w", c.Movies, ErrConfig)
	case c.RatingsPerUser < 1:
		return fmt.Errorf("ratings_per_user %d: want > 0: %w", c.RatingsPerUser, ErrConfig)
	case c.Factors < 1 || c.Factors > 256:
		return fmt.Errorf("factors %d: want 1..256: %w", c.Factors, ErrConfig)
	case !c.End.After(c.Start):
		return fmt.Errorf("end %v: want after start %v: %w", c.End, c.Start, ErrConfig)
	case c.Noise < 0 || c.NewReleaseDays < 0:
		return fmt.Errorf("noise and new_release_days must be >= 0: %w", ErrConfig)
	}
	return nil
}

type movie struct {
	genres  []int
	release int64
	bias    float64
	pop     float64
	q       []float64
	horror  bool
	family  bool
}

// Generate writes ratings.csv content to ratings and movies.csv content to
// movies. Ratings are ordered by user, then time, like MovieLens.
func Generate(cfg Config, ratings, movies io.Writer) error {
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x6d6f76696573))
	k := c.Factors
	start, end := c.Start.Unix(), c.End.Unix()
	genreVec := make([][]float64, len(Genres))
	for g := range genreVec {
		genreVec[g] = normVec(rng, k, 1/math.Sqrt(float64(k)))
	}
	releaseFrom := c.Start.AddDate(-2, 0, 0).Unix()
	ms := make([]movie, c.Movies)
	for i := range ms {
		m := &ms[i]
		n := 1 + rng.IntN(3)
		for _, g := range rng.Perm(len(Genres))[:n] {
			m.genres = append(m.genres, g)
			m.horror = m.horror || Genres[g] == "Horror"
			m.family = m.family || Genres[g] == "Children" || Genres[g] == "Animation"
		}
		sort.Ints(m.genres)
		m.release = releaseFrom + rng.Int64N(end-releaseFrom)
		m.bias = rng.NormFloat64() * 0.4
		m.pop = rng.NormFloat64() * c.Popularity
		m.q = normVec(rng, k, 0.5/math.Sqrt(float64(k)))
		for _, g := range m.genres {
			for j := range m.q {
				m.q[j] += genreVec[g][j] / float64(n)
			}
		}
	}
	// Movies sorted by release, so "released by t" is a prefix.
	byRelease := make([]int, len(ms))
	for i := range byRelease {
		byRelease[i] = i
	}
	sort.SliceStable(byRelease, func(a, b int) bool { return ms[byRelease[a]].release < ms[byRelease[b]].release })

	mw := bufio.NewWriter(movies)
	fmt.Fprintln(mw, "movieId,title,genres")
	for i, m := range ms {
		year := time.Unix(m.release, 0).UTC().Year()
		fmt.Fprintf(mw, "%d,Synthetic Movie %d (%d),", i+1, i+1, year)
		for n, g := range m.genres {
			if n > 0 {
				mw.WriteByte('|')
			}
			mw.WriteString(Genres[g])
		}
		mw.WriteByte('\n')
	}
	if err := mw.Flush(); err != nil {
		return err
	}

	rw := bufio.NewWriter(ratings)
	fmt.Fprintln(rw, "userId,movieId,rating,timestamp")
	weights := make([]float64, len(ms))
	type event struct {
		t     int64
		movie int
	}
	for u := 0; u < c.Users; u++ {
		p := normVec(rng, k, 1/math.Sqrt(float64(k)))
		ub := rng.NormFloat64() * 0.3
		n := int(math.Round(float64(c.RatingsPerUser) * math.Exp(0.6*rng.NormFloat64())))
		n = max(5, min(n, c.Movies/2))
		join := start + rng.Int64N((end-start)/2)
		seen := map[int]bool{}
		var evs []event
		for e := 0; e < n*3 && len(evs) < n; e++ { // retries bound the loop
			t := join + rng.Int64N(end-join)
			released := sort.Search(len(byRelease), func(i int) bool { return ms[byRelease[i]].release > t })
			if released == 0 {
				continue
			}
			month := time.Unix(t, 0).UTC().Month()
			var total float64
			for j, mi := range byRelease[:released] {
				m := &ms[mi]
				lw := c.Affinity*dot(p, m.q) + m.pop
				if month == time.October && m.horror {
					lw += c.HorrorBoost
				}
				if month == time.December && m.family {
					lw += c.FamilyBoost
				}
				if c.NewReleaseDays > 0 {
					lw += c.NewReleaseBoost * math.Exp(-float64(t-m.release)/86400/c.NewReleaseDays)
				}
				total += math.Exp(lw)
				weights[j] = total
			}
			x := rng.Float64() * total
			j := sort.SearchFloat64s(weights[:released], x)
			mi := byRelease[min(j, released-1)]
			if seen[mi] {
				continue
			}
			seen[mi] = true
			evs = append(evs, event{t, mi})
		}
		sort.Slice(evs, func(a, b int) bool {
			if evs[a].t != evs[b].t {
				return evs[a].t < evs[b].t
			}
			return evs[a].movie < evs[b].movie
		})
		for _, ev := range evs {
			m := &ms[ev.movie]
			r := 3.5 + ub + m.bias + dot(p, m.q) + rng.NormFloat64()*c.Noise
			r = math.Max(0.5, math.Min(5, math.Round(r*2)/2))
			rw.WriteString(strconv.Itoa(u + 1))
			rw.WriteByte(',')
			rw.WriteString(strconv.Itoa(ev.movie + 1))
			rw.WriteByte(',')
			rw.WriteString(strconv.FormatFloat(r, 'f', 1, 64))
			rw.WriteByte(',')
			rw.WriteString(strconv.FormatInt(ev.t, 10))
			rw.WriteByte('\n')
		}
	}
	return rw.Flush()
}

func normVec(rng *rand.Rand, k int, sd float64) []float64 {
	v := make([]float64, k)
	for i := range v {
		v[i] = rng.NormFloat64() * sd
	}
	return v
}

func dot(a, b []float64) float64 {
	var s float64
	for i, x := range a {
		s += x * b[i]
	}
	return s
}
