package loopml

import "strings"

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
	return parseRegistryFilter(registeredModelGrammar, filter)
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
	return parseRegistryFilter(modelVersionGrammar, filter)
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

// parseRegistryClause reads "identifier comparator value" with the
// registry's operator rules.
func (p *parser) parseRegistryClause() (Comparison, error) {
	id, err := p.parseIdent(p.g.filterAttrs, p.g.filterKeys)
	if err != nil {
		return Comparison{}, err
	}
	if !p.eof() && strings.IndexByte("-/:@", p.src[p.pos]) >= 0 {
		return Comparison{}, p.fail(p.pos, "unexpected '%c' after %s; quote keys with special characters in backticks, e.g. tags.`my/key`", p.src[p.pos], id.describe())
	}
	p.skipSpace()
	opStart := p.pos
	op, err := p.parseComparator()
	if err != nil {
		return Comparison{}, err
	}
	v, err := p.parseValue()
	if err != nil {
		return Comparison{}, err
	}
	c := Comparison{Type: id.typ, Key: id.key, Op: op}
	numeric := registryNumeric(id.typ, id.key)
	var ops []string
	switch {
	case numeric:
		ops = numericOps
	case id.typ == SearchAttribute && p.g.listAttrs[id.key]:
		ops = []string{"=", "!=", "IN", "NOT IN"}
	default:
		ops = stringOps
	}
	if !hasOp(ops, op) {
		return c, p.fail(opStart, "invalid comparator '%s' for %s (valid: %s)", op, id.describe(), strings.Join(ops, ", "))
	}
	switch {
	case numeric:
		if v.kind != 'n' {
			return c, p.fail(v.start, "expected a number for %s, found %s", id.describe(), v.raw)
		}
		c.Number = v.num
	case op == "IN" || op == "NOT IN":
		if v.kind != 'l' {
			return c, p.fail(v.start, "expected a parenthesized list of quoted strings after %s, found %s", op, v.raw)
		}
		c.Values = v.list
	default:
		switch v.kind {
		case 'l':
			return c, p.fail(v.start, "a list of values is only allowed with IN or NOT IN")
		case 'n':
			return c, p.fail(v.start, "expected a quoted string for %s (e.g. 'my-value'), found %s", id.describe(), v.raw)
		}
		c.Value = v.str
	}
	return c, nil
}

func parseRegistryFilter(g *searchGrammar, filter string) ([]Comparison, error) {
	p := &parser{g: g, src: filter, what: "filter"}
	if err := p.checkInput(); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() {
		return nil, nil
	}
	var out []Comparison
	for {
		c, err := p.parseRegistryClause()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		p.skipSpace()
		if p.eof() {
			return out, nil
		}
		at := p.pos
		if !isWordRune(p.peekRune()) {
			return nil, p.fail(at, "expected AND, found %s", p.found())
		}
		switch w := p.scanWord(false); strings.ToUpper(w) {
		case "AND":
		case "OR":
			return nil, p.fail(at, "only AND is supported, found '%s'", w)
		default:
			p.pos = at
			return nil, p.fail(at, "expected AND, found %s", p.found())
		}
	}
}
