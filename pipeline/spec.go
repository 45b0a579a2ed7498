package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/training"
	"go.yaml.in/yaml/v3"
)

// MaxExpansion bounds the stages one foreach or matrix expands into.
const MaxExpansion = 1000

// DefaultParamsFile is the params file that a params key without "file:"
// is read from, relative to the spec's directory (as DVC's params.yaml).
const DefaultParamsFile = "params.yaml"

// Spec is a parsed, expanded and validated pipeline file.
type Spec struct {
	// File is the path the spec was read from; Dir its directory, against
	// which relative paths (wd, deps, outs, params files) are resolved.
	File string
	Dir  string
	// Name names the pipeline (default: the directory's base name) and
	// Experiment the tracking experiment of its runs (default: Name).
	Name       string
	Experiment string
	// Stages in a topological order (upstream first, ties in file order).
	Stages []*Stage

	byName map[string]*Stage
}

// Stage is one step of a pipeline, after foreach/matrix expansion and
// parameter substitution.
type Stage struct {
	Name string // "train" or, for an expanded stage, "train@item"
	Line int    // line of the stage in the spec file

	// Exactly one of Cmd (run by sh -c), Argv (exec'd directly) and Uses
	// (a built-in step) is set, or none for a stage that only registers a
	// model or evaluates a gate.
	Cmd  string
	Argv []string
	Uses string         // "loopml/mf", ...
	With map[string]any // inputs of a built-in step

	Deps    []Dep
	Params  map[string]string // resolved parameter values by key
	Outs    []string          // slash-separated paths relative to Dir
	Metrics []string          // metric files (JSON or YAML), relative to Dir
	Model   *ModelSpec
	Gate    *GateSpec
	Env     map[string]string
	Wd      string // working directory relative to Dir ("" is Dir)
	Timeout time.Duration
	Retries int
	Backoff time.Duration // first retry delay, doubled each retry
	// AlwaysChanged stages never come from the cache: they read
	// something the cache key cannot see (a serving endpoint, a remote
	// service, the clock), as DVC's always_changed.
	AlwaysChanged bool

	// Upstream names the stages this one depends on, sorted.
	Upstream []string

	paramFiles map[string]string // param key -> file it came from
}

// Dep is one dependency of a stage.
type Dep struct {
	// Raw is the dependency as written (after substitution).
	Raw string
	// Path is a file or directory relative to the spec's directory (or
	// absolute); Dataset is a dataset reference NAME@ref of a data:// dep;
	// Stage names the stage of a "STAGE.outs" reference. One is set.
	Path    string
	Dataset string
	Stage   string
}

// ModelSpec registers an output as a model version.
type ModelSpec struct {
	Name  string
	Path  string // an output (or a path below one) holding the model package
	Alias string // optional alias set on the new version
}

// GateSpec is the condition of a gate stage and the champion it is compared
// with.
type GateSpec struct {
	Condition string
	// Champion is the model version "champion.metrics.X" refers to:
	// "NAME@ALIAS"; default: the model of the first downstream stage with
	// a model, at its alias (or "champion").
	Champion string
	expr     Expr
}

// ParseOptions configures Parse.
type ParseOptions struct {
	// Set overrides parameters: "key=value" where key is a params-file key
	// ("mf.k", overriding it in every stage that reads it) or
	// "STAGE.key" (an inline parameter of one stage).
	Set []string
}

// SpecError is a problem in a spec file, located by file and line.
type SpecError struct {
	File string
	Line int
	Msg  string
}

func (e *SpecError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// errList collects spec errors.
type errList struct {
	file string
	errs []*SpecError
}

func (l *errList) add(line int, format string, args ...any) {
	l.errs = append(l.errs, &SpecError{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	// By line (problems without one, like --set, last); equal lines keep
	// the order they were found in.
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i].Line, l.errs[j].Line
		if a == 0 || b == 0 {
			return a != 0 && b == 0
		}
		return a < b
	})
	msgs := make([]string, len(l.errs))
	errs := make([]error, len(l.errs))
	for i, e := range l.errs {
		msgs[i], errs[i] = e.Error(), e
	}
	return loopml.WrapError(loopml.EINVALID, errors.Join(errs...), "%s", strings.Join(msgs, "\n"))
}

var (
	stageNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	itemSuffixRE = regexp.MustCompile(`^[A-Za-z0-9_.=,+-]+$`)
)

