package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/loopml/loopml/training"
)

// printTabularEval prints a tabular learner's evaluation without its
// timings, so that the same seeds print the same table.
func printTabularEval(out io.Writer, rep *training.EvalReport) error {
	r := rep.Tabular
	w := newTable(out)
	fmt.Fprintf(w, "Run:\t%s\n", rep.RunID)
	fmt.Fprintf(w, "Learner:\t%s\n", rep.Learner)
	fmt.Fprintf(w, "Data:\t%s (%s)\n", rep.Dataset, rep.Digest)
	fmt.Fprintf(w, "Target:\t%s\n", r.Target)
	fmt.Fprintf(w, "Features:\t%s\n", strings.Join(r.Features, ", "))
	fmt.Fprintf(w, "Split:\t%s, test fraction %s, seed %d\n", rep.Split.Method, strconv.FormatFloat(rep.Split.TestFraction, 'g', -1, 64), rep.Split.Seed)
	fmt.Fprintf(w, "Rows:\ttrain %d, test %d\n", r.TrainRows, r.TestRows)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "METRIC\tVALUE")
	keys := make([]string, 0, len(r.Metrics))
	for k := range r.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s\t%.4f\n", k, r.Metrics[k])
	}
	return w.Flush()
}
