package mlmodel

import (
	"encoding/csv"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"

	"github.com/loopml/loopml"
)

// DecodeCSV decodes a text/csv /invocations body, as MLflow's scoring server
// reads it with pandas.read_csv: the first record names the columns, every
// other record is a row. An empty cell is null. A cell of a column that
// schema types as string, binary or datetime stays text; any other cell
// becomes an int64 or float64 when it reads as a number ("NaN" reads as
// null), a bool when it is True/true/TRUE or False/false/FALSE, and text
// otherwise. schema may be nil. Errors are EINVALID and name the record; a
// body over an http.MaxBytesReader limit is ETOOLARGE.
func DecodeCSV(r io.Reader, schema *Schema) (*Frame, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, csvError(err, "the header")
	}
	f := &Frame{Columns: header}
	seen := map[string]bool{}
	for _, c := range header {
		if seen[c] {
			return nil, loopml.Errorf(loopml.EINVALID, "CSV input: duplicate column %q in the header", c)
		}
		seen[c] = true
	}
	text := make([]bool, len(header))
	if schema != nil {
		for j, name := range header {
			for k, c := range schema.Columns {
				if c.Name == name || (c.Name == "" && k == j) {
					switch c.Type.Kind {
					case TypeString, TypeBinary, TypeDatetime:
						text[j] = true
					}
				}
			}
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return nil, csvError(err, "a record")
		}
		row := make([]any, len(rec))
		for j, cell := range rec {
			row[j] = csvCell(cell, text[j])
		}
		f.Rows = append(f.Rows, row)
	}
}

func csvError(err error, what string) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return loopml.WrapError(loopml.ETOOLARGE, err, "CSV input: the body is larger than %d bytes", tooLarge.Limit)
	}
	if errors.Is(err, io.EOF) {
		return loopml.Errorf(loopml.EINVALID, "CSV input: empty body, want a header of column names")
	}
	return loopml.Errorf(loopml.EINVALID, "CSV input: cannot read %s: %v", what, err)
}

func csvCell(s string, text bool) any {
	if s == "" {
		return nil
	}
	if text {
		return s
	}
	switch s {
	case "True", "true", "TRUE":
		return true
	case "False", "false", "FALSE":
		return false
	}
	v, err := parseNumber(strings.TrimSpace(s))
	if err != nil {
		return s
	}
	if f, ok := v.(float64); ok && math.IsNaN(f) {
		return nil
	}
	return v
}