// ParseFile reads and validates the pipeline spec at path.
func ParseFile(path string, o ParseOptions) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "pipeline file: %v", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "pipeline file: %v", err)
	}
	return Parse(b, abs, o)
}

// Parse parses spec text src read from file (used in messages and to
// resolve relative paths and params files). Every problem is reported as
// "file:line: message", all of them in one EINVALID error: unknown keys,
// wrong types, unknown stages in deps, cycles (with their path), outputs
// declared twice, bad gate conditions, missing params.
func Parse(src []byte, file string, o ParseOptions) (*Spec, error) {
	el := &errList{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		el.add(yamlLine(err), "%s", yamlMsg(err))
		return nil, el.err()
	}
	s := &Spec{File: file, Dir: filepath.Dir(file), byName: map[string]*Stage{}}
	if len(doc.Content) == 0 {
		el.add(1, "empty pipeline file: expected a mapping with stages")
		return nil, el.err()
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		el.add(root.Line, "expected a mapping with stages, got %s", kindName(root))
		return nil, el.err()
	}
	sets, err := parseSets(o.Set)
	if err != nil {
		return nil, err
	}
	p := &parser{el: el, spec: s, sets: sets, paramFiles: map[string]*yaml.Node{}}
	var stagesNode *yaml.Node
	globalEnv := map[string]string{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "name":
			s.Name = p.str(v, "name")
		case "experiment":
			s.Experiment = p.str(v, "experiment")
		case "env":
			globalEnv = p.strMap(v, "env")
		case "stages":
			stagesNode = v
		default:
			el.add(k.Line, "unknown key %q (allowed: name, experiment, env, stages)", k.Value)
		}
	}
	if s.Name == "" {
		s.Name = filepath.Base(s.Dir)
	}
	if s.Experiment == "" {
		s.Experiment = s.Name
	}
	if stagesNode == nil {
		el.add(root.Line, "missing key \"stages\"")
		return nil, el.err()
	}
	if stagesNode.Kind != yaml.MappingNode {
		el.add(stagesNode.Line, "stages: expected a mapping of stage names to stages, got %s", kindName(stagesNode))
		return nil, el.err()
	}
	seenBase := map[string]int{}
	for i := 0; i+1 < len(stagesNode.Content); i += 2 {
		k, v := stagesNode.Content[i], stagesNode.Content[i+1]
		if !stageNameRE.MatchString(k.Value) {
			el.add(k.Line, "stage name %q: use letters, digits, '_' and '-', starting with a letter", k.Value)
			continue
		}
		if l, dup := seenBase[k.Value]; dup {
			el.add(k.Line, "stage %q is declared twice (first at line %d)", k.Value, l)
			continue
		}
		seenBase[k.Value] = k.Line
		for _, st := range p.stage(k.Value, k.Line, v, globalEnv) {
			if prev, dup := s.byName[st.Name]; dup {
				el.add(st.Line, "stage %q is declared twice (first at line %d)", st.Name, prev.Line)
				continue
			}
			s.byName[st.Name] = st
			s.Stages = append(s.Stages, st)
		}
	}
	p.declared = seenBase
	p.partial = len(el.errs) > 0
	p.applySets()
	p.link()
	if len(el.errs) > 0 {
		return nil, el.err()
	}
	return s, nil
}

// Stage returns the stage named name, or nil.
func (s *Spec) Stage(name string) *Stage { return s.byName[name] }

type setOverride struct {
	key, value string
	used       bool
}

func parseSets(sets []string) ([]*setOverride, error) {
	var out []*setOverride
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, loopml.Errorf(loopml.EINVALID, "--set %q: expected key=value (e.g. mf.k=64 or STAGE.key=value)", kv)
		}
		out = append(out, &setOverride{key: strings.TrimSpace(k), value: v})
	}
	return out, nil
}

type parser struct {
	el         *errList
	spec       *Spec
	sets       []*setOverride
	paramFiles map[string]*yaml.Node // loaded params files by path
	paramLines map[*Stage]map[string]int
	// declared holds every stage name in the file and partial is set when
	// some stage did not parse: link then reports only what it can tell.
	declared map[string]int
	partial  bool
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

var (
	yamlLineRE       = regexp.MustCompile(`line (\d+)`)
	yamlLinePrefixRE = regexp.MustCompile(`^line \d+: `)
)

func yamlLine(err error) int {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

func yamlMsg(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return yamlLinePrefixRE.ReplaceAllString(msg, "")
}

func (p *parser) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.el.add(n.Line, "%s: expected a string, got %s", what, kindName(n))
		return ""
	}
	return n.Value
}

