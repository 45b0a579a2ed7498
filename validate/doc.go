// Package validate checks a dataset against expectations written in YAML
// and produces a report that names, for each failed rule, the column, the
// rule, what was observed against what was expected, and example offending
// rows with their file and line. Reports are stored with dataset versions
// and used as pipeline gates, so their JSON form ([Report]) is stable.
//
// It imports the standard library, go.yaml.in/yaml/v3, the loopml root
// (for errors), and the profile and drift packages.
//
// # Rules file
//
// A complete example:
//
//	# Dataset-level rules.
//	files: ["ratings*.csv"]       # optional: the files of a dataset version (globs)
//	reference: ratings@3          # optional: the version drift is measured against
//	row_count: {min: 1000, max: 5000000}
//	required_columns: [userId, movieId, rating, timestamp]
//	freshness:
//	  column: timestamp           # a timestamp column (ISO-8601 or epoch)
//	  max_age: 30d                # s, m, h, d (24h), w (7d), or Go durations
//	# Per-column rules.
//	columns:
//	  userId:
//	    type: integer             # integer, float, boolean, timestamp, string
//	    not_null: true
//	  rating:
//	    type: float               # an integer column satisfies float
//	    not_null: true
//	    min: 0.5                  # inclusive bounds on numeric values
//	    max: 5
//	    step: 0.5                 # values are min + k·step (0 + k·step without min)
//	    max_missing_fraction: 0.01
//	    drift: {max_psi: 0.2}     # or {max_js: 0.1}, or {method: js, threshold: 0.1}
//	  genre:
//	    allowed: [comedy, drama, horror]
//	    drift: {method: js, threshold: 0.1}
//	  ratingId:
//	    unique: true
//
// Unknown keys, duplicate keys, values of the wrong type (a string where a
// number is expected), bad durations and contradictory bounds are errors
// (code EINVALID) naming the file, the line and the key, for example
// "rules r.yaml:7: columns.rating: unknown key "maxx" (want one of …)".
//
// # Semantics
//
// Cells are classified as the profile package does: "", NA, N/A, NaN,
// null, None and similar markers are missing, and JSON Lines rows lacking a
// key are missing in that column. Row-level rules skip missing cells except
// not_null. min, max and step apply to numeric cells; a present cell that
// is not a number violates them. allowed compares the trimmed text, or the
// value when both sides are numbers (so 1.0 matches an allowed 1). unique
// compares trimmed text ("1" and "1.0" differ) through 64-bit hashes of the
// values (a false duplicate needs a hash collision: probability about
// n²/2⁶⁵, under 10⁻⁶ for 4M values), tracking at most
// [Options.UniqueLimit] distinct values per column; beyond that the rule
// fails as unchecked rather than pass unchecked data.
//
// Dataset-level rules use the profile computed in the same pass: row
// count, required columns, the inferred column type (integer fits float,
// anything fits string, an epoch timestamp column also fits integer or
// float, and a column with no value fits any type),
// the missing fraction, and freshness from the newest timestamp, measured
// from [Options.Now]. A drift rule compares the column with
// [Options.Reference]: numeric columns (by the reference's kind) are
// counted on the reference's histogram bins and compared with PSI by
// default; categorical columns compare value counts with the
// Jensen–Shannon distance (base 2) by default. The rule fails when the
// statistic exceeds the threshold (default 0.1).
//
// # Checking
//
// [Check] and [CheckFiles] make one streaming pass: rows are read with
// the profile package's readers, every row is checked against the
// row-level rules as it is read, and the rows are profiled in parallel;
// memory is bounded by the profile sketches, the unique-value sets and
// Options.MaxExamples examples per rule. Example line numbers are the
// physical line where the row starts, as the profile package's Reader
// reports it (its Line method: the header, blank lines and newlines inside
// quoted cells all count; for Parquet, the row number). For a [profile.Source]
// without a Line method they are counted from the rows read and the
// newlines in their cells, resynchronised at every malformed row, and are
// then low by the number of blank lines before the row. Row, the data row
// number, is always exact.
//
// [CheckInputs] reads several inputs as one table and reports an input
// that cannot be read as an Issue instead of failing; [Rules.Selects]
// applies the rules' files patterns for a caller that picks the inputs
// (the dataset registry validates the selected files of a version).
package validate
