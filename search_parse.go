package loopml

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file parses MLflow's search grammar into Comparison and OrderBy
// values. The grammar, as MLflow's search_utils accepts it:
//
//	filter     = clause { "AND" clause }          (AND is case-insensitive)
//	clause     = identifier comparator value
//	identifier = [ entity "." ] key               (no entity: an attribute)
//	entity     = metric(s) | param(s) | parameter(s) | tag(s)
//	           | attribute(s) | attr | run | dataset(s)
//	key        = bare word with dots | `backtick quoted` | "double quoted"
//	comparator = "=" | "!=" | "<" | "<=" | ">" | ">=" | LIKE | ILIKE | IN | NOT IN
//	value      = 'string' | "string" | number | "(" string { "," string } ")"
//	order_by   = identifier [ ASC | DESC ]
//
// Strings may contain their quote doubled ('it''s') or backslash-escaped
// ('it\'s'); "\\" stands for one backslash and any other backslash is kept
// as is (so LIKE patterns such as 'a\_b' reach the store unchanged).
// Numbers are decimal with an optional sign, fraction and exponent.

// searchGrammar is what one kind of search (runs or experiments) accepts.
type searchGrammar struct {
	entities     map[string]string // entity prefix (lower case) → Search* type
	entityList   string            // for messages
	filterAttrs  map[string]string // attribute key (or alias) → canonical key, in filters
	orderAttrs   map[string]string // the same for order_by
	listAttrs    map[string]bool   // string attributes that accept IN / NOT IN
	orderTypes   map[string]bool   // entity types order_by accepts
	filterKeys   string            // attribute keys for messages
	orderKeys    string
	orderTypeMsg string
}

var runGrammar = &searchGrammar{
	entities: map[string]string{
		"metric": SearchMetric, "metrics": SearchMetric,
		"param": SearchParam, "params": SearchParam, "parameter": SearchParam, "parameters": SearchParam,
		"tag": SearchTag, "tags": SearchTag,
		"attribute": SearchAttribute, "attributes": SearchAttribute, "attr": SearchAttribute, "run": SearchAttribute,
		"dataset": SearchDataset, "datasets": SearchDataset,
	},
	entityList: "metrics, params, tags, attributes, datasets",
	filterAttrs: map[string]string{
		"run_id": "run_id", "run_name": "run_name", "user_id": "user_id", "status": "status",
		"artifact_uri": "artifact_uri", "start_time": "start_time", "end_time": "end_time",
		"created": "start_time", "Created": "start_time",
		"run name": "run_name", "Run name": "run_name", "Run Name": "run_name",
	},
	orderAttrs: map[string]string{
		"run_id": "run_id", "run_name": "run_name", "user_id": "user_id", "status": "status",
		"artifact_uri": "artifact_uri", "start_time": "start_time", "end_time": "end_time",
		"created": "start_time", "Created": "start_time",
		"run name": "run_name", "Run name": "run_name", "Run Name": "run_name",
	},
	listAttrs:    map[string]bool{"run_id": true},
	orderTypes:   map[string]bool{SearchMetric: true, SearchParam: true, SearchTag: true, SearchAttribute: true},
	filterKeys:   "run_id, run_name, status, user_id, artifact_uri, start_time, end_time, created",
	orderKeys:    "run_id, run_name, status, user_id, artifact_uri, start_time, end_time, created",
	orderTypeMsg: "runs can be ordered by metrics, params, tags and attributes",
}

var experimentGrammar = &searchGrammar{
	entities: map[string]string{
		"tag": SearchTag, "tags": SearchTag,
		"attribute": SearchAttribute, "attributes": SearchAttribute, "attr": SearchAttribute,
	},
	entityList: "attributes, tags",
	filterAttrs: map[string]string{
		"name": "name", "creation_time": "creation_time", "last_update_time": "last_update_time",
	},
	orderAttrs: map[string]string{
		"name": "name", "experiment_id": "experiment_id",
		"creation_time": "creation_time", "last_update_time": "last_update_time",
	},
	listAttrs:    map[string]bool{},
	orderTypes:   map[string]bool{SearchAttribute: true},
	filterKeys:   "name, creation_time, last_update_time",
	orderKeys:    "name, experiment_id, creation_time, last_update_time",
	orderTypeMsg: "experiments can only be ordered by attributes",
}

