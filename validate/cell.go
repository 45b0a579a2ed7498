package validate

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml/profile"
)

// The cell classification below follows the profile package's rules (see
// its package documentation), which it does not export: the missing
// markers, integers of at most 18 digits, plain decimal floats up to 1e100,
// true/false booleans and ISO-8601 timestamps.

func trim(s string) string { return strings.Trim(s, " \t\r") }

func isMissing(s string) bool {
	switch s {
	case "", "NA", "N/A", "NaN", "nan", "null", "NULL", "Null", "None":
		return true
	}
	return false
}

// number parses a trimmed cell as a plain decimal number.
func number(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.Abs(v) > 1e100 {
		return 0, false
	}
	return v, true
}

var timeLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", time.DateOnly}

func isTimestamp(s string) bool {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for _, l := range timeLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}

// cellType returns the type of a trimmed present cell.
func cellType(s string) profile.Type {
	if c := s[0]; c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' {
		digits := strings.TrimLeft(s, "+-")
		if len(digits) > 0 && len(digits) <= 18 && len(s)-len(digits) <= 1 && strings.Trim(digits, "0123456789") == "" {
			return profile.TypeInteger
		}
		if isTimestamp(s) {
			return profile.TypeTimestamp
		}
		if _, ok := number(s); ok {
			return profile.TypeFloat
		}
		return profile.TypeString
	}
	switch s {
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return profile.TypeBoolean
	}
	return profile.TypeString
}

// fits reports whether a value or column of type got satisfies a rule
// expecting type want: integers fit float, anything fits string, numbers
// fit timestamp (epoch seconds or milliseconds), and null fits anything.
func fits(got, want profile.Type) bool {
	switch {
	case got == want, got == profile.TypeNull, want == profile.TypeString:
		return true
	case want == profile.TypeFloat:
		return got == profile.TypeInteger
	}
	return false
}
