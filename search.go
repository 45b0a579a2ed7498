package loopml

// Entity types in search filters and order_by clauses.
const (
	SearchMetric    = "metric"
	SearchParam     = "param"
	SearchTag       = "tag"
	SearchAttribute = "attribute"
	SearchDataset   = "dataset"
)

// Comparison is one clause of a parsed search filter; clauses are ANDed.
//
// Type is one of the Search* constants. Key is the metric/param/tag key
// (backticks removed), the canonical attribute name (runs: run_id, run_name,
// status, user_id, artifact_uri, start_time, end_time; experiments: name,
// creation_time, last_update_time) or the dataset field (name, digest,
// context). Op is one of "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE",
// "IN", "NOT IN" (upper case).
//
// Numeric comparisons (metrics, start_time, end_time, creation_time,
// last_update_time, and a model version's version_number) carry their operand in Number; string comparisons in
// Value; IN and NOT IN in Values.
type Comparison struct {
	Type   string
	Key    string
	Op     string
	Value  string
	Number float64
	Values []string
}

// IsNumeric reports whether c compares numbers (Number holds the operand).
func (c Comparison) IsNumeric() bool {
	switch c.Type {
	case SearchMetric:
		return true
	case SearchAttribute:
		switch c.Key {
		case "start_time", "end_time", "creation_time", "last_update_time", "version_number":
			return true
		}
	}
	return false
}

// OrderBy is one parsed order_by clause.
type OrderBy struct {
	Type      string // SearchMetric, SearchParam, SearchTag or SearchAttribute
	Key       string // as in Comparison
	Ascending bool
}
