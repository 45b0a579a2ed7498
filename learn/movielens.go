package learn

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// EnvMovieLens is the environment variable naming the MovieLens directory
// (holding ratings.csv and movies.csv).
const EnvMovieLens = "LOOPML_MOVIELENS"

// DefaultMovieLensDir is where the MovieLens data lives when EnvMovieLens is
// unset, relative to the repository root. The data is never copied into the
// repository (see its licence, README.txt).
const DefaultMovieLensDir = "../shared/data/movielens-latest-small"

// MovieLensDir returns $LOOPML_MOVIELENS, or DefaultMovieLensDir joined to
// repoRoot.
func MovieLensDir(repoRoot string) string {
	if d := os.Getenv(EnvMovieLens); d != "" {
		return d
	}
	return filepath.Join(repoRoot, DefaultMovieLensDir)
}

// Movie is one row of MovieLens movies.csv.
type Movie struct {
	ID     string   `json:"id"`
	Title  string   `json:"title"`
	Genres []string `json:"genres"`
}

// LoadMovieLens reads dir/ratings.csv (duplicates: last) and dir/movies.csv.
func LoadMovieLens(ctx context.Context, dir string) (*Interactions, []Movie, error) {
	d, err := LoadCSVFile(ctx, filepath.Join(dir, "ratings.csv"), CSVOptions{})
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(filepath.Join(dir, "movies.csv"))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	movies, err := ReadMovies(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return d, movies, nil
}

// ReadMovies reads a MovieLens movies.csv stream (movieId,title,genres with
// genres separated by '|'; "(no genres listed)" gives no genres).
func ReadMovies(r io.Reader) ([]Movie, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty file, want a header: %w", ErrNoData)
		}
		return nil, fmt.Errorf("header: %w: %w", ErrBadValue, err)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.ToLower(strings.TrimPrefix(strings.TrimSpace(h), "\ufeff"))] = i
	}
	ic, ok1 := idx["movieid"]
	tc, ok2 := idx["title"]
	gc, ok3 := idx["genres"]
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("header %q: want movieId,title,genres: %w", strings.Join(header, ","), ErrUnknownColumn)
	}
	var movies []Movie
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadValue, err) // csv.ParseError names the line
		}
		m := Movie{ID: rec[ic], Title: rec[tc]}
		if g := rec[gc]; g != "" && g != "(no genres listed)" {
			m.Genres = strings.Split(g, "|")
		}
		movies = append(movies, m)
	}
	if len(movies) == 0 {
		return nil, fmt.Errorf("header but no rows: %w", ErrNoData)
	}
	return movies, nil
}
