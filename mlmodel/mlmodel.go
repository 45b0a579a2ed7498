package mlmodel

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/loopml/loopml"
	"go.yaml.in/yaml/v3"
)

// FileName is the name of the metadata file at the root of a model package.
const FileName = "MLmodel"

// MaxFileSize bounds the size of an MLmodel file that Parse reads; MLflow's
// files are a few kilobytes.
const MaxFileSize = 16 << 20

// The flavor names loopml reads or writes.
const (
	FlavorPythonFunction = "python_function" // MLflow's generic flavor: loader_module, model_path, env, ...
	FlavorLoopml         = "loopml"          // loopml's own flavor, loaded by the Go runtime
)

// MLmodel is the content of an MLmodel file, with one field per key that
// MLflow's mlflow.models.Model writes. Empty fields are not written.
//
// Flavors keeps every key of every flavor, known to loopml or not, and Extra
// keeps the top-level keys this type has no field for (MLflow 3's env_vars,
// prompts, auth_policy, ...), so that Parse followed by Write loses nothing.
type MLmodel struct {
	ArtifactPath          string                    // artifact_path: where the model was logged under the run's artifacts
	RunID                 string                    // run_id: the tracking run that produced it
	ModelID               string                    // model_id: MLflow 3 LoggedModel id
	UTCTimeCreated        string                    // utc_time_created: "2024-06-01 10:00:00.000000"
	ModelUUID             string                    // model_uuid: random 32-hex id
	MLflowVersion         string                    // mlflow_version: writer's version
	Flavors               map[string]map[string]any // flavors: flavor name → flavor configuration
	Signature             *Signature                // signature: inputs, outputs, params
	SavedInputExampleInfo *InputExampleInfo         // saved_input_example_info
	Metadata              map[string]any            // metadata: free-form user dict
	ModelSizeBytes        int64                     // model_size_bytes: 0 when absent
	DatabricksRuntime     string                    // databricks_runtime
	Resources             any                       // resources: declared dependencies (GenAI)
	Extra                 map[string]any            // every other top-level key
}

// InputExampleInfo is saved_input_example_info: where the input example was
// saved next to the MLmodel file and how it is encoded.
type InputExampleInfo struct {
	ArtifactPath     string         // artifact_path: "input_example.json"
	Type             string         // type: dataframe, ndarray, json_object, sparse_matrix_csr, ...
	PandasOrient     string         // pandas_orient: split, records or values (dataframes)
	Format           string         // format: "tf-serving" (ndarrays)
	ServingInputPath string         // serving_input_path: "serving_input_example.json", a ready-to-POST body
	Extra            map[string]any // every other key (e.g. params: "true")
}

// Parse reads an MLmodel file. Malformed input gives an EINVALID error whose
// message names the key and, where the YAML parser knows it, the line:
// "MLmodel: key 'signature.inputs' (line 12): [0].type: unknown type \"int\"".
func Parse(r io.Reader) (*MLmodel, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "MLmodel: read")
	}
	if len(data) > MaxFileSize {
		return nil, loopml.Errorf(loopml.ETOOLARGE, "MLmodel: file is larger than %d bytes", MaxFileSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "MLmodel: invalid YAML: %v", err)
	}
	if len(doc.Content) == 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "MLmodel: file is empty")
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, loopml.Errorf(loopml.EINVALID, "MLmodel: line %d: the top level must be a mapping of keys, got %s", root.Line, nodeKind(root))
	}
	m := &MLmodel{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := resolve(root.Content[i]), resolve(root.Content[i+1])
		key := k.Value
		if k.Kind != yaml.ScalarNode {
			return nil, loopml.Errorf(loopml.EINVALID, "MLmodel: line %d: keys must be scalars", k.Line)
		}
		if seen[key] {
			return nil, keyErr(key, k, "duplicate key")
		}
		seen[key] = true
		if err := m.setKey(key, v); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ParseFile parses the MLmodel file at path, or the MLmodel file inside path
// when path is a directory. A missing file is ENOTFOUND.
func ParseFile(path string) (*MLmodel, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, FileName)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, loopml.WrapError(loopml.ENOTFOUND, err, "MLmodel: no file at %s", path)
	} else if err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "MLmodel: open %s", path)
	}
	defer f.Close()
	return Parse(f)
}

// resolve follows YAML aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return "a scalar (" + n.Value + ")"
	}
	return "an unexpected node"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func keyErr(key string, n *yaml.Node, format string, args ...any) error {
	return loopml.Errorf(loopml.EINVALID, "MLmodel: key '%s' (line %d): %s", key, n.Line, fmt.Sprintf(format, args...))
}

