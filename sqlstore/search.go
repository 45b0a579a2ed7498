package sqlstore

import (
	"math"
	"strings"

	"github.com/loopml/loopml"
)

// strCond builds a condition comparing the text column col with c's operand.
func (db *DB) strCond(col string, c loopml.Comparison) (string, []any, error) {
	switch c.Op {
	case "=":
		return col + " = ?", []any{c.Value}, nil
	case "!=":
		return col + " <> ?", []any{c.Value}, nil
	case "LIKE", "ILIKE":
		cond, arg := db.dialect.like(col, c.Op == "ILIKE", c.Value)
		return cond, []any{arg}, nil
	case "IN", "NOT IN":
		if len(c.Values) == 0 {
			if c.Op == "IN" {
				return "1 = 0", nil, nil
			}
			return "1 = 1", nil, nil
		}
		args := make([]any, len(c.Values))
		for i, v := range c.Values {
			args[i] = v
		}
		return col + " " + c.Op + " (" + placeholders(len(c.Values)) + ")", args, nil
	}
	return "", nil, loopml.Errorf(loopml.EINVALID, "Invalid comparator '%s' for %s '%s': string comparisons support =, !=, LIKE, ILIKE, IN and NOT IN", c.Op, c.Type, c.Key)
}

// numCond builds a condition comparing the numeric column col with c.Number;
// integer columns (timestamps) compare with the number as an integer.
func numCond(col string, c loopml.Comparison, integer bool) (string, []any, error) {
	switch c.Op {
	case "=", "!=", "<", "<=", ">", ">=":
	default:
		return "", nil, loopml.Errorf(loopml.EINVALID, "Invalid comparator '%s' for %s '%s': numeric comparisons support =, !=, <, <=, > and >=", c.Op, c.Type, c.Key)
	}
	op := c.Op
	if op == "!=" {
		op = "<>"
	}
	if !integer {
		if math.IsNaN(c.Number) {
			return "1 = 0", nil, nil
		}
		return col + " " + op + " ?", []any{c.Number}, nil
	}
	// Compare an integer column with a possibly fractional number exactly.
	n := c.Number
	switch {
	case math.IsNaN(n):
		return "1 = 0", nil, nil
	case math.IsInf(n, 1) || n >= math.MaxInt64:
		if c.Op == "<" || c.Op == "<=" || c.Op == "!=" {
			return col + " IS NOT NULL", nil, nil
		}
		return "1 = 0", nil, nil
	case math.IsInf(n, -1) || n <= math.MinInt64:
		if c.Op == ">" || c.Op == ">=" || c.Op == "!=" {
			return col + " IS NOT NULL", nil, nil
		}
		return "1 = 0", nil, nil
	}
	if n == math.Trunc(n) {
		return col + " " + op + " ?", []any{int64(n)}, nil
	}
	switch c.Op {
	case "=":
		return "1 = 0", nil, nil
	case "!=":
		return col + " IS NOT NULL", nil, nil
	case "<", "<=":
		return col + " <= ?", []any{int64(math.Floor(n))}, nil
	default: // ">", ">="
		return col + " >= ?", []any{int64(math.Ceil(n))}, nil
	}
}

// viewCond returns the lifecycle condition on col for a view type.
func viewCond(col string, v loopml.ViewType) (string, []any, error) {
	switch v {
	case loopml.ActiveOnly, 1: // 1 is MLflow's ACTIVE_ONLY
		return col + " = ?", []any{loopml.LifecycleActive}, nil
	case loopml.DeletedOnly:
		return col + " = ?", []any{loopml.LifecycleDeleted}, nil
	case loopml.AllView:
		return "", nil, nil
	}
	return "", nil, loopml.Errorf(loopml.EINVALID, "Invalid view_type %d: want ACTIVE_ONLY (1), DELETED_ONLY (2) or ALL (3)", int(v))
}

// orderTerm renders "<nulls-last flag>, expr dir" so that rows without a
// value sort last in both directions on both backends.
func orderTerm(expr string, asc bool) string {
	dir := " DESC"
	if asc {
		dir = " ASC"
	}
	return "(" + expr + " IS NULL) ASC, " + expr + dir
}

// sqlParts accumulates a WHERE clause and its arguments.
type sqlParts struct {
	conds []string
	args  []any
}

func (p *sqlParts) add(cond string, args ...any) {
	if cond == "" {
		return
	}
	p.conds = append(p.conds, cond)
	p.args = append(p.args, args...)
}

func (p *sqlParts) where() string {
	if len(p.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(p.conds, " AND ")
}

// checkMaxResults applies the default and the limit of a search.
func checkMaxResults(n, def, max int) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0 || n > max:
		return 0, loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'max_results' supplied. It must be at most %d and positive", n, max)
	}
	return n, nil
}