func (p *parser) strList(n *yaml.Node, what string) ([]string, []int) {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}, []int{n.Line}
	}
	if n.Kind != yaml.SequenceNode {
		p.el.add(n.Line, "%s: expected a list of strings, got %s", what, kindName(n))
		return nil, nil
	}
	var out []string
	var lines []int
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
			p.el.add(c.Line, "%s: expected a string, got %s", what, kindName(c))
			continue
		}
		out = append(out, c.Value)
		lines = append(lines, c.Line)
	}
	return out, lines
}

func (p *parser) strMap(n *yaml.Node, what string) map[string]string {
	if n.Kind != yaml.MappingNode {
		p.el.add(n.Line, "%s: expected a mapping, got %s", what, kindName(n))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			p.el.add(v.Line, "%s.%s: expected a scalar value, got %s", what, k.Value, kindName(v))
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}

// stageKeys are the keys a stage may have.
var stageKeys = []string{"cmd", "uses", "with", "deps", "params", "outs", "metrics", "model", "gate", "foreach", "matrix", "env", "wd", "timeout", "retries", "backoff", "always_changed"}

// stage parses one stage and expands foreach/matrix.
func (p *parser) stage(name string, line int, n *yaml.Node, globalEnv map[string]string) []*Stage {
	if n.Kind != yaml.MappingNode {
		p.el.add(n.Line, "stage %q: expected a mapping, got %s", name, kindName(n))
		return nil
	}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(stageKeys, k.Value) {
			p.el.add(k.Line, "stage %q: unknown key %q (allowed: %s)", name, k.Value, strings.Join(stageKeys, ", "))
			continue
		}
		keys[k.Value] = v
	}
	// Items of foreach / matrix: nil means one unexpanded stage.
	type item struct {
		suffix string
		value  any               // ${item}
		params map[string]string // matrix/mapping items become params
	}
	var items []item
	if fe, ok := keys["foreach"]; ok {
		if fe.Kind != yaml.SequenceNode || len(fe.Content) == 0 {
			p.el.add(fe.Line, "stage %q: foreach: expected a non-empty list, got %s", name, kindName(fe))
			return nil
		}
		if len(fe.Content) > MaxExpansion {
			p.el.add(fe.Line, "stage %q: foreach has more than %d items", name, MaxExpansion)
			return nil
		}
		for _, c := range fe.Content {
			switch c.Kind {
			case yaml.ScalarNode:
				items = append(items, item{suffix: c.Value, value: c.Value})
			case yaml.MappingNode:
				m := p.strMap(c, "foreach item")
				ks := sortedKeys(m)
				vals := make([]string, len(ks))
				for i, k := range ks {
					vals[i] = m[k]
				}
				anyM := map[string]any{}
				for k, v := range m {
					anyM[k] = v
				}
				items = append(items, item{suffix: strings.Join(vals, "-"), value: anyM, params: m})
			default:
				p.el.add(c.Line, "stage %q: foreach item: expected a scalar or a mapping, got %s", name, kindName(c))
			}
		}
	}
	if mx, ok := keys["matrix"]; ok {
		if _, both := keys["foreach"]; both {
			p.el.add(mx.Line, "stage %q: use foreach or matrix, not both", name)
			return nil
		}
		if mx.Kind != yaml.MappingNode || len(mx.Content) == 0 {
			p.el.add(mx.Line, "stage %q: matrix: expected a mapping of parameter names to lists, got %s", name, kindName(mx))
			return nil
		}
		combos := []map[string]string{{}}
		var order []string
		for i := 0; i+1 < len(mx.Content); i += 2 {
			k, v := mx.Content[i], mx.Content[i+1]
			vals, _ := p.strList(v, "matrix."+k.Value)
			if len(vals) == 0 {
				p.el.add(v.Line, "stage %q: matrix.%s: expected a non-empty list", name, k.Value)
				return nil
			}
			order = append(order, k.Value)
			var next []map[string]string
			for _, c := range combos {
				for _, val := range vals {
					m := map[string]string{k.Value: val}
					for ck, cv := range c {
						m[ck] = cv
					}
					next = append(next, m)
				}
			}
			combos = next
			if len(combos) > MaxExpansion {
				p.el.add(mx.Line, "stage %q: matrix expands to more than %d stages", name, MaxExpansion)
				return nil
			}
		}
		for _, c := range combos {
			vals := make([]string, len(order))
			anyM := map[string]any{}
			for i, k := range order {
				vals[i] = c[k]
				anyM[k] = c[k]
			}
			items = append(items, item{suffix: strings.Join(vals, "-"), value: anyM, params: c})
		}
	}
	if items == nil {
		st := p.stageBody(name, name, line, keys, nil, nil, globalEnv)
		if st == nil {
			return nil
		}
		return []*Stage{st}
	}
	var out []*Stage
	for _, it := range items {
		full := name + "@" + it.suffix
		if !itemSuffixRE.MatchString(it.suffix) {
			p.el.add(line, "stage %q: foreach/matrix item %q gives a bad stage name (use letters, digits, '.', '_', '-')", name, it.suffix)
			continue
		}
		if st := p.stageBody(name, full, line, keys, it.value, it.params, globalEnv); st != nil {
			out = append(out, st)
		}
	}
	return out
}

