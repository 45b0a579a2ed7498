package validate_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml/validate"
)

// movieLens is the shared MovieLens "latest small" ratings file.
const movieLens = "/work/shared/data/movielens-latest-small/ratings.csv"

// movieLensRules are realistic expectations of the ratings table; its
// newest rating is from 2018-09-24.
const movieLensRules = `
row_count: {min: 100000, max: 200000}
required_columns: [userId, movieId, rating, timestamp]
freshness: {column: timestamp, max_age: 30d}
columns:
  userId: {type: integer, not_null: true, min: 1}
  movieId: {type: integer, not_null: true, min: 1}
  rating: {type: float, not_null: true, min: 0.5, max: 5, step: 0.5, max_missing_fraction: 0}
  timestamp: {type: timestamp, not_null: true}
`

func TestMovieLens(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the MovieLens check")
	}
	if _, err := os.Stat(movieLens); err != nil {
		t.Skipf("MovieLens data absent: %v", err)
	}
	rules := mustLoad(t, movieLensRules)
	now := time.Date(2018, 10, 1, 0, 0, 0, 0, time.UTC)
	rep, err := validate.CheckFiles(context.Background(), rules, []string{movieLens}, validate.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || rep.Rows != 100836 || len(rep.Results) != 20 {
		var b strings.Builder
		_ = rep.WriteText(&b)
		t.Fatalf("MovieLens: passed %v, %d rows, %d results, want passed, 100836 rows, 20 results:\n%s", rep.Passed, rep.Rows, len(rep.Results), b.String())
	}
	// The same rules a year later fail only freshness.
	rep, err = validate.CheckFiles(context.Background(), rules, []string{movieLens}, validate.Options{Now: now.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Failed(); len(f) != 1 || f[0].Rule != validate.RuleFreshness || !strings.Contains(f[0].Observed, "newest 2018-09-24") {
		t.Fatalf("a year later: failed %+v, want only freshness", f)
	}
}
