package loopml

import "unicode/utf8"

// MLflow's limits on logged data.
const (
	MaxKeyLength           = 250
	MaxParamValueLength    = 6000
	MaxTagValueLength      = 8000
	MaxExperimentNameLen   = 500
	MaxBatchMetrics        = 1000
	MaxBatchParams         = 100
	MaxBatchTags           = 100
	MaxBatchTotal          = 1000
	MaxDatasetInputsPerLog = 1000
)

// ValidateKey checks a metric, param or tag key: non-empty, at most
// MaxKeyLength characters, and for metrics and params only alphanumerics,
// '_', '-', '.', ' ', '/' (MLflow's rule; tags allow any printable key
// without '..' segments). kind is "metric", "param" or "tag" and is named in
// the message.
func ValidateKey(kind, key string) error {
	if key == "" {
		return Errorf(EINVALID, "Missing value for required parameter '%s.key'", kind)
	}
	if utf8.RuneCountInString(key) > MaxKeyLength {
		return Errorf(EINVALID, "%s name '%.40s...' had length %d, which exceeded length limit of %d", kind, key, utf8.RuneCountInString(key), MaxKeyLength)
	}
	if !utf8.ValidString(key) {
		return Errorf(EINVALID, "Invalid %s name: %q is not valid UTF-8", kind, key)
	}
	if kind == "tag" {
		for _, c := range key {
			if c < 0x20 {
				return Errorf(EINVALID, "Invalid tag name: %q contains control characters", key)
			}
		}
		return nil
	}
	for _, c := range key {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '_', c == '-', c == '.', c == ' ', c == '/':
		default:
			return Errorf(EINVALID, "Invalid %s name: '%s'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).", kind, key)
		}
	}
	if key == "." || key == ".." || hasDotDotSegment(key) {
		return Errorf(EINVALID, "Invalid %s name: '%s'. Names may not contain '..' path segments.", kind, key)
	}
	return nil
}

func hasDotDotSegment(k string) bool {
	start := 0
	for i := 0; i <= len(k); i++ {
		if i == len(k) || k[i] == '/' {
			if k[start:i] == ".." {
				return true
			}
			start = i + 1
		}
	}
	return false
}

// Validate checks the batch against MLflow's limits and checks every key and
// value. Messages name the offending field.
func (b Batch) Validate() error {
	if len(b.Metrics) > MaxBatchMetrics {
		return Errorf(EINVALID, "A batch logging request can contain at most %d metrics. Got %d metrics. Please split up metrics across multiple requests and try again.", MaxBatchMetrics, len(b.Metrics))
	}
	if len(b.Params) > MaxBatchParams {
		return Errorf(EINVALID, "A batch logging request can contain at most %d params. Got %d params. Please split up params across multiple requests and try again.", MaxBatchParams, len(b.Params))
	}
	if len(b.Tags) > MaxBatchTags {
		return Errorf(EINVALID, "A batch logging request can contain at most %d tags. Got %d tags. Please split up tags across multiple requests and try again.", MaxBatchTags, len(b.Tags))
	}
	if n := len(b.Metrics) + len(b.Params) + len(b.Tags); n > MaxBatchTotal {
		return Errorf(EINVALID, "A batch logging request can contain at most %d metrics, params, and tags in total. Got %d total. Please split up metrics, params and tags across multiple requests and try again.", MaxBatchTotal, n)
	}
	for _, m := range b.Metrics {
		if err := ValidateKey("metric", m.Key); err != nil {
			return err
		}
	}
	seen := make(map[string]string, len(b.Params))
	for _, p := range b.Params {
		if err := ValidateKey("param", p.Key); err != nil {
			return err
		}
		if err := ValidateValue("param", p.Key, p.Value, MaxParamValueLength); err != nil {
			return err
		}
		if v, ok := seen[p.Key]; ok && v != p.Value {
			return Errorf(EINVALID, "Duplicate parameter keys have been submitted: '%s' with values '%s' and '%s'", p.Key, v, p.Value)
		}
		seen[p.Key] = p.Value
	}
	for _, t := range b.Tags {
		if err := ValidateKey("tag", t.Key); err != nil {
			return err
		}
		if err := ValidateValue("tag", t.Key, t.Value, MaxTagValueLength); err != nil {
			return err
		}
	}
	return nil
}

// ValidateValue checks a param or tag value's length (in characters) and
// encoding.
func ValidateValue(kind, key, value string, max int) error {
	if n := utf8.RuneCountInString(value); n > max {
		return Errorf(EINVALID, "%s '%s' had value length %d, which exceeded length limit of %d", kind, key, n, max)
	}
	if !utf8.ValidString(value) {
		return Errorf(EINVALID, "%s '%s' has a value that is not valid UTF-8", kind, key)
	}
	return nil
}