// subst replaces ${item}, ${item.KEY} and ${params.KEY} in s; params are
// looked up in ps (unknown ones are kept, for the later pass).
func subst(s string, item any, ps map[string]string) (string, error) {
	var err error
	out := substRE.ReplaceAllStringFunc(s, func(m string) string {
		ref := m[2 : len(m)-1]
		switch {
		case ref == "item":
			switch v := item.(type) {
			case nil:
				err = fmt.Errorf("${item} outside a foreach/matrix stage")
			case string:
				return v
			default:
				err = fmt.Errorf("${item} is a mapping here: use ${item.KEY}")
			}
		case strings.HasPrefix(ref, "item."):
			mv, ok := item.(map[string]any)
			if !ok {
				err = fmt.Errorf("%s outside a foreach/matrix stage with mapping items", m)
				return m
			}
			v, ok := mv[strings.TrimPrefix(ref, "item.")]
			if !ok {
				err = fmt.Errorf("%s: the item has no such key", m)
				return m
			}
			return fmt.Sprint(v)
		case strings.HasPrefix(ref, "params."):
			if ps == nil {
				return m
			}
			v, ok := ps[strings.TrimPrefix(ref, "params.")]
			if !ok {
				err = fmt.Errorf("%s: the stage declares no such param", m)
				return m
			}
			return v
		}
		return m
	})
	return out, err
}

var substRE = regexp.MustCompile(`\$\{(item|item\.[A-Za-z0-9_.-]+|params\.[A-Za-z0-9_.-]+)\}`)

