package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn/delivery"
	"github.com/spf13/cobra"
)

// newExampleDeliveryCommand is `loopml example delivery`.
func newExampleDeliveryCommand() *cobra.Command {
	d := &cobra.Command{Use: "delivery", Short: "Synthetic food-delivery orders for the tabular learners"}
	d.AddCommand(newExampleDeliveryGenerateCommand())
	return d
}

func newExampleDeliveryGenerateCommand() *cobra.Command {
	var (
		out                           string
		rows                          int
		seed                          uint64
		noise, lateAfter, missingPrep float64
		force                         bool
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write a deterministic synthetic deliveries.csv",
		Long: `Write deliveries.csv into --out: one row per order with distance_km, items,
hour, weekday, weather, courier, prep_minutes (sometimes missing), the
delivery time delivery_minutes (a known, mostly linear function of the
others plus noise) and late (1 when delivery_minutes exceeds --late-after).
The same flags always give the same bytes. See examples/delivery/README.md
for the planted coefficients.`,
		Example: `  loopml example delivery generate --rows 20000 --seed 1 --out data/delivery
  loopml train linear --data data/delivery/deliveries.csv --target delivery_minutes --exclude late
  loopml eval logistic --data data/delivery/deliveries.csv --target late --exclude delivery_minutes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return loopml.Errorf(loopml.EINVALID, "--out is required: the directory to write deliveries.csv into")
			}
			path := filepath.Join(out, "deliveries.csv")
			if !force {
				if _, err := os.Stat(path); err == nil {
					return loopml.Errorf(loopml.ECONFLICT, "--out: %s exists (pass --force to overwrite)", path)
				}
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return loopml.WrapError(loopml.EINVALID, err, "--out: %v", err)
			}
			cfg := delivery.Config{Seed: seed, Rows: rows, Noise: noise, LateAfter: lateAfter, MissingPrep: missingPrep}
			tmp, err := os.CreateTemp(out, ".deliveries.csv-*")
			if err != nil {
				return loopml.WrapError(loopml.EINVALID, err, "--out: %v", err)
			}
			w := bufio.NewWriterSize(tmp, 1<<20)
			err = delivery.Generate(cfg, w)
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
				if errors.Is(err, delivery.ErrConfig) {
					name, rest, _ := strings.Cut(err.Error(), " ")
					return loopml.WrapError(loopml.EINVALID, err, "--%s %s", strings.ReplaceAll(name, "_", "-"), strings.TrimSuffix(rest, ": "+delivery.ErrConfig.Error()))
				}
				return loopml.WrapError(loopml.EINVALID, err, "--out: %v", err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Wrote %d orders to %s\n", rows, path)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write deliveries.csv into (required)")
	f.IntVar(&rows, "rows", 20000, "number of orders")
	f.Uint64Var(&seed, "seed", 0, "seed: the same flags give the same file")
	f.Float64Var(&noise, "noise", 4, "standard deviation of the delivery-time noise, minutes")
	f.Float64Var(&lateAfter, "late-after", 45, "delivery time in minutes above which an order is late")
	f.Float64Var(&missingPrep, "missing-prep", 0.02, "share of orders without prep_minutes (negative: none)")
	f.BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}
