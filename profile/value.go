package profile

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// class is the type of one cell.
type class uint8

const (
	classMissing class = iota
	classInteger
	classFloat
	classBoolean
	classTimestamp
	classString
)

// maxNumber bounds the magnitude of numeric cells, so that squared
// deviations summed over any number of rows stay finite; larger numbers
// are strings.
const maxNumber = 1e100

// isMissing reports whether a trimmed cell is one of the missing markers.
func isMissing(s string) bool {
	switch s {
	case "", "NA", "N/A", "NaN", "nan", "null", "NULL", "Null", "None":
		return true
	}
	return false
}

// classify returns the class of the trimmed cell s and, for numeric,
// boolean and timestamp cells, its numeric value (timestamps in Unix
// seconds, booleans as 0 or 1).
func classify(s string) (class, float64) {
	if len(s) == 0 {
		return classMissing, 0
	}
	c := s[0]
	if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' {
		if v, ok := parseInt(s); ok {
			return classInteger, v
		}
		if len(s) >= 10 && s[4] == '-' && s[7] == '-' {
			if t, ok := parseTime(s); ok {
				return classTimestamp, t
			}
		}
		if looksFloat(s) {
			if v, err := strconv.ParseFloat(s, 64); err == nil && math.Abs(v) <= maxNumber {
				return classFloat, v
			}
		}
		return classString, 0
	}
	switch s {
	case "true", "True", "TRUE":
		return classBoolean, 1
	case "false", "False", "FALSE":
		return classBoolean, 0
	}
	if isMissing(s) {
		return classMissing, 0
	}
	return classString, 0
}

// parseInt parses an optionally signed run of at most 18 decimal digits.
func parseInt(s string) (float64, bool) {
	i := 0
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		i = 1
	}
	if i == len(s) || len(s)-i > 18 {
		return 0, false
	}
	var n int64
	for ; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	if neg {
		n = -n
	}
	return float64(n), true
}

// looksFloat rejects the ParseFloat syntaxes that are not plain decimals:
// hexadecimal floats, underscores, infinities and NaN.
func looksFloat(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return true
}

// timeLayouts are the ISO-8601 forms parseTime accepts; time.Parse accepts
// an optional fractional second after the seconds of any of them.
var timeLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// parseTime parses an ISO-8601 date or date-time (UTC when zone-less) into
// Unix seconds.
func parseTime(s string) (float64, bool) {
	if len(s) == 10 {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return 0, false
		}
		return float64(t.Unix()), true
	}
	for _, l := range timeLayouts[:4] {
		if t, err := time.Parse(l, s); err == nil {
			return float64(t.UnixNano()) / 1e9, true
		}
	}
	return 0, false
}

// epochName reports whether a column name suggests a time.
func epochName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "time") || strings.Contains(n, "date") || strings.HasSuffix(n, "_at") || n == "ts"
}

// Bounds of the epoch heuristic: [1973-03-03, 2100-01-01) in seconds
// (10⁸ is the first nine-digit second count).
const (
	epochLo = 1e8
	epochHi = 4102444800
)