// stageBody parses the keys of one (possibly expanded) stage.
func (p *parser) stageBody(base, name string, line int, keys map[string]*yaml.Node, item any, itemParams map[string]string, globalEnv map[string]string) *Stage {
	st := &Stage{Name: name, Line: line, Params: map[string]string{}, Env: map[string]string{}, paramFiles: map[string]string{}}
	before := len(p.el.errs)
	sub := func(n *yaml.Node, s string) string {
		out, err := subst(s, item, nil)
		if err != nil {
			p.el.add(n.Line, "stage %q: %v", base, err)
		}
		return out
	}
	for k, v := range globalEnv {
		st.Env[k] = v
	}
	for k, v := range itemParams {
		st.Params[k] = v
	}
	if n, ok := keys["cmd"]; ok {
		switch n.Kind {
		case yaml.ScalarNode:
			st.Cmd = sub(n, n.Value)
			if strings.TrimSpace(st.Cmd) == "" {
				p.el.add(n.Line, "stage %q: cmd is empty", base)
			}
		case yaml.SequenceNode:
			argv, lines := p.strList(n, "stage "+strconv.Quote(base)+": cmd")
			for i := range argv {
				argv[i] = sub(n.Content[i], argv[i])
			}
			_ = lines
			if len(argv) == 0 {
				p.el.add(n.Line, "stage %q: cmd is an empty list", base)
			}
			st.Argv = argv
		default:
			p.el.add(n.Line, "stage %q: cmd: expected a string or a list of strings, got %s", base, kindName(n))
		}
	}
	if n, ok := keys["uses"]; ok {
		st.Uses = p.str(n, "stage "+strconv.Quote(base)+": uses")
		if st.Cmd != "" || st.Argv != nil {
			p.el.add(n.Line, "stage %q: use cmd or uses, not both", base)
		} else if st.Uses != "" && !slices.Contains(Builtins(), st.Uses) {
			p.el.add(n.Line, "stage %q: unknown built-in step %q (known: %s)", base, st.Uses, strings.Join(Builtins(), ", "))
		}
	}
	if n, ok := keys["with"]; ok {
		if st.Uses == "" {
			p.el.add(n.Line, "stage %q: with is only for uses: stages", base)
		}
		if n.Kind != yaml.MappingNode {
			p.el.add(n.Line, "stage %q: with: expected a mapping, got %s", base, kindName(n))
		} else {
			var m map[string]any
			if err := n.Decode(&m); err != nil {
				p.el.add(n.Line, "stage %q: with: %v", base, err)
			}
			st.With = substAny(m, func(s string) string { return sub(n, s) }).(map[string]any)
		}
	}
	if n, ok := keys["params"]; ok {
		p.params(st, base, n)
	}
	if n, ok := keys["deps"]; ok {
		deps, lines := p.strList(n, "stage "+strconv.Quote(base)+": deps")
		for i, d := range deps {
			d = sub(n, d)
			dep, err := parseDep(d)
			if err != nil {
				p.el.add(lines[i], "stage %q: dep %q: %v", base, d, err)
				continue
			}
			st.Deps = append(st.Deps, dep)
		}
	}
	for _, key := range []string{"outs", "metrics"} {
		n, ok := keys[key]
		if !ok {
			continue
		}
		vals, lines := p.strList(n, "stage "+strconv.Quote(base)+": "+key)
		for i, v := range vals {
			v = sub(n, v)
			c, err := cleanRel(v)
			if err != nil {
				p.el.add(lines[i], "stage %q: %s %q: %v", base, key, v, err)
				continue
			}
			if key == "outs" {
				st.Outs = append(st.Outs, c)
			} else {
				st.Metrics = append(st.Metrics, c)
			}
		}
	}
	if n, ok := keys["model"]; ok {
		st.Model = p.model(base, n, sub)
	}
	if n, ok := keys["gate"]; ok {
		st.Gate = p.gate(base, n)
		if st.Cmd != "" || st.Argv != nil || st.Uses != "" {
			p.el.add(n.Line, "stage %q: a gate stage has no cmd or uses", base)
		}
	}
	if n, ok := keys["env"]; ok {
		for k, v := range p.strMap(n, "stage "+strconv.Quote(base)+": env") {
			st.Env[k] = sub(n, v)
		}
	}
	if n, ok := keys["wd"]; ok {
		wd, err := cleanRel(sub(n, p.str(n, "wd")))
		if err != nil {
			p.el.add(n.Line, "stage %q: wd: %v", base, err)
		}
		st.Wd = wd
	}
	if n, ok := keys["timeout"]; ok {
		st.Timeout = p.duration(base, "timeout", n)
	}
	if n, ok := keys["backoff"]; ok {
		st.Backoff = p.duration(base, "backoff", n)
	}
	if n, ok := keys["retries"]; ok {
		r, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil || r < 0 || r > 100 {
			p.el.add(n.Line, "stage %q: retries: expected an integer from 0 to 100, got %s", base, kindName(n))
		}
		st.Retries = r
	}
	if n, ok := keys["always_changed"]; ok {
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil || n.Tag == "!!str" && n.Style != 0 {
			p.el.add(n.Line, "stage %q: always_changed: expected true or false, got %s", base, kindName(n))
		}
		st.AlwaysChanged = b
	}
	if st.Backoff == 0 {
		st.Backoff = time.Second
	}
	if st.Uses != "" && len(p.el.errs) == before {
		p.builtinDefaults(st, base, line)
	}
	if st.Cmd == "" && st.Argv == nil && st.Uses == "" && st.Model == nil && st.Gate == nil {
		p.el.add(line, "stage %q: needs cmd, uses, model or gate", base)
	}
	if len(p.el.errs) > before {
		return nil
	}
	return st
}

func substAny(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = substAny(e, f)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = substAny(e, f)
		}
		return out
	case nil:
		return map[string]any{}
	}
	return v
}

func (p *parser) duration(base, key string, n *yaml.Node) time.Duration {
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || d < 0 {
		p.el.add(n.Line, "stage %q: %s: expected a duration like 30s or 5m, got %s", base, key, kindName(n))
	}
	return d
}

