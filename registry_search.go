package loopml

// This file parses the model registry's search filters and order_by
// clauses with the scanner of search_parse.go. The grammar is MLflow's
// registry subset:
//
//	models:   name (=, !=, LIKE, ILIKE), tags.<key> (=, !=, LIKE, ILIKE)
//	versions: name, source_path (=, !=, LIKE, ILIKE),
//	          version_number (=, !=, <, <=, >, >= and a number),
//	          run_id (=, !=, IN, NOT IN), tags.<key> (=, !=, LIKE, ILIKE)
//
// Clauses are joined with AND. Attributes may be written with or without
// an "attributes." prefix.

var registeredModelGrammar = &searchGrammar{
	entities: map[string]string{
		"tag": SearchTag, "tags": SearchTag,
		"attribute": SearchAttribute, "attributes": SearchAttribute, "attr": SearchAttribute,
	},
	entityList:  "attributes, tags",
	filterAttrs: map[string]string{"name": "name"},
	orderAttrs: map[string]string{
		"name": "name", "creation_timestamp": "creation_timestamp", "timestamp": "creation_timestamp",
		"last_updated_timestamp": "last_updated_timestamp",
	},
	listAttrs:    map[string]bool{},
	orderTypes:   map[string]bool{SearchAttribute: true},
	filterKeys:   "name",
	orderKeys:    "name, creation_timestamp, timestamp, last_updated_timestamp",
	orderTypeMsg: "registered models can only be ordered by attributes",
}

var modelVersionGrammar = &searchGrammar{
	entities: map[string]string{
		"tag": SearchTag, "tags": SearchTag,
		"attribute": SearchAttribute, "attributes": SearchAttribute, "attr": SearchAttribute,
	},
	entityList: "attributes, tags",
	filterAttrs: map[string]string{
		"name": "name", "version_number": "version_number", "run_id": "run_id", "source_path": "source_path",
	},
	orderAttrs: map[string]string{
		"name": "name", "version_number": "version_number",
		"creation_timestamp": "creation_timestamp", "timestamp": "creation_timestamp",
		"last_updated_timestamp": "last_updated_timestamp",
	},
	listAttrs:    map[string]bool{"run_id": true},
	orderTypes:   map[string]bool{SearchAttribute: true},
	filterKeys:   "name, version_number, run_id, source_path",
	orderKeys:    "name, version_number, creation_timestamp, timestamp, last_updated_timestamp",
	orderTypeMsg: "model versions can only be ordered by attributes",
}

// ParseRegisteredModelFilter parses a registered model search filter such
// as
//
//	name LIKE 'churn-%' AND tags.team = 'growth'
//
// into its clauses, which are ANDed: the attribute name and tags.<key>, each
// with =, !=, LIKE or ILIKE and a quoted string (Comparison.Value). An empty
// or blank filter gives nil and no error. Every error is EINVALID and says
// what was wrong and where.
func ParseRegisteredModelFilter(filter string) ([]Comparison, error) {
	return parseFilter(registeredModelGrammar, registryClauses, filter)
}

// ParseModelVersionFilter parses a model version search filter such as
//
//	name = 'churn' AND version_number >= 3 AND run_id IN ('a1', 'b2')
//
// Attributes are name and source_path (=, !=, LIKE, ILIKE and a quoted
// string), version_number (=, !=, <, <=, >, >= and a number, carried in
// Comparison.Number) and run_id (=, != and a string, or IN / NOT IN and a
// parenthesized list in Comparison.Values); tags.<key> take =, !=, LIKE,
// ILIKE. An empty or blank filter gives nil and no error. Returns EINVALID.
func ParseModelVersionFilter(filter string) ([]Comparison, error) {
	return parseFilter(modelVersionGrammar, registryClauses, filter)
}

// ParseRegisteredModelOrderBy parses one registered model order_by clause
// on name, creation_timestamp (alias timestamp) or last_updated_timestamp,
// with ASC (default) or DESC. Returns EINVALID.
func ParseRegisteredModelOrderBy(s string) (OrderBy, error) {
	return parseOrderBy(registeredModelGrammar, s)
}

// ParseModelVersionOrderBy parses one model version order_by clause on
// name, version_number, creation_timestamp (alias timestamp) or
// last_updated_timestamp, with ASC (default) or DESC. Returns EINVALID.
func ParseModelVersionOrderBy(s string) (OrderBy, error) {
	return parseOrderBy(modelVersionGrammar, s)
}

// registryNumeric reports whether a registry filter clause compares numbers.
func registryNumeric(typ, key string) bool {
	return typ == SearchAttribute && key == "version_number"
}

// registryClauses are the rules of registry filters: version_number is
// numeric; run_id also takes IN and NOT IN.
var registryClauses = clauseRules{
	keyExample: "tags.`my/key`",
	numeric:    registryNumeric,
	ops: func(g *searchGrammar, id ident) []string {
		if id.typ == SearchAttribute && g.listAttrs[id.key] {
			return []string{"=", "!=", "IN", "NOT IN"}
		}
		return stringOps
	},
}
