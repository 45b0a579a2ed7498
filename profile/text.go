package profile

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints the profile as the aligned text tables that
// `loopml data profile` shows: a schema and statistics table, numeric
// quantiles, the most frequent values of categorical (and possibly
// categorical) columns, and the issues found while reading. Estimated
// distinct counts are prefixed with "~"; timestamps are printed in
// RFC 3339 (UTC).
func WriteText(w io.Writer, p *Profile) error {
	cols := p.Summaries()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "rows: %d  columns: %d  bad rows: %d\n\n", p.Rows(), len(cols), p.BadRows)
	fmt.Fprintln(tw, "COLUMN\tTYPE\tKIND\tCOUNT\tMISSING\tDISTINCT\tMIN\tMAX\tMEAN\tSTDDEV\tLEN")
	for _, c := range cols {
		kind := string(c.Kind)
		if c.PossiblyCategorical {
			kind += "*"
		}
		min, max, mean, std := "", "", "", ""
		if n := c.Numeric; n != nil && c.Kind == KindNumeric {
			min, max, mean, std = fmtValue(c.Field, n.Min), fmtValue(c.Field, n.Max), fmtValue(c.Field, n.Mean), fmtNum(n.Stddev)
		}
		length := ""
		if c.Length != nil {
			length = fmt.Sprintf("%d..%d", c.Length.Min, c.Length.Max)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, typeLabel(c.Field), kind,
			c.Count, c.Missing, fmtDistinct(c), min, max, mean, std, length)
	}
	fmt.Fprintln(tw, "\n(* numeric with few distinct values: possibly categorical)")

	var numeric []ColumnSummary
	for _, c := range cols {
		if c.Numeric != nil && c.Kind == KindNumeric {
			numeric = append(numeric, c)
		}
	}
	if len(numeric) > 0 {
		fmt.Fprint(tw, "\nCOLUMN")
		for _, q := range PrintedQuantiles {
			fmt.Fprintf(tw, "\tP%s", strconv.FormatFloat(q*100, 'g', -1, 64))
		}
		fmt.Fprintln(tw)
		for _, c := range numeric {
			fmt.Fprint(tw, c.Name)
			for _, q := range c.Numeric.Quantiles {
				fmt.Fprintf(tw, "\t%s", fmtValue(c.Field, q.Value))
			}
			fmt.Fprintln(tw)
		}
	}

	header := false
	for _, c := range cols {
		if c.Kind != KindCategorical && !c.PossiblyCategorical || len(c.Top) == 0 {
			continue
		}
		if !header {
			fmt.Fprintln(tw, "\nCOLUMN\tTOP VALUES (count)")
			header = true
		}
		var parts []string
		for _, vc := range c.Top {
			// Below the error bound a Misra–Gries count says nothing.
			if len(parts) == 5 || !c.TopExact && vc.Count <= c.ErrorBound {
				break
			}
			parts = append(parts, fmt.Sprintf("%s (%d)", quoteCell(vc.Value), vc.Count))
		}
		if len(parts) == 0 {
			parts = append(parts, "(no value above the error bound)")
		}
		bound := ""
		if !c.TopExact {
			bound = fmt.Sprintf("  [counts ≥ true − %d]", c.ErrorBound)
		}
		fmt.Fprintf(tw, "%s\t%s%s\n", c.Name, strings.Join(parts, ", "), bound)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(p.Issues) > 0 {
		if _, err := fmt.Fprintf(w, "\nissues (%d shown):\n", len(p.Issues)); err != nil {
			return err
		}
		for _, is := range p.Issues {
			if _, err := fmt.Fprintf(w, "  %s\n", is); err != nil {
				return err
			}
		}
	}
	return nil
}

func typeLabel(f Field) string {
	if f.Unit != "" {
		return fmt.Sprintf("%s(%s)", f.Type, f.Unit)
	}
	return string(f.Type)
}

func fmtDistinct(c ColumnSummary) string {
	if c.DistinctExact {
		return strconv.FormatInt(c.Distinct, 10)
	}
	return "~" + strconv.FormatInt(c.Distinct, 10)
}

// fmtNum formats a number with 6 significant digits.
func fmtNum(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// fmtValue formats a column value: timestamps as RFC 3339, else fmtNum.
func fmtValue(f Field, v float64) string {
	if f.Type != TypeTimestamp || math.IsNaN(v) {
		return fmtNum(v)
	}
	sec := v
	if f.Unit == "epoch_ms" {
		sec = v / 1000
	}
	return time.Unix(int64(math.Floor(sec)), 0).UTC().Format(time.RFC3339)
}

// quoteCell quotes a value when it is empty or has spaces or commas.
func quoteCell(s string) string {
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	if s == "" || strings.ContainsAny(s, " ,\t\"") {
		return strconv.Quote(s)
	}
	return s
}
