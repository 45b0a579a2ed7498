package serving

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/loopml/loopml"
	"go.yaml.in/yaml/v3"
)

// EndpointSpec declares one endpoint: a name (also its OIP model name), the
// targets that share its traffic, the shadow targets that get a copy of it,
// the request header whose value makes routing sticky, and whether it
// answers the bare /invocations path.
type EndpointSpec struct {
	Name         string
	Targets      []TargetSpec
	Shadow       []TargetSpec
	StickyHeader string // e.g. "X-User-Id"; "" routes every request at random
	Default      bool   // serve POST /invocations
}

// TargetSpec is one model reference of an endpoint and its share of the
// traffic. Weights are relative; when every target of an endpoint has
// weight 0 (or none is given) they share the traffic equally.
type TargetSpec struct {
	Model  string // models:/name@alias, models:/name/3, models:/name/Production, models:/name/latest
	Weight int
}

// MaxEndpointNameLength bounds endpoint names.
const MaxEndpointNameLength = 128

// ReadEndpointsFile reads and validates an endpoints YAML file (see
// ParseEndpoints).
func ReadEndpointsFile(path string) ([]EndpointSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "endpoints file: %v", err)
	}
	return ParseEndpoints(bytes.NewReader(b), path)
}

// ParseEndpoints reads the YAML document
//
//	endpoints:
//	  - name: recs
//	    targets:
//	      - {model: "models:/recs@champion", weight: 90}
//	      - {model: "models:/recs@challenger", weight: 10}
//	    shadow: [{model: "models:/recs/7"}]
//	    sticky_header: X-User-Id
//	    default: true
//
// and validates it (ValidateEndpoints). Errors are EINVALID and name the
// file, the line and the field.
func ParseEndpoints(r io.Reader, filename string) ([]EndpointSpec, error) {
	if filename == "" {
		filename = "endpoints"
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, loopml.Errorf(loopml.EINVALID, "%s: empty file, want a mapping with key 'endpoints'", filename)
		}
		return nil, loopml.Errorf(loopml.EINVALID, "%s: %v", filename, err)
	}
	p := parser{file: filename}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	var specs []EndpointSpec
	var lines []int
	err := p.mapping(root, "", map[string]func(*yaml.Node) error{
		"endpoints": func(n *yaml.Node) error {
			if n.Kind != yaml.SequenceNode {
				return p.errf(n, "endpoints", "must be a list of endpoints")
			}
			for i, en := range n.Content {
				s, err := p.endpoint(en, fmt.Sprintf("endpoints[%d]", i))
				if err != nil {
					return err
				}
				specs = append(specs, s)
				lines = append(lines, en.Line)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "%s: key 'endpoints' must list at least one endpoint", filename)
	}
	if err := ValidateEndpoints(specs); err != nil {
		var e *loopml.Error
		if errors.As(err, &e) {
			if i, ok := e.Err.(endpointIndex); ok {
				return nil, loopml.Errorf(loopml.EINVALID, "%s:%d: %s", filename, lines[i], e.Message)
			}
		}
		return nil, loopml.Errorf(loopml.EINVALID, "%s: %s", filename, loopml.ErrorMessage(err))
	}
	return specs, nil
}

// endpointIndex is the cause ValidateEndpoints wraps, so that
// ParseEndpoints can add the endpoint's line.
type endpointIndex int

func (i endpointIndex) Error() string { return "endpoint " + strconv.Itoa(int(i)) }

type parser struct{ file string }

func (p parser) errf(n *yaml.Node, field, format string, args ...any) error {
	return loopml.Errorf(loopml.EINVALID, "%s:%d: %s: %s", p.file, n.Line, field, fmt.Sprintf(format, args...))
}

// mapping walks a YAML mapping, calling the handler of each key and
// refusing unknown and repeated keys.
func (p parser) mapping(n *yaml.Node, path string, keys map[string]func(*yaml.Node) error) error {
	where := path
	if where == "" {
		where = "document"
	}
	if n.Kind != yaml.MappingNode {
		return p.errf(n, where, "must be a mapping")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := k.Value
		if path != "" {
			field = path + "." + k.Value
		}
		h, ok := keys[k.Value]
		if !ok {
			known := make([]string, 0, len(keys))
			for key := range keys {
				known = append(known, key)
			}
			slices.Sort(known)
			return p.errf(k, field, "unknown key (want one of %s)", strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return p.errf(k, field, "key given twice")
		}
		seen[k.Value] = true
		if err := h(v); err != nil {
			return err
		}
	}
	return nil
}

func (p parser) scalar(n *yaml.Node, field string, dst *string) error {
	if n.Kind != yaml.ScalarNode {
		return p.errf(n, field, "must be a single value")
	}
	*dst = n.Value
	return nil
}

func (p parser) endpoint(n *yaml.Node, path string) (EndpointSpec, error) {
	var s EndpointSpec
	err := p.mapping(n, path, map[string]func(*yaml.Node) error{
		"name": func(v *yaml.Node) error { return p.scalar(v, path+".name", &s.Name) },
		"sticky_header": func(v *yaml.Node) error {
			return p.scalar(v, path+".sticky_header", &s.StickyHeader)
		},
		"default": func(v *yaml.Node) error {
			var txt string
			if err := p.scalar(v, path+".default", &txt); err != nil {
				return err
			}
			b, err := strconv.ParseBool(txt)
			if err != nil {
				return p.errf(v, path+".default", "%q is not true or false", txt)
			}
			s.Default = b
			return nil
		},
		"targets": func(v *yaml.Node) error {
			t, err := p.targets(v, path+".targets")
			s.Targets = t
			return err
		},
		"shadow": func(v *yaml.Node) error {
			t, err := p.targets(v, path+".shadow")
			s.Shadow = t
			return err
		},
	})
	return s, err
}

func (p parser) targets(n *yaml.Node, path string) ([]TargetSpec, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, path, "must be a list of {model, weight}")
	}
	var out []TargetSpec
	for i, tn := range n.Content {
		field := fmt.Sprintf("%s[%d]", path, i)
		var t TargetSpec
		if tn.Kind == yaml.ScalarNode { // shorthand: a bare model URI
			t.Model = tn.Value
		} else if err := p.mapping(tn, field, map[string]func(*yaml.Node) error{
			"model": func(v *yaml.Node) error { return p.scalar(v, field+".model", &t.Model) },
			"weight": func(v *yaml.Node) error {
				var txt string
				if err := p.scalar(v, field+".weight", &txt); err != nil {
					return err
				}
				w, err := strconv.Atoi(txt)
				if err != nil || w < 0 {
					return p.errf(v, field+".weight", "%q must be a whole number >= 0", txt)
				}
				t.Weight = w
				return nil
			},
		}); err != nil {
			return nil, err
		}
		if t.Model == "" {
			return nil, p.errf(tn, field+".model", "is required")
		}
		if _, err := loopml.ParseModelURI(t.Model); err != nil {
			return nil, p.errf(tn, field+".model", "%s", loopml.ErrorMessage(err))
		}
		out = append(out, t)
	}
	return out, nil
}