var datasetKeys = map[string]bool{"name": true, "digest": true, "context": true}

// ParseRunFilter parses an MLflow run search filter such as
//
//	metrics.rmse < 0.5 AND params.model = 'tree' AND tags.`my.tag` LIKE 'x%'
//
// into its clauses, which are ANDed. An empty or blank filter gives nil and
// no error. Identifiers are metrics.*, params.*, tags.*, attributes.*
// (run_id, run_name, status, user_id, artifact_uri, start_time, end_time;
// created is start_time) and dataset.name|digest|context, with MLflow's
// aliases; an identifier without a prefix is an attribute. Metrics and the
// time attributes take numeric comparators and a number; params and tags =,
// !=, LIKE, ILIKE and a quoted string; string attributes the same, and
// run_id also IN / NOT IN with a list of strings; dataset fields all string
// comparators. Every error is EINVALID and says what was wrong and where
// (1-based character position).
func ParseRunFilter(filter string) ([]Comparison, error) {
	return parseFilter(runGrammar, runClauses, filter)
}

// ParseRunOrderBy parses one run order_by clause, "<identifier> [ASC|DESC]"
// (ASC by default, case-insensitive), where identifier is a metric, param,
// tag or attribute as in ParseRunFilter. Returns EINVALID.
func ParseRunOrderBy(s string) (OrderBy, error) {
	return parseOrderBy(runGrammar, s)
}

// ParseExperimentFilter parses an MLflow experiment search filter such as
//
//	name LIKE 'prod-%' AND tags.team = 'vision' AND creation_time > 1700000000000
//
// Attributes are name (=, !=, LIKE, ILIKE) and creation_time and
// last_update_time (numeric comparators), unprefixed or prefixed with
// attributes.; tags.* take =, !=, LIKE, ILIKE. An empty or blank filter gives
// nil and no error. Returns EINVALID.
func ParseExperimentFilter(filter string) ([]Comparison, error) {
	return parseFilter(experimentGrammar, runClauses, filter)
}

// ParseExperimentOrderBy parses one experiment order_by clause on name,
// experiment_id, creation_time or last_update_time, with an optional
// attributes. prefix and ASC (default) or DESC. Returns EINVALID.
func ParseExperimentOrderBy(s string) (OrderBy, error) {
	return parseOrderBy(experimentGrammar, s)
}

// parser is a hand-written scanner and recursive-descent parser over one
// input; pos is a byte offset.
type parser struct {
	g    *searchGrammar
	src  string
	pos  int
	what string // "filter" or "order_by clause", for messages
}

// fail returns an EINVALID error about the input, reporting the position of
// byte offset at as a 1-based character position.
func (p *parser) fail(at int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	where := "at end of input"
	if at < len(p.src) {
		where = fmt.Sprintf("at position %d", utf8.RuneCountInString(p.src[:at])+1)
	}
	return Errorf(EINVALID, "Invalid %s '%s': %s %s", p.what, shorten(p.src), msg, where)
}