func (m *MLmodel) setKey(key string, v *yaml.Node) error {
	var err error
	switch key {
	case "artifact_path":
		m.ArtifactPath, err = scalarString(key, v)
	case "run_id":
		m.RunID, err = scalarString(key, v)
	case "model_id":
		m.ModelID, err = scalarString(key, v)
	case "utc_time_created":
		m.UTCTimeCreated, err = scalarString(key, v)
	case "model_uuid":
		m.ModelUUID, err = scalarString(key, v)
	case "mlflow_version":
		m.MLflowVersion, err = scalarString(key, v)
	case "databricks_runtime":
		m.DatabricksRuntime, err = scalarString(key, v)
	case "model_size_bytes":
		if isNull(v) {
			return nil
		}
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" {
			return keyErr(key, v, "must be an integer, got %s", nodeKind(v))
		}
		n, perr := strconv.ParseInt(v.Value, 0, 64)
		if perr != nil || n < 0 {
			return keyErr(key, v, "must be a non-negative 64-bit integer, got %s", v.Value)
		}
		m.ModelSizeBytes = n
	case "flavors":
		m.Flavors, err = parseFlavors(v)
	case "signature":
		m.Signature, err = parseSignature(v)
	case "saved_input_example_info":
		m.SavedInputExampleInfo, err = parseInputExampleInfo(v)
	case "metadata":
		if isNull(v) {
			return nil
		}
		var md map[string]any
		md, err = mappingValue(key, v)
		m.Metadata = md
	case "resources":
		m.Resources, err = anyValue(key, v)
	default:
		var x any
		if x, err = anyValue(key, v); err == nil {
			if m.Extra == nil {
				m.Extra = map[string]any{}
			}
			m.Extra[key] = x
		}
	}
	return err
}

// scalarString reads a scalar as its text; null reads as "".
func scalarString(key string, v *yaml.Node) (string, error) {
	if isNull(v) {
		return "", nil
	}
	if v.Kind != yaml.ScalarNode {
		return "", keyErr(key, v, "must be a string, got %s", nodeKind(v))
	}
	return v.Value, nil
}

// anyValue decodes a node into plain Go values with string map keys.
func anyValue(key string, v *yaml.Node) (any, error) {
	var x any
	if err := v.Decode(&x); err != nil {
		return nil, keyErr(key, v, "%v", err)
	}
	return stringKeys(x), nil
}

