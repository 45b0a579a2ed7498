package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn/movies"
	"github.com/spf13/cobra"
)

// newExampleCommand is `loopml example`: generators of example data.
func newExampleCommand() *cobra.Command {
	example := &cobra.Command{Use: "example", Short: "Generate example data sets"}
	mv := &cobra.Command{Use: "movies", Short: "Synthetic MovieLens-shaped movie ratings"}
	mv.AddCommand(newExampleMoviesGenerateCommand())
	example.AddCommand(mv)
	example.AddCommand(newExampleDeliveryCommand())
	return example
}

func newExampleMoviesGenerateCommand() *cobra.Command {
	var (
		out                         string
		users, nMovies, months, per int
		seed                        uint64
		start                       string
		force                       bool
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write a deterministic synthetic ratings.csv and movies.csv",
		Long: `Write ratings.csv (userId,movieId,rating,timestamp) and movies.csv
(movieId,title,genres) into --out, drawn from a latent-factor model with
seasonal genre effects and new-release waves. The same flags always give the
same bytes, so the files suit demos, tests and drift experiments where the
real MovieLens data cannot be shipped.`,
		Example: `  loopml example movies generate --out data/movies --users 5000 --movies 2000 --months 12 --seed 1
  loopml train mf --data data/movies/ratings.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return loopml.Errorf(loopml.EINVALID, "--out is required: the directory to write ratings.csv and movies.csv into")
			}
			if months < 1 || months > 1200 {
				return loopml.Errorf(loopml.EINVALID, "--months %d: want 1..1200", months)
			}
			begin, err := time.Parse(time.DateOnly, start)
			if err != nil {
				return loopml.Errorf(loopml.EINVALID, "--start %q: want a date like 2022-01-01", start)
			}
			cfg := movies.Config{
				Seed: seed, Users: users, Movies: nMovies, RatingsPerUser: per,
				Start: begin, End: begin.AddDate(0, months, 0),
			}
			ratingsPath, moviesPath := filepath.Join(out, "ratings.csv"), filepath.Join(out, "movies.csv")
			if !force {
				for _, p := range []string{ratingsPath, moviesPath} {
					if _, err := os.Stat(p); err == nil {
						return loopml.Errorf(loopml.ECONFLICT, "--out: %s exists (pass --force to overwrite)", p)
					}
				}
			}
			var ratings, mv bytes.Buffer
			if err := movies.Generate(cfg, &ratings, &mv); err != nil {
				if errors.Is(err, movies.ErrConfig) {
					name, rest, _ := strings.Cut(err.Error(), " ")
					return loopml.WrapError(loopml.EINVALID, err, "--%s %s", strings.ReplaceAll(name, "_", "-"), rest)
				}
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return loopml.WrapError(loopml.EINVALID, err, "--out: %v", err)
			}
			for p, b := range map[string][]byte{ratingsPath: ratings.Bytes(), moviesPath: mv.Bytes()} {
				if err := writeFileAtomic(p, b); err != nil {
					return loopml.WrapError(loopml.EINVALID, err, "--out: %v", err)
				}
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Wrote %d ratings by %d users of %d movies (%s to %s) to %s\n",
				bytes.Count(ratings.Bytes(), []byte{'\n'})-1, cfg.Users, bytes.Count(mv.Bytes(), []byte{'\n'})-1,
				cfg.Start.Format(time.DateOnly), cfg.End.Format(time.DateOnly), out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write ratings.csv and movies.csv into (required)")
	f.IntVar(&users, "users", 600, "number of users")
	f.IntVar(&nMovies, "movies", 2000, "number of movies")
	f.IntVar(&months, "months", 24, "length of the rating period in months")
	f.IntVar(&per, "ratings-per-user", 60, "median ratings per user")
	f.Uint64Var(&seed, "seed", 0, "seed: the same flags give the same files")
	f.StringVar(&start, "start", "2022-01-01", "first day of the rating period (UTC)")
	f.BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}

// writeFileAtomic writes b to path through a temporary file and a rename.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(tmp)
	_, err = w.Write(b)
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