// shorten keeps error messages bounded for huge inputs.
func shorten(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) peekRune() rune {
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// scanWord returns the longest run of letters, digits and underscores at
// pos (also dots when dots is true).
func (p *parser) scanWord(dots bool) string {
	start := p.pos
	for p.pos < len(p.src) {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		if !isWordRune(r) && !(dots && r == '.') {
			break
		}
		p.pos += n
	}
	return p.src[start:p.pos]
}

// found describes what is at pos, for "expected X, found Y" messages.
func (p *parser) found() string {
	if p.eof() {
		return "end of input"
	}
	r := p.peekRune()
	if isWordRune(r) {
		save := p.pos
		w := p.scanWord(true)
		p.pos = save
		return "'" + w + "'"
	}
	if r == utf8.RuneError {
		return fmt.Sprintf("byte %#x", p.src[p.pos])
	}
	return fmt.Sprintf("'%c'", r)
}

// checkInput rejects inputs no store could handle: invalid UTF-8 and NUL.
func (p *parser) checkInput() error {
	for i := 0; i < len(p.src); {
		r, n := utf8.DecodeRuneInString(p.src[i:])
		if r == utf8.RuneError && n == 1 {
			return p.fail(i, "invalid UTF-8")
		}
		if r == 0 {
			return p.fail(i, "NUL character")
		}
		i += n
	}
	return nil
}

// ident is a parsed identifier.
type ident struct {
	typ, key string
	start    int
}

// describe names the identifier in messages: "metric 'rmse'".
func (id ident) describe() string {
	switch id.typ {
	case SearchDataset:
		return fmt.Sprintf("dataset field '%s'", id.key)
	default:
		return fmt.Sprintf("%s '%s'", id.typ, id.key)
	}
}

// scanQuoted reads a backtick- or double-quoted identifier part (no escapes,
// as MLflow).
func (p *parser) scanQuoted() (string, error) {
	q := p.src[p.pos]
	start := p.pos
	end := strings.IndexByte(p.src[p.pos+1:], q)
	if end < 0 {
		return "", p.fail(start, "unterminated %c-quoted identifier", q)
	}
	s := p.src[p.pos+1 : p.pos+1+end]
	p.pos += end + 2
	if s == "" {
		return "", p.fail(start, "empty quoted identifier")
	}
	return s, nil
}

// parseIdent reads an identifier and resolves it against attrs.
func (p *parser) parseIdent(attrs map[string]string, keys string) (ident, error) {
	p.skipSpace()
	id := ident{start: p.pos}
	if p.eof() {
		return id, p.fail(p.pos, "expected an identifier such as metrics.<key>")
	}
	var first string
	quoted := false
	switch c := p.src[p.pos]; {
	case c == '`' || c == '"':
		s, err := p.scanQuoted()
		if err != nil {
			return id, err
		}
		first, quoted = s, true
	case isWordRune(p.peekRune()):
		first = p.scanWord(false)
	case c == '(':
		return id, p.fail(p.pos, "parentheses around clauses are not supported")
	default:
		return id, p.fail(p.pos, "expected an identifier such as metrics.<key>, found %s", p.found())
	}

	if !p.eof() && p.src[p.pos] == '.' {
		typ, ok := p.g.entities[strings.ToLower(first)]
		if !ok {
			return id, p.fail(id.start, "invalid entity type '%s' (valid: %s)", first, p.g.entityList)
		}
		p.pos++
		keyStart := p.pos
		var key string
		switch {
		case p.eof():
			return id, p.fail(p.pos, "expected a key after '%s.'", first)
		case p.src[p.pos] == '`' || p.src[p.pos] == '"':
			s, err := p.scanQuoted()
			if err != nil {
				return id, err
			}
			key = s
		default:
			key = p.scanWord(true)
			if key == "" {
				return id, p.fail(p.pos, "expected a key after '%s.', found %s (quote keys with special characters in backticks)", first, p.found())
			}
		}
		id.typ, id.key = typ, key
		switch typ {
		case SearchAttribute:
			canon, ok := attrs[key]
			if !ok {
				return id, p.fail(keyStart, "invalid attribute key '%s' (valid: %s)", key, keys)
			}
			id.key = canon
		case SearchDataset:
			if !datasetKeys[key] {
				return id, p.fail(keyStart, "invalid dataset key '%s' (valid: name, digest, context)", key)
			}
		}
		return id, nil
	}

	// No prefix: an attribute.
	canon, ok := attrs[first]
	if !ok {
		if _, isEntity := p.g.entities[strings.ToLower(first)]; isEntity && !quoted {
			return id, p.fail(p.pos, "expected '.' and a key after '%s'", first)
		}
		return id, p.fail(id.start, "invalid attribute key '%s' (valid: %s)", first, keys)
	}
	id.typ, id.key = SearchAttribute, canon
	return id, nil
}

// parseComparator reads one comparator and returns it in upper case.
func (p *parser) parseComparator() (string, error) {
	p.skipSpace()
	start := p.pos
	if p.eof() {
		return "", p.fail(p.pos, "expected a comparator")
	}
	if strings.IndexByte("=!<>", p.src[p.pos]) >= 0 {
		for p.pos < len(p.src) && strings.IndexByte("=!<>", p.src[p.pos]) >= 0 {
			p.pos++
		}
		op := p.src[start:p.pos]
		switch op {
		case "=", "!=", "<", "<=", ">", ">=":
			return op, nil
		}
		return "", p.fail(start, "invalid comparator '%s'", op)
	}
	if !isWordRune(p.peekRune()) {
		return "", p.fail(start, "expected a comparator, found %s", p.found())
	}
	w := strings.ToUpper(p.scanWord(false))
	switch w {
	case "LIKE", "ILIKE", "IN":
		return w, nil
	case "NOT":
		p.skipSpace()
		at := p.pos
		if strings.ToUpper(p.scanWord(false)) == "IN" {
			return "NOT IN", nil
		}
		p.pos = at
		return "", p.fail(at, "expected IN after NOT, found %s", p.found())
	}
	return "", p.fail(start, "invalid comparator '%s'", p.src[start:p.pos])
}

// value is a parsed operand.
type value struct {
	kind  byte // 's' string, 'n' number, 'l' list
	str   string
	num   float64
	list  []string
	raw   string
	start int
}

// parseValue reads a string, a number or a parenthesized list of strings.
func (p *parser) parseValue() (value, error) {
	p.skipSpace()
	v := value{start: p.pos}
	if p.eof() {
		return v, p.fail(p.pos, "expected a value")
	}
	switch c := p.src[p.pos]; {
	case c == '\'' || c == '"':
		s, err := p.scanString()
		if err != nil {
			return v, err
		}
		v.kind, v.str = 's', s
	case c == '(':
		p.pos++
		for {
			p.skipSpace()
			if p.eof() {
				return v, p.fail(p.pos, "unterminated list, expected ')'")
			}
			if c := p.src[p.pos]; c != '\'' && c != '"' {
				if c == ')' && len(v.list) == 0 {
					return v, p.fail(p.pos, "empty list; a list needs at least one quoted string")
				}
				return v, p.fail(p.pos, "expected a quoted string in list, found %s", p.found())
			}
			s, err := p.scanString()
			if err != nil {
				return v, err
			}
			v.list = append(v.list, s)
			p.skipSpace()
			if p.eof() {
				return v, p.fail(p.pos, "unterminated list, expected ')'")
			}
			if p.src[p.pos] == ')' {
				p.pos++
				break
			}
			if p.src[p.pos] != ',' {
				return v, p.fail(p.pos, "expected ',' or ')' in list, found %s", p.found())
			}
			p.pos++
		}
		v.kind = 'l'
	case c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9':
		n, err := p.scanNumber()
		if err != nil {
			return v, err
		}
		v.kind, v.num = 'n', n
	default:
		return v, p.fail(p.pos, "expected a quoted string or a number, found %s", p.found())
	}
	v.raw = p.src[v.start:p.pos]
	return v, nil
}

// scanString reads a single- or double-quoted string and unescapes it.
func (p *parser) scanString() (string, error) {
	q := p.src[p.pos]
	start := p.pos
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\\' && p.pos+1 < len(p.src) && (p.src[p.pos+1] == q || p.src[p.pos+1] == '\\'):
			b.WriteByte(p.src[p.pos+1])
			p.pos += 2
		case c == q && p.pos+1 < len(p.src) && p.src[p.pos+1] == q:
			b.WriteByte(q)
			p.pos += 2
		case c == q:
			p.pos++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", p.fail(start, "unterminated string")
}

// scanNumber reads [+-]? (digits [. digits] | . digits) [(e|E) [+-]? digits].
func (p *parser) scanNumber() (float64, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if c := p.src[p.pos]; c == '-' || c == '+' {
		p.pos++
	}
	n := digits()
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		n += digits()
	}
	if n == 0 {
		return 0, p.fail(start, "invalid number '%s'", p.src[start:p.pos])
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '-' || p.src[p.pos] == '+') {
			p.pos++
		}
		if digits() == 0 {
			return 0, p.fail(start, "invalid number '%s'", p.src[start:p.pos])
		}
	}
	if !p.eof() && (isWordRune(p.peekRune()) || p.src[p.pos] == '.') {
		p.scanWord(true)
		return 0, p.fail(start, "invalid number '%s'", p.src[start:p.pos])
	}
	raw := p.src[start:p.pos]
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return 0, p.fail(start, "number '%s' out of range", raw)
	}
	return f, nil
}