func mappingValue(key string, v *yaml.Node) (map[string]any, error) {
	if v.Kind != yaml.MappingNode {
		return nil, keyErr(key, v, "must be a mapping, got %s", nodeKind(v))
	}
	x, err := anyValue(key, v)
	if err != nil {
		return nil, err
	}
	m, _ := x.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// stringKeys turns the map[any]any that YAML gives for mappings with
// non-string keys into map[string]any, recursively, so that every value is
// also valid input for encoding/json.
func stringKeys(x any) any {
	switch t := x.(type) {
	case map[string]any:
		for k, v := range t {
			t[k] = stringKeys(v)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, v := range t {
			m[fmt.Sprint(k)] = stringKeys(v)
		}
		return m
	case []any:
		for i, v := range t {
			t[i] = stringKeys(v)
		}
		return t
	}
	return x
}

func parseFlavors(v *yaml.Node) (map[string]map[string]any, error) {
	if isNull(v) {
		return nil, nil
	}
	if v.Kind != yaml.MappingNode {
		return nil, keyErr("flavors", v, "must be a mapping of flavor name to configuration, got %s", nodeKind(v))
	}
	out := map[string]map[string]any{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, fv := resolve(v.Content[i]), resolve(v.Content[i+1])
		key := "flavors." + k.Value
		if _, dup := out[k.Value]; dup {
			return nil, keyErr(key, k, "duplicate flavor")
		}
		if isNull(fv) {
			out[k.Value] = map[string]any{}
			continue
		}
		cfg, err := mappingValue(key, fv)
		if err != nil {
			return nil, err
		}
		out[k.Value] = cfg
	}
	return out, nil
}

func parseSignature(v *yaml.Node) (*Signature, error) {
	if isNull(v) {
		return nil, nil
	}
	if v.Kind != yaml.MappingNode {
		return nil, keyErr("signature", v, "must be a mapping with inputs, outputs and params, got %s", nodeKind(v))
	}
	s := &Signature{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, sv := resolve(v.Content[i]), resolve(v.Content[i+1])
		key := "signature." + k.Value
		switch k.Value {
		case "inputs", "outputs", "params":
			if isNull(sv) {
				continue
			}
			if sv.Kind != yaml.ScalarNode || sv.ShortTag() != "!!str" {
				return nil, keyErr(key, sv, "must be a JSON string, got %s", nodeKind(sv))
			}
			var err error
			switch k.Value {
			case "inputs":
				s.Inputs, err = parseSchemaJSON(sv.Value)
			case "outputs":
				s.Outputs, err = parseSchemaJSON(sv.Value)
			case "params":
				s.Params, err = parseParamsJSON(sv.Value)
			}
			if err != nil {
				return nil, keyErr(key, sv, "%v", err)
			}
		default:
			x, err := anyValue(key, sv)
			if err != nil {
				return nil, err
			}
			if s.Extra == nil {
				s.Extra = map[string]any{}
			}
			s.Extra[k.Value] = x
		}
	}
	return s, nil
}

func parseInputExampleInfo(v *yaml.Node) (*InputExampleInfo, error) {
	if isNull(v) {
		return nil, nil
	}
	m, err := mappingValue("saved_input_example_info", v)
	if err != nil {
		return nil, err
	}
	info := &InputExampleInfo{}
	fields := map[string]*string{
		"artifact_path":      &info.ArtifactPath,
		"type":               &info.Type,
		"pandas_orient":      &info.PandasOrient,
		"format":             &info.Format,
		"serving_input_path": &info.ServingInputPath,
	}
	for k, x := range m {
		if dst, ok := fields[k]; ok {
			s, ok := x.(string)
			if !ok && x != nil {
				return nil, keyErr("saved_input_example_info."+k, v, "must be a string, got %s", jsonKind(x))
			}
			*dst = s
			continue
		}
		if info.Extra == nil {
			info.Extra = map[string]any{}
		}
		info.Extra[k] = x
	}
	return info, nil
}

// Write writes m as an MLmodel file: keys sorted as MLflow's yaml.safe_dump
// sorts them, the signature parts as JSON strings, empty fields left out.
func (m *MLmodel) Write(w io.Writer) error {
	top := map[string]any{}
	for k, v := range m.Extra {
		top[k] = v
	}
	str := func(k, v string) {
		if v != "" {
			top[k] = v
		}
	}
	str("artifact_path", m.ArtifactPath)
	str("run_id", m.RunID)
	str("model_id", m.ModelID)
	str("utc_time_created", m.UTCTimeCreated)
	str("model_uuid", m.ModelUUID)
	str("mlflow_version", m.MLflowVersion)
	str("databricks_runtime", m.DatabricksRuntime)
	if m.ModelSizeBytes != 0 {
		top["model_size_bytes"] = m.ModelSizeBytes
	}
	flavors := map[string]any{}
	for name, cfg := range m.Flavors {
		if cfg == nil {
			cfg = map[string]any{}
		}
		flavors[name] = cfg
	}
	top["flavors"] = flavors
	if s := m.Signature; s != nil {
		sig := map[string]any{}
		for k, v := range s.Extra {
			sig[k] = v
		}
		if !s.Inputs.Empty() {
			sig["inputs"] = s.Inputs.JSON()
		}
		if !s.Outputs.Empty() {
			sig["outputs"] = s.Outputs.JSON()
		}
		if s.Params != nil {
			sig["params"] = s.Params.JSON()
		}
		top["signature"] = sig
	}
	if e := m.SavedInputExampleInfo; e != nil {
		info := map[string]any{}
		for k, v := range e.Extra {
			info[k] = v
		}
		for k, v := range map[string]string{
			"artifact_path": e.ArtifactPath, "type": e.Type, "pandas_orient": e.PandasOrient,
			"format": e.Format, "serving_input_path": e.ServingInputPath,
		} {
			if v != "" {
				info[k] = v
			}
		}
		top["saved_input_example_info"] = info
	}
	if m.Metadata != nil {
		top["metadata"] = m.Metadata
	}
	if m.Resources != nil {
		top["resources"] = m.Resources
	}
	var node yaml.Node
	if err := node.Encode(top); err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "MLmodel: encode")
	}
	pythonStyle(&node)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(&node); err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "MLmodel: encode")
	}
	if err := enc.Close(); err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "MLmodel: encode")
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// pythonStyle makes the YAML of n look like Python's yaml.safe_dump output:
// the keys of every mapping sorted in plain string order (Go's yaml puts
// numbers first), and single quotes where a string needs quoting and holds
// only printable characters.
func pythonStyle(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle && printable(n.Value) {
		n.Style = yaml.SingleQuotedStyle
	}
	if n.Kind == yaml.MappingNode {
		type pair struct{ k, v *yaml.Node }
		pairs := make([]pair, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			pairs = append(pairs, pair{n.Content[i], n.Content[i+1]})
		}
		sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].k.Value < pairs[j].k.Value })
		for i, p := range pairs {
			n.Content[2*i], n.Content[2*i+1] = p.k, p.v
		}
	}
	for _, c := range n.Content {
		pythonStyle(c)
	}
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError || (r >= 0x80 && !unicode.IsPrint(r)) {
			return false
		}
	}
	return true
}

// Flavor returns the configuration of the named flavor, or nil.
func (m *MLmodel) Flavor(name string) map[string]any { return m.Flavors[name] }

// SetFlavor sets the configuration of the named flavor.
func (m *MLmodel) SetFlavor(name string, cfg map[string]any) {
	if m.Flavors == nil {
		m.Flavors = map[string]map[string]any{}
	}
	m.Flavors[name] = cfg
}
