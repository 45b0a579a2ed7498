package pipeline

import (
	"fmt"
	"strconv"
	"strings"
)

// Expr is a parsed gate condition. The grammar is
//
//	expr    = or
//	or      = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = "!" unary | compare
//	compare = product [ ( "<" | "<=" | ">" | ">=" | "==" | "!=" ) product ]
//	product = operand { ( "*" | "/" ) operand }
//	operand = number | string | "true" | "false" | ref | "(" expr ")"
//	ref     = name { "." name }     e.g. metrics.rmse, evaluate.metrics.ndcg_at_10,
//	                                params.k, champion.metrics.rmse
//
// Numbers are decimal (with an optional sign, fraction and exponent);
// strings are double-quoted with Go escapes; names hold letters, digits,
// '_', '-' and '@' and start with a letter or '_'.
type Expr interface {
	eval(env Resolver) (value, error)
	String() string
}

// Resolver returns the value of a reference in a gate condition: a float64,
// a string or a bool, and ok=false when it is not defined.
type Resolver func(ref string) (v any, ok bool)

// ChampionPrefix starts references to the champion's metrics.
const ChampionPrefix = "champion."

// Eval evaluates e. A comparison one of whose sides is a champion reference
// that does not resolve (no champion yet) is true, so the first model
// passes a "better than the champion" gate; any other unresolved reference
// is an error naming it.
func Eval(e Expr, env Resolver) (bool, error) {
	v, err := e.eval(env)
	if err != nil {
		return false, err
	}
	b, ok := v.v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not a comparison (value %v)", e, v.v)
	}
	return b, nil
}

type value struct {
	v          any  // float64, string, bool
	noChampion bool // an unresolved champion reference
}

// ParseExpr parses a gate condition.
func ParseExpr(src string) (Expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &exprParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at offset %d", p.toks[p.pos].text, p.toks[p.pos].off)
	}
	return e, nil
}

type tokKind int

const (
	tNum tokKind = iota
	tStr
	tRef
	tOp
)

type token struct {
	kind tokKind
	text string
	off  int
	num  float64
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isNameChar(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-' || c == '@'
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			v, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				return nil, fmt.Errorf("bad string at offset %d: %v", i, err)
			}
			out = append(out, token{kind: tStr, text: v, off: i})
			i = j + 1
		case c >= '0' && c <= '9' || c == '.' || (c == '-' || c == '+') && i+1 < len(s) && (s[i+1] >= '0' && s[i+1] <= '9' || s[i+1] == '.'):
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				(s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			f, err := strconv.ParseFloat(s[i:j], 64)
			if err != nil {
				return nil, fmt.Errorf("bad number %q at offset %d", s[i:j], i)
			}
			out = append(out, token{kind: tNum, text: s[i:j], off: i, num: f})
			i = j
		case isNameStart(c):
			j := i
			for j < len(s) {
				if isNameChar(s[j]) {
					j++
					continue
				}
				if s[j] == '.' && j+1 < len(s) && isNameChar(s[j+1]) {
					j++
					continue
				}
				break
			}
			out = append(out, token{kind: tRef, text: s[i:j], off: i})
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "&&", "||", "<=", ">=", "==", "!=":
				out = append(out, token{kind: tOp, text: two, off: i})
				i += 2
				continue
			}
			switch c {
			case '<', '>', '!', '(', ')', '*', '/':
				out = append(out, token{kind: tOp, text: string(c), off: i})
				i++
			default:
				return nil, fmt.Errorf("unexpected character %q at offset %d", c, i)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	return out, nil
}

type exprParser struct {
	toks  []token
	pos   int
	depth int
}

func (p *exprParser) peekOp(ops ...string) string {
	if p.pos < len(p.toks) && p.toks[p.pos].kind == tOp {
		for _, o := range ops {
			if p.toks[p.pos].text == o {
				return o
			}
		}
	}
	return ""
}

func (p *exprParser) or() (Expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekOp("||") != "" {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &logical{op: "||", l: l, r: r}
	}
	return l, nil
}

func (p *exprParser) and() (Expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peekOp("&&") != "" {
		p.pos++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &logical{op: "&&", l: l, r: r}
	}
	return l, nil
}

func (p *exprParser) unary() (Expr, error) {
	if p.peekOp("!") != "" {
		p.pos++
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > 100 {
			return nil, fmt.Errorf("condition nested too deeply")
		}
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &not{e: e}, nil
	}
	return p.compare()
}

func (p *exprParser) product() (Expr, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peekOp("*", "/")
		if op == "" {
			return l, nil
		}
		p.pos++
		r, err := p.operand()
		if err != nil {
			return nil, err
		}
		l = &arith{op: op, l: l, r: r}
	}
}

func (p *exprParser) compare() (Expr, error) {
	l, err := p.product()
	if err != nil {
		return nil, err
	}
	if op := p.peekOp("<", "<=", ">", ">=", "==", "!="); op != "" {
		p.pos++
		r, err := p.product()
		if err != nil {
			return nil, err
		}
		return &compare{op: op, l: l, r: r}, nil
	}
	return l, nil
}