var (
	numericOps = []string{"=", "!=", "<", "<=", ">", ">="}
	stringOps  = []string{"=", "!=", "LIKE", "ILIKE"}
	listOps    = []string{"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
)

func hasOp(ops []string, op string) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// clauseRules are what differs between the clause grammars of runs and
// experiments and those of the model registry.
type clauseRules struct {
	keyExample string                                    // shown when a key needs backticks
	numeric    func(typ, key string) bool                // whether the operand is a number
	ops        func(g *searchGrammar, id ident) []string // valid comparators for a string operand
	// opHint, if set, may explain a comparator that is not valid for id
	// better than the list of valid ones ("" = use the list).
	opHint func(op string, id ident) string
}

// runClauses are the rules of run and experiment filters.
var runClauses = clauseRules{
	keyExample: "metrics.`val/loss`",
	numeric:    func(typ, key string) bool { return Comparison{Type: typ, Key: key}.IsNumeric() },
	ops: func(g *searchGrammar, id ident) []string {
		if id.typ == SearchDataset || id.typ == SearchParam || id.typ == SearchTag ||
			id.typ == SearchAttribute && g.listAttrs[id.key] {
			return listOps
		}
		return stringOps
	},
	opHint: func(op string, id ident) string {
		if (op == "IN" || op == "NOT IN") && id.typ == SearchAttribute {
			return fmt.Sprintf("comparator '%s' is not supported for %s; only run_id accepts IN and NOT IN", op, id.describe())
		}
		return ""
	},
}

// parseClause reads "identifier comparator value" and checks that the three
// fit together under r.
func (p *parser) parseClause(r clauseRules) (Comparison, error) {
	id, err := p.parseIdent(p.g.filterAttrs, p.g.filterKeys)
	if err != nil {
		return Comparison{}, err
	}
	if !p.eof() && strings.IndexByte("-/:@", p.src[p.pos]) >= 0 {
		return Comparison{}, p.fail(p.pos, "unexpected '%c' after %s; quote keys with special characters in backticks, e.g. %s", p.src[p.pos], id.describe(), r.keyExample)
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
	numeric := r.numeric(id.typ, id.key)
	ops := numericOps
	if !numeric {
		ops = r.ops(p.g, id)
	}
	if !hasOp(ops, op) {
		if r.opHint != nil {
			if hint := r.opHint(op, id); hint != "" {
				return c, p.fail(opStart, "%s", hint)
			}
		}
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

func parseFilter(g *searchGrammar, r clauseRules, filter string) ([]Comparison, error) {
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
		c, err := p.parseClause(r)
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

func parseOrderBy(g *searchGrammar, s string) (OrderBy, error) {
	p := &parser{g: g, src: s, what: "order_by clause"}
	if err := p.checkInput(); err != nil {
		return OrderBy{}, err
	}
	p.skipSpace()
	if p.eof() {
		return OrderBy{}, p.fail(p.pos, "expected an identifier")
	}
	id, err := p.parseIdent(g.orderAttrs, g.orderKeys)
	if err != nil {
		return OrderBy{}, err
	}
	if !g.orderTypes[id.typ] {
		return OrderBy{}, p.fail(id.start, "cannot order by %s; %s", id.describe(), g.orderTypeMsg)
	}
	if !p.eof() && strings.IndexByte("-/:@", p.src[p.pos]) >= 0 {
		return OrderBy{}, p.fail(p.pos, "unexpected '%c' after %s; quote keys with special characters in backticks, e.g. metrics.`val/loss`", p.src[p.pos], id.describe())
	}
	ob := OrderBy{Type: id.typ, Key: id.key, Ascending: true}
	p.skipSpace()
	if p.eof() {
		return ob, nil
	}
	at := p.pos
	if !isWordRune(p.peekRune()) {
		return OrderBy{}, p.fail(at, "expected ASC or DESC, found %s", p.found())
	}
	switch w := p.scanWord(false); strings.ToUpper(w) {
	case "ASC":
	case "DESC":
		ob.Ascending = false
	default:
		return OrderBy{}, p.fail(at, "invalid ordering '%s', expected ASC or DESC", w)
	}
	p.skipSpace()
	if !p.eof() {
		return OrderBy{}, p.fail(p.pos, "unexpected %s after the ordering", p.found())
	}
	return ob, nil
}