func (p *parser) model(base string, n *yaml.Node, sub func(*yaml.Node, string) string) *ModelSpec {
	if n.Kind != yaml.MappingNode {
		p.el.add(n.Line, "stage %q: model: expected a mapping {name, path, alias}, got %s", base, kindName(n))
		return nil
	}
	m := &ModelSpec{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		s := sub(v, p.str(v, "model."+k.Value))
		switch k.Value {
		case "name":
			m.Name = s
		case "path":
			c, err := cleanRel(s)
			if err != nil {
				p.el.add(v.Line, "stage %q: model.path: %v", base, err)
			}
			m.Path = c
		case "alias":
			m.Alias = s
		default:
			p.el.add(k.Line, "stage %q: model: unknown key %q (allowed: name, path, alias)", base, k.Value)
		}
	}
	if m.Name == "" || m.Path == "" {
		p.el.add(n.Line, "stage %q: model needs name and path", base)
	}
	return m
}

func (p *parser) gate(base string, n *yaml.Node) *GateSpec {
	g := &GateSpec{}
	if n.Kind == yaml.ScalarNode {
		g.Condition = n.Value
	} else if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "condition":
				g.Condition = p.str(v, "gate.condition")
			case "champion":
				g.Champion = p.str(v, "gate.champion")
				if _, _, ok := strings.Cut(g.Champion, "@"); !ok {
					p.el.add(v.Line, "stage %q: gate.champion %q: expected MODEL@ALIAS", base, g.Champion)
				}
			default:
				p.el.add(k.Line, "stage %q: gate: unknown key %q (allowed: condition, champion)", base, k.Value)
			}
		}
	} else {
		p.el.add(n.Line, "stage %q: gate: expected a condition or a mapping {condition, champion}, got %s", base, kindName(n))
		return nil
	}
	if g.Condition == "" {
		p.el.add(n.Line, "stage %q: gate needs a condition", base)
		return g
	}
	e, err := ParseExpr(g.Condition)
	if err != nil {
		p.el.add(n.Line, "stage %q: gate condition: %v", base, err)
	}
	g.expr = e
	return g
}

// params reads inline params (a mapping) or params-file keys (a list of
// "key" or "file:key").
func (p *parser) params(st *Stage, base string, n *yaml.Node) {
	if p.paramLines == nil {
		p.paramLines = map[*Stage]map[string]int{}
	}
	lines := map[string]int{}
	p.paramLines[st] = lines
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				p.el.add(v.Line, "stage %q: params.%s: expected a scalar, got %s", base, k.Value, kindName(v))
				continue
			}
			st.Params[k.Value] = v.Value
			lines[k.Value] = k.Line
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				p.el.add(c.Line, "stage %q: params: expected \"key\" or \"file:key\", got %s", base, kindName(c))
				continue
			}
			file, key := DefaultParamsFile, c.Value
			if f, k, ok := strings.Cut(c.Value, ":"); ok {
				file, key = f, k
			}
			v, err := p.paramFromFile(file, key)
			if err != nil {
				p.el.add(c.Line, "stage %q: param %q: %v", base, c.Value, err)
				continue
			}
			st.Params[key] = v
			st.paramFiles[key] = file
			lines[key] = c.Line
		}
	default:
		p.el.add(n.Line, "stage %q: params: expected a mapping (inline) or a list of params-file keys, got %s", base, kindName(n))
	}
}

