package serving

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/loopml/loopml"
)

// MaxRecommendK bounds k of a recommendation request.
const MaxRecommendK = 1000

// recommendRequest is a decoded /recommend body.
type recommendRequest struct {
	User        string
	K           int
	ExcludeSeen bool
}

// readBody reads a whole (size-limited) body; over the limit is ETOOLARGE.
func readBody(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(r)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, loopml.WrapError(loopml.ETOOLARGE, err, "%s: the body is larger than %d bytes", what, tooLarge.Limit)
	} else if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "%s: read body: %v", what, err)
	}
	return b, nil
}

// decodeRecommend decodes {"user_id": "42" | 42, "k": 10, "exclude_seen":
// true}; k defaults to 10 and must be in [1, MaxRecommendK], exclude_seen
// defaults to true. Unknown keys and wrong types are EINVALID naming the
// key.
func decodeRecommend(r io.Reader) (recommendRequest, error) {
	req := recommendRequest{K: 10, ExcludeSeen: true}
	body, err := readBody(r, "recommend request")
	if err != nil {
		return req, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return req, loopml.Errorf(loopml.EINVALID, "recommend request: the body must be a JSON object {\"user_id\", \"k\", \"exclude_seen\"}: %s", jsonErr(err))
	}
	for key, v := range raw {
		switch key {
		case "user_id":
			id, err := idValue(v)
			if err != nil {
				return req, loopml.Errorf(loopml.EINVALID, "recommend request: key 'user_id' %v", err)
			}
			req.User = id
		case "k":
			var n json.Number
			if err := json.Unmarshal(v, &n); err != nil {
				return req, loopml.Errorf(loopml.EINVALID, "recommend request: key 'k' must be a whole number, got %s", clip(v))
			}
			k, err := strconv.Atoi(n.String())
			if err != nil || k < 1 || k > MaxRecommendK {
				return req, loopml.Errorf(loopml.EINVALID, "recommend request: key 'k' must be a whole number in [1, %d], got %s", MaxRecommendK, clip(v))
			}
			req.K = k
		case "exclude_seen":
			if err := json.Unmarshal(v, &req.ExcludeSeen); err != nil {
				return req, loopml.Errorf(loopml.EINVALID, "recommend request: key 'exclude_seen' must be true or false, got %s", clip(v))
			}
		default:
			return req, loopml.Errorf(loopml.EINVALID, "recommend request: unknown key %q (want user_id, k, exclude_seen)", key)
		}
	}
	if _, ok := raw["user_id"]; !ok {
		return req, loopml.Errorf(loopml.EINVALID, "recommend request: key 'user_id' is required")
	}
	return req, nil
}

// idValue reads a user or item id: a JSON string, or an integral number.
func idValue(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Errorf("is not a valid string")
		}
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			return strconv.FormatInt(i, 10), nil
		}
	}
	return "", fmt.Errorf("must be a string or a whole number, got %s", clip(v))
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	if len(b) == 0 {
		return "nothing"
	}
	return string(b)
}

func jsonErr(err error) string {
	if err == nil {
		return "got null"
	}
	return err.Error()
}