// ValidateEndpoints checks a set of endpoints: unique, URL-safe names, at
// least one target each, parseable model URIs, non-negative weights, a
// valid sticky header name and at most one default endpoint. Errors are
// EINVALID naming the endpoint and the field.
func ValidateEndpoints(specs []EndpointSpec) error {
	names := map[string]bool{}
	defaults := 0
	for i, s := range specs {
		fail := func(format string, args ...any) error {
			return loopml.WrapError(loopml.EINVALID, endpointIndex(i), "endpoints[%d] %s", i, fmt.Sprintf(format, args...))
		}
		if s.Name == "" {
			return fail("name: is required")
		}
		if len(s.Name) > MaxEndpointNameLength {
			return fail("name: %.40q... is longer than %d characters", s.Name, MaxEndpointNameLength)
		}
		for _, c := range s.Name {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return fail("name: %q may hold only letters, digits, '-', '_' and '.'", s.Name)
			}
		}
		if names[s.Name] {
			return fail("name: %q is declared twice", s.Name)
		}
		names[s.Name] = true
		if len(s.Targets) == 0 {
			return fail("(%s) targets: at least one target is required", s.Name)
		}
		for j, t := range append(append([]TargetSpec(nil), s.Targets...), s.Shadow...) {
			field := fmt.Sprintf("targets[%d]", j)
			if j >= len(s.Targets) {
				field = fmt.Sprintf("shadow[%d]", j-len(s.Targets))
			}
			if _, err := loopml.ParseModelURI(t.Model); err != nil {
				return fail("(%s) %s.model: %s", s.Name, field, loopml.ErrorMessage(err))
			}
			if t.Weight < 0 {
				return fail("(%s) %s.weight: %d must be >= 0", s.Name, field, t.Weight)
			}
		}
		for _, c := range s.StickyHeader {
			if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
				return fail("(%s) sticky_header: %q is not a valid header name", s.Name, s.StickyHeader)
			}
		}
		if s.Default {
			defaults++
			if defaults > 1 {
				return fail("(%s) default: only one endpoint may be the default", s.Name)
			}
		}
	}
	return nil
}