func (p *parser) paramFromFile(file, key string) (string, error) {
	root, ok := p.paramFiles[file]
	if !ok {
		path := file
		if !filepath.IsAbs(path) {
			path = filepath.Join(p.spec.Dir, file)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("params file: %v", err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return "", fmt.Errorf("params file %s: %v", file, err)
		}
		if len(doc.Content) > 0 {
			root = doc.Content[0]
		}
		p.paramFiles[file] = root
	}
	n := root
	for _, seg := range strings.Split(key, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return "", fmt.Errorf("no key %q in %s", key, file)
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	if n == nil {
		return "", fmt.Errorf("no key %q in %s", key, file)
	}
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("key %q in %s (line %d) is %s, not a scalar", key, file, n.Line, kindName(n))
	}
	return n.Value, nil
}

// applySets applies --set overrides and then substitutes ${params.X}.
func (p *parser) applySets() {
	for _, o := range p.sets {
		for _, st := range p.spec.Stages {
			if _, ok := st.paramFiles[o.key]; ok {
				st.Params[o.key] = o.value
				o.used = true
			}
		}
		if o.used {
			continue
		}
		if stName, key, ok := strings.Cut(o.key, "."); ok {
			for _, st := range p.spec.Stages {
				if st.Name == stName || strings.HasPrefix(st.Name, stName+"@") {
					if _, has := st.Params[key]; has {
						st.Params[key] = o.value
						o.used = true
					}
				}
			}
		}
		if !o.used {
			p.el.errs = append(p.el.errs, &SpecError{File: p.el.file, Msg: fmt.Sprintf("--set %s: no stage reads params-file key %q and no stage has an inline param of that name", o.key, o.key)})
		}
	}
	// ${params.X} substitution now that values are final.
	for _, st := range p.spec.Stages {
		f := func(s string) string {
			out, err := subst(s, nil, st.Params)
			if err != nil {
				p.el.add(st.Line, "stage %q: %v", st.Name, err)
			}
			return out
		}
		st.Cmd = f(st.Cmd)
		for i := range st.Argv {
			st.Argv[i] = f(st.Argv[i])
		}
		if st.With != nil {
			st.With = substAny(st.With, f).(map[string]any)
		}
		if l, ok := strings.CutPrefix(st.Uses, "loopml/"); ok && st.Uses != UsesEval {
			if _, err := training.EffectiveParams(l, learnParams(st.With["params"])); err != nil {
				p.el.add(st.Line, "stage %q: with.params: %s", st.Name, loopml.ErrorMessage(err))
			}
		}
		for k, v := range st.Env {
			st.Env[k] = f(v)
		}
	}
}

// parseDep classifies a dependency string.
func parseDep(d string) (Dep, error) {
	if rest, ok := strings.CutPrefix(d, "data://"); ok {
		ref, err := loopml.ParseDatasetRef(rest)
		if err != nil {
			return Dep{}, fmt.Errorf("%s", loopml.ErrorMessage(err))
		}
		return Dep{Raw: d, Dataset: ref.String()}, nil
	}
	if st, ok := strings.CutSuffix(d, ".outs"); ok && stageNameRE.MatchString(strings.SplitN(st, "@", 2)[0]) && !strings.Contains(st, "/") {
		return Dep{Raw: d, Stage: st}, nil
	}
	if x := expandEnv(d, os.LookupEnv); filepath.IsAbs(x) {
		return Dep{Raw: d, Path: filepath.Clean(x)}, nil
	}
	c, err := cleanRel(expandEnv(d, os.LookupEnv))
	if err != nil {
		return Dep{}, err
	}
	return Dep{Raw: d, Path: c}, nil
}

// cleanRel cleans a relative slash path; ".." segments may leave the
// spec's directory (a dep on ../data is fine) but absolute paths in outs
// and wd are refused by the callers that care.
func cleanRel(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty path")
	}
	if strings.ContainsRune(s, 0) {
		return "", fmt.Errorf("NUL in path")
	}
	if filepath.IsAbs(s) {
		return "", fmt.Errorf("must be relative to the pipeline file's directory")
	}
	return filepath.ToSlash(filepath.Clean(s)), nil
}