// inferRequest is a decoded OIP v2 inference request.
type inferRequest struct {
	ID         string                     `json:"id"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Inputs     []inferTensor              `json:"inputs"`
	Outputs    []struct {
		Name string `json:"name"`
	} `json:"outputs"`
}

type inferTensor struct {
	Name     string          `json:"name"`
	Shape    []int64         `json:"shape"`
	Datatype string          `json:"datatype"`
	Data     json.RawMessage `json:"data"`
}

// inferPairs are the (user, item) pairs an inference request scores.
type inferPairs struct {
	ID    string
	Pairs [][2]string
}

// maxTensorElements bounds the elements of one input tensor.
const maxTensorElements = 1 << 20

// decodeInfer decodes an OIP v2 inference request whose inputs are the
// tensors user_id and item_id (BYTES, INT8..INT64, UINT8..UINT64, or FP32/
// FP64 holding whole numbers), each of shape [N] or [N, 1] with the same N,
// data flat or nested. Other inputs are ignored; the only output is score.
// Errors are EINVALID naming the tensor.
func decodeInfer(r io.Reader) (inferPairs, error) {
	var out inferPairs
	body, err := readBody(r, "inference request")
	if err != nil {
		return out, err
	}
	var req inferRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return out, loopml.Errorf(loopml.EINVALID, "inference request: invalid JSON: %v", err)
	}
	out.ID = req.ID
	for _, o := range req.Outputs {
		if o.Name != "score" {
			return out, loopml.Errorf(loopml.EINVALID, "inference request: unknown output %q (the model outputs score)", o.Name)
		}
	}
	cols := map[string][]string{}
	for i, t := range req.Inputs {
		if t.Name != "user_id" && t.Name != "item_id" {
			continue
		}
		if _, dup := cols[t.Name]; dup {
			return out, loopml.Errorf(loopml.EINVALID, "inference request: input %q is given twice", t.Name)
		}
		ids, err := tensorIDs(t)
		if err != nil {
			return out, loopml.Errorf(loopml.EINVALID, "inference request: inputs[%d] (%s): %v", i, t.Name, err)
		}
		cols[t.Name] = ids
	}
	for _, name := range []string{"user_id", "item_id"} {
		if _, ok := cols[name]; !ok {
			return out, loopml.Errorf(loopml.EINVALID, "inference request: input %q is missing (the model takes user_id and item_id)", name)
		}
	}
	users, items := cols["user_id"], cols["item_id"]
	if len(users) != len(items) {
		return out, loopml.Errorf(loopml.EINVALID, "inference request: input user_id has %d elements but item_id has %d", len(users), len(items))
	}
	out.Pairs = make([][2]string, len(users))
	for i := range users {
		out.Pairs[i] = [2]string{users[i], items[i]}
	}
	return out, nil
}

// tensorIDs checks a tensor's shape and datatype and returns its elements
// as ids.
func tensorIDs(t inferTensor) ([]string, error) {
	switch {
	case len(t.Shape) == 1:
	case len(t.Shape) == 2 && t.Shape[1] == 1:
	default:
		return nil, fmt.Errorf("shape %v must be [N] or [N, 1]", t.Shape)
	}
	if t.Shape[0] < 0 || t.Shape[0] > maxTensorElements {
		return nil, fmt.Errorf("shape %v: N must be in [0, %d]", t.Shape, maxTensorElements)
	}
	var data any
	dec := json.NewDecoder(bytes.NewReader(t.Data))
	dec.UseNumber()
	if len(t.Data) == 0 {
		return nil, fmt.Errorf("data is missing")
	}
	if err := dec.Decode(&data); err != nil {
		return nil, fmt.Errorf("data: %v", err)
	}
	var flat []any
	if err := flatten(data, &flat, 0); err != nil {
		return nil, err
	}
	if int64(len(flat)) != t.Shape[0] {
		return nil, fmt.Errorf("data has %d elements but shape %v holds %d", len(flat), t.Shape, t.Shape[0])
	}
	ids := make([]string, len(flat))
	for i, v := range flat {
		id, err := tensorID(t.Datatype, v)
		if err != nil {
			return nil, fmt.Errorf("data[%d]: %v", i, err)
		}
		ids[i] = id
	}
	return ids, nil
}

func flatten(v any, out *[]any, depth int) error {
	if depth > 2 {
		return fmt.Errorf("data is nested deeper than the shape")
	}
	list, ok := v.([]any)
	if !ok {
		if depth == 0 {
			return fmt.Errorf("data must be a list")
		}
		*out = append(*out, v)
		return nil
	}
	for _, e := range list {
		if err := flatten(e, out, depth+1); err != nil {
			return err
		}
		if len(*out) > maxTensorElements {
			return fmt.Errorf("data has more than %d elements", maxTensorElements)
		}
	}
	return nil
}

// tensorID converts one element of a tensor of the given datatype to an id.
func tensorID(datatype string, v any) (string, error) {
	switch datatype {
	case "BYTES":
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("a BYTES element must be a string, got %v", v)
		}
		return s, nil
	case "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64":
		n, ok := v.(json.Number)
		if !ok {
			return "", fmt.Errorf("a %s element must be a number, got %v", datatype, v)
		}
		if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
			if _, err := strconv.ParseUint(n.String(), 10, 64); err != nil || datatype != "UINT64" {
				return "", fmt.Errorf("%s is not a whole %s number", n, datatype)
			}
		}
		return n.String(), nil
	case "FP32", "FP64":
		n, ok := v.(json.Number)
		if !ok {
			return "", fmt.Errorf("a %s element must be a number, got %v", datatype, v)
		}
		f, err := n.Float64()
		if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<53 {
			return "", fmt.Errorf("%s is not a whole number below 2^53, so not an id", n)
		}
		return strconv.FormatInt(int64(f), 10), nil
	case "":
		return "", fmt.Errorf("datatype is missing")
	}
	return "", fmt.Errorf("datatype %q is not supported for ids (use BYTES, INT64 or FP64)", datatype)
}