func (p *exprParser) operand() (Expr, error) {
	if p.pos >= len(p.toks) {
		return nil, fmt.Errorf("condition ends where an operand was expected")
	}
	t := p.toks[p.pos]
	p.pos++
	switch t.kind {
	case tNum:
		return literal{v: t.num, text: t.text}, nil
	case tStr:
		return literal{v: t.text, text: strconv.Quote(t.text)}, nil
	case tRef:
		switch t.text {
		case "true":
			return literal{v: true, text: "true"}, nil
		case "false":
			return literal{v: false, text: "false"}, nil
		}
		return ref(t.text), nil
	}
	if t.text == "(" {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > 100 {
			return nil, fmt.Errorf("condition nested too deeply")
		}
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peekOp(")") == "" {
			return nil, fmt.Errorf("missing ')' for '(' at offset %d", t.off)
		}
		p.pos++
		return &paren{e: e}, nil
	}
	return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.off)
}

type literal struct {
	v    any
	text string
}

func (l literal) eval(Resolver) (value, error) { return value{v: l.v}, nil }
func (l literal) String() string               { return l.text }

type ref string

func (r ref) eval(env Resolver) (value, error) {
	v, ok := env(string(r))
	if !ok {
		if strings.HasPrefix(string(r), ChampionPrefix) {
			return value{noChampion: true}, nil
		}
		return value{}, fmt.Errorf("%s is not defined", string(r))
	}
	if s, isStr := v.(string); isStr {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return value{v: f}, nil
		}
	}
	return value{v: v}, nil
}
func (r ref) String() string { return string(r) }

type paren struct{ e Expr }

func (p *paren) eval(env Resolver) (value, error) { return p.e.eval(env) }
func (p *paren) String() string                   { return "(" + p.e.String() + ")" }

type not struct{ e Expr }

func (n *not) eval(env Resolver) (value, error) {
	v, err := n.e.eval(env)
	if err != nil {
		return value{}, err
	}
	if v.noChampion {
		return value{v: true}, nil
	}
	b, ok := v.v.(bool)
	if !ok {
		return value{}, fmt.Errorf("! applied to %s, which is not true or false", n.e)
	}
	return value{v: !b}, nil
}
func (n *not) String() string { return "!" + n.e.String() }

type logical struct {
	op   string
	l, r Expr
}

func (x *logical) eval(env Resolver) (value, error) {
	side := func(e Expr) (bool, error) {
		v, err := e.eval(env)
		if err != nil {
			return false, err
		}
		if v.noChampion {
			return true, nil
		}
		b, ok := v.v.(bool)
		if !ok {
			return false, fmt.Errorf("%s: %s is not true or false", x.op, e)
		}
		return b, nil
	}
	l, err := side(x.l)
	if err != nil {
		return value{}, err
	}
	if x.op == "&&" && !l || x.op == "||" && l {
		return value{v: l}, nil
	}
	r, err := side(x.r)
	if err != nil {
		return value{}, err
	}
	return value{v: r}, nil
}
func (x *logical) String() string { return x.l.String() + " " + x.op + " " + x.r.String() }

type compare struct {
	op   string
	l, r Expr
}

func (c *compare) eval(env Resolver) (value, error) {
	l, err := c.l.eval(env)
	if err != nil {
		return value{}, err
	}
	r, err := c.r.eval(env)
	if err != nil {
		return value{}, err
	}
	if l.noChampion || r.noChampion {
		return value{v: true}, nil
	}
	switch lv := l.v.(type) {
	case float64:
		rv, ok := r.v.(float64)
		if !ok {
			return value{}, fmt.Errorf("%s: cannot compare number %s with %v", c, c.l, r.v)
		}
		var b bool
		switch c.op {
		case "<":
			b = lv < rv
		case "<=":
			b = lv <= rv
		case ">":
			b = lv > rv
		case ">=":
			b = lv >= rv
		case "==":
			b = lv == rv
		case "!=":
			b = lv != rv
		}
		return value{v: b}, nil
	case string, bool:
		if c.op != "==" && c.op != "!=" {
			return value{}, fmt.Errorf("%s: only == and != compare strings and booleans", c)
		}
		eq := fmt.Sprint(l.v) == fmt.Sprint(r.v)
		return value{v: eq == (c.op == "==")}, nil
	}
	return value{}, fmt.Errorf("%s: bad operand", c)
}
func (c *compare) String() string { return c.l.String() + " " + c.op + " " + c.r.String() }

type arith struct {
	op   string
	l, r Expr
}

func (a *arith) eval(env Resolver) (value, error) {
	l, err := a.l.eval(env)
	if err != nil {
		return value{}, err
	}
	r, err := a.r.eval(env)
	if err != nil {
		return value{}, err
	}
	if l.noChampion || r.noChampion {
		return value{noChampion: true}, nil
	}
	lf, ok1 := l.v.(float64)
	rf, ok2 := r.v.(float64)
	if !ok1 || !ok2 {
		return value{}, fmt.Errorf("%s: %s needs numbers", a, a.op)
	}
	if a.op == "*" {
		return value{v: lf * rf}, nil
	}
	return value{v: lf / rf}, nil
}
func (a *arith) String() string { return a.l.String() + " " + a.op + " " + a.r.String() }