// link resolves stage references, output ownership and the default
// champions, orders the stages topologically and reports cycles.
func (p *parser) link() {
	s := p.spec
	el := p.el
	owner := map[string]*Stage{}
	for _, st := range s.Stages {
		for _, o := range st.Outs {
			if strings.HasPrefix(o, "../") || o == ".." {
				el.add(st.Line, "stage %q: out %q is outside the pipeline's directory", st.Name, o)
				continue
			}
			if prev, dup := owner[o]; dup {
				el.add(st.Line, "stage %q: output %q is already an output of stage %q (line %d)", st.Name, o, prev.Name, prev.Line)
				continue
			}
			owner[o] = st
		}
	}
	// Outputs nested in other outputs are ambiguous too.
	outs := sortedKeys(owner)
	for i := 1; i < len(outs); i++ {
		for j := 0; j < i; j++ {
			if strings.HasPrefix(outs[i], outs[j]+"/") && owner[outs[i]] != owner[outs[j]] {
				el.add(owner[outs[i]].Line, "stage %q: output %q is inside output %q of stage %q", owner[outs[i]].Name, outs[i], outs[j], owner[outs[j]].Name)
			}
		}
	}
	for _, st := range s.Stages {
		up := map[string]bool{}
		for i, d := range st.Deps {
			switch {
			case d.Stage != "":
				found := false
				for _, o := range s.Stages {
					if o.Name == d.Stage || strings.HasPrefix(o.Name, d.Stage+"@") {
						up[o.Name] = true
						found = true
					}
				}
				if _, ok := p.declared[strings.SplitN(d.Stage, "@", 2)[0]]; !found && !(p.partial && ok) {
					el.add(st.Line, "stage %q: dep %q names unknown stage %q", st.Name, d.Raw, d.Stage)
				}
			case d.Path != "":
				for o, ow := range owner {
					if d.Path == o || strings.HasPrefix(d.Path, o+"/") {
						up[ow.Name] = true
						st.Deps[i].Stage = ow.Name
					}
				}
			}
		}
		if st.Model != nil {
			found := false
			for o, ow := range owner {
				if st.Model.Path == o || strings.HasPrefix(st.Model.Path, o+"/") {
					found = true
					if ow != st {
						up[ow.Name] = true
					}
				}
			}
			if !found && !p.partial {
				el.add(st.Line, "stage %q: model.path %q is not an output of any stage (declare it in outs)", st.Name, st.Model.Path)
			}
		}
		delete(up, st.Name)
		st.Upstream = sortedKeys(up)
	}
	order, cycle := topo(s.Stages, s.byName)
	if cycle != nil {
		el.add(s.byName[cycle[0]].Line, "dependency cycle: %s", strings.Join(cycle, " -> "))
		return
	}
	s.Stages = order
	// Default champion of gates: the first downstream model stage.
	for _, st := range s.Stages {
		if st.Gate == nil || st.Gate.Champion != "" {
			continue
		}
		down := s.downstream(st.Name)
		for _, o := range s.Stages {
			if down[o.Name] && o.Model != nil {
				alias := o.Model.Alias
				if alias == "" {
					alias = "champion"
				}
				st.Gate.Champion = o.Model.Name + "@" + alias
				break
			}
		}
	}
}

// downstream returns every stage that depends (transitively) on name.
func (s *Spec) downstream(name string) map[string]bool {
	out := map[string]bool{}
	changed := true
	for changed {
		changed = false
		for _, st := range s.Stages {
			if out[st.Name] {
				continue
			}
			for _, u := range st.Upstream {
				if u == name || out[u] {
					out[st.Name] = true
					changed = true
					break
				}
			}
		}
	}
	return out
}

// upstreamClosure returns every stage name (transitively) upstream of name.
func (s *Spec) upstreamClosure(name string) map[string]bool {
	out := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		for _, u := range s.byName[n].Upstream {
			if !out[u] {
				out[u] = true
				walk(u)
			}
		}
	}
	walk(name)
	return out
}

// topo orders stages upstream first (Kahn, ties in file order) or returns
// one cycle as a path of stage names ending where it started.
func topo(stages []*Stage, byName map[string]*Stage) ([]*Stage, []string) {
	indeg := map[string]int{}
	for _, st := range stages {
		indeg[st.Name] = len(st.Upstream)
	}
	var order []*Stage
	done := map[string]bool{}
	for len(order) < len(stages) {
		progressed := false
		for _, st := range stages {
			if done[st.Name] || indeg[st.Name] > 0 {
				continue
			}
			done[st.Name] = true
			order = append(order, st)
			progressed = true
			for _, o := range stages {
				if slices.Contains(o.Upstream, st.Name) {
					indeg[o.Name]--
				}
			}
			break
		}
		if !progressed {
			// Every remaining stage is on or behind a cycle: walk upstream
			// from one of them until a stage repeats.
			var start *Stage
			for _, st := range stages {
				if !done[st.Name] {
					start = st
					break
				}
			}
			seen := map[string]int{}
			var path []string
			cur := start.Name
			for {
				if i, ok := seen[cur]; ok {
					cyc := append([]string{}, path[i:]...)
					slices.Reverse(cyc)
					return nil, append(cyc, cyc[0])
				}
				seen[cur] = len(path)
				path = append(path, cur)
				for _, u := range byName[cur].Upstream {
					if !done[u] {
						cur = u
						break
					}
				}
			}
		}
	}
	return order, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// expandEnv replaces $VAR, ${VAR} and ${VAR:-default} (default when VAR
// is unset or empty) using lookup.
func expandEnv(s string, lookup func(string) (string, bool)) string {
	return os.Expand(s, func(name string) string {
		if k, def, ok := strings.Cut(name, ":-"); ok {
			if v, set := lookup(k); set && v != "" {
				return v
			}
			return def
		}
		v, _ := lookup(name)
		return v
	})
}
