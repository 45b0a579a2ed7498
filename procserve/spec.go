package procserve

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/mlmodel"
)

// FlavorProcess is the MLmodel flavor that declares a package's process
// runtime: its command, protocol, health route and batching.
const FlavorProcess = "loopml_process"

// Protocols a child may speak.
const (
	ProtocolMLflow = "mlflow" // MLflow's scoring server: POST /invocations {"dataframe_split": ...} → {"predictions": [...]}
	ProtocolHTTP   = "http"   // anything: requests are proxied unchanged, never batched
)

// Listen modes.
const (
	ListenTCP  = "tcp"  // a free port on 127.0.0.1
	ListenUnix = "unix" // a Unix socket in a private temporary directory
)

// Defaults of a Spec.
const (
	DefaultHealthPath   = "/ping"
	DefaultStartTimeout = 60 * time.Second
	DefaultMaxRows      = 256
	DefaultMaxWait      = 2 * time.Millisecond
)

// ErrNeedMLflow is the message of the error Resolve returns for a
// python_function package when MLflow cannot be imported.
const ErrNeedMLflow = "python_function package needs MLflow in the serving environment or a loopml_process command"

// Spec says how to run and talk to a model's child process. Resolve
// derives it from a package; the zero values of the optional fields are
// the documented defaults.
type Spec struct {
	Command      []string          // argv; {port}, {host}, {socket}, {model_dir} are replaced; run in the package directory
	Protocol     string            // ProtocolMLflow ("" too) or ProtocolHTTP
	Listen       string            // ListenTCP ("" too) or ListenUnix
	HealthPath   string            // GET path answered 200 when ready; "" is DefaultHealthPath
	StartTimeout time.Duration     // the first health answer within; 0 is DefaultStartTimeout
	Env          map[string]string // added to the child's environment
	Batch        *Batch            // adaptive batching (mlflow protocol); nil: none
}

// Batch configures adaptive batching.
type Batch struct {
	MaxRows     int           // rows in one merged request; 0 is DefaultMaxRows, 1 disables merging
	MaxWait     time.Duration // longest a queued request waits while the child is busy; 0 is DefaultMaxWait
	Concurrency int           // merged requests in flight before the child counts as busy; 0 is 1
}

func (s *Spec) healthPath() string {
	if s.HealthPath == "" {
		return DefaultHealthPath
	}
	return s.HealthPath
}

func (s *Spec) startTimeout() time.Duration {
	if s.StartTimeout <= 0 {
		return DefaultStartTimeout
	}
	return s.StartTimeout
}

// Validate checks s; errors are EINVALID and name the field.
func (s *Spec) Validate() error {
	if len(s.Command) == 0 || s.Command[0] == "" {
		return loopml.Errorf(loopml.EINVALID, "process runtime: command is empty")
	}
	if !slices.Contains([]string{"", ProtocolMLflow, ProtocolHTTP}, s.Protocol) {
		return loopml.Errorf(loopml.EINVALID, "process runtime: protocol %q is not one of %s, %s", s.Protocol, ProtocolMLflow, ProtocolHTTP)
	}
	if !slices.Contains([]string{"", ListenTCP, ListenUnix}, s.Listen) {
		return loopml.Errorf(loopml.EINVALID, "process runtime: listen %q is not one of %s, %s", s.Listen, ListenTCP, ListenUnix)
	}
	if s.HealthPath != "" && !strings.HasPrefix(s.HealthPath, "/") {
		return loopml.Errorf(loopml.EINVALID, "process runtime: health_path %q must start with /", s.HealthPath)
	}
	if b := s.Batch; b != nil {
		if b.MaxRows < 0 || b.MaxWait < 0 || b.Concurrency < 0 {
			return loopml.Errorf(loopml.EINVALID, "process runtime: batch settings must not be negative")
		}
		if s.Protocol == ProtocolHTTP {
			return loopml.Errorf(loopml.EINVALID, "process runtime: batch needs protocol %s", ProtocolMLflow)
		}
	}
	return nil
}

// Options of Resolve and Start. The zero value is valid.
type Options struct {
	Label          string        // the model in logs and messages, e.g. "churn/3"; "" is "model"
	Python         string        // interpreter for python_function packages; "" is "python3"
	HealthInterval time.Duration // between health checks of a ready child; 0 is 1s
	HealthTimeout  time.Duration // one health check; 0 is 2s
	HealthFailures int           // consecutive failed checks that mark a child hung (killed, restarted); 0 is 3
	RequestTimeout time.Duration // one request to the child; 0 is 60s
	MinBackoff     time.Duration // first restart delay; 0 is 100ms (doubles per failure)
	MaxBackoff     time.Duration // restart delay cap; 0 is 30s
	KillGrace      time.Duration // SIGTERM to SIGKILL; 0 is 3s
	Env            []string      // "K=V" added to the child's environment (after Spec.Env)
	Logger         *slog.Logger  // child output and restarts; nil is slog.Default()
}

// Resolve decides how to run the package in dir (already on local disk)
// whose MLmodel is mm: the loopml_process flavor's command, else for a
// python_function package MLflow's scoring server when Python can import
// mlflow. Anything else is EINVALID with a message naming the flavors.
func Resolve(ctx context.Context, dir string, mm *mlmodel.MLmodel, opts Options) (*Spec, error) {
	spec := &Spec{}
	cfg, hasProc := mm.Flavors[FlavorProcess]
	if hasProc {
		if err := parseFlavor(cfg, spec); err != nil {
			return nil, err
		}
	}
	if len(spec.Command) == 0 {
		if _, ok := mm.Flavors[mlmodel.FlavorPythonFunction]; !ok {
			flavors := make([]string, 0, len(mm.Flavors))
			for f := range mm.Flavors {
				flavors = append(flavors, f)
			}
			slices.Sort(flavors)
			if hasProc {
				return nil, loopml.Errorf(loopml.EINVALID, "MLmodel: key 'flavors.%s.command' is required (the package has no %s flavor to serve with MLflow)", FlavorProcess, mlmodel.FlavorPythonFunction)
			}
			return nil, loopml.Errorf(loopml.EINVALID, "the package has flavors [%s]: the process runtime serves a %s command or a %s package", strings.Join(flavors, ", "), FlavorProcess, mlmodel.FlavorPythonFunction)
		}
		python := opts.Python
		if python == "" {
			python = "python3"
		}
		if err := checkMLflow(ctx, python); err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "%s (%v)", ErrNeedMLflow, err)
		}
		spec.Command = []string{python, "-m", "mlflow", "models", "serve", "-m", "{model_dir}", "-h", "{host}", "-p", "{port}", "--env-manager", "local"}
		spec.Protocol, spec.Listen = ProtocolMLflow, ListenTCP
		if spec.StartTimeout == 0 {
			spec.StartTimeout = 2 * DefaultStartTimeout // MLflow imports slowly
		}
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return spec, nil
}

// checkMLflow runs python -c "import mlflow".
func checkMLflow(ctx context.Context, python string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", "import mlflow").CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if last := lines[len(lines)-1]; last != "" {
			return fmt.Errorf("%s -c 'import mlflow': %s", python, last)
		}
		return fmt.Errorf("%s -c 'import mlflow': %v", python, err)
	}
	return nil
}

// parseFlavor reads the loopml_process flavor into spec.
func parseFlavor(cfg map[string]any, spec *Spec) error {
	key := func(k string) string { return "flavors." + FlavorProcess + "." + k }
	bad := func(k, format string, args ...any) error {
		return loopml.Errorf(loopml.EINVALID, "MLmodel: key '%s' %s", key(k), fmt.Sprintf(format, args...))
	}
	for k, v := range cfg {
		switch k {
		case "command":
			switch c := v.(type) {
			case nil:
			case []any:
				for i, a := range c {
					switch a := a.(type) {
					case string:
						spec.Command = append(spec.Command, a)
					case int, int64, float64, bool:
						spec.Command = append(spec.Command, fmt.Sprint(a))
					default:
						return bad(k, "[%d] must be a string", i)
					}
				}
				if len(spec.Command) == 0 || spec.Command[0] == "" {
					return bad(k, "must name a program")
				}
			default:
				return bad(k, "must be a list of strings (argv), e.g. [python3, score.py]")
			}
		case "protocol", "listen", "health_path":
			s, ok := v.(string)
			if !ok {
				return bad(k, "must be a string")
			}
			switch k {
			case "protocol":
				spec.Protocol = s
			case "listen":
				spec.Listen = s
			default:
				spec.HealthPath = s
			}
		case "startup_timeout":
			d, err := duration(v)
			if err != nil || d <= 0 {
				return bad(k, "must be a positive duration like 60s or a number of seconds")
			}
			spec.StartTimeout = d
		case "env":
			m, ok := v.(map[string]any)
			if !ok {
				return bad(k, "must be a mapping of names to strings")
			}
			spec.Env = map[string]string{}
			for name, val := range m {
				if name == "" || strings.ContainsAny(name, "=\x00") {
					return bad(k, "has an invalid variable name %q", name)
				}
				spec.Env[name] = fmt.Sprint(val)
			}
		case "batch":
			if v == nil {
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				return bad(k, "must be a mapping with max_rows, max_wait_ms, concurrency")
			}
			b := &Batch{}
			for bk, bv := range m {
				n, ok := number(bv)
				if !ok || n < 0 {
					return bad(k+"."+bk, "must be a non-negative number")
				}
				switch bk {
				case "max_rows":
					b.MaxRows = int(n)
				case "max_wait_ms":
					b.MaxWait = time.Duration(n * float64(time.Millisecond))
				case "concurrency":
					b.Concurrency = int(n)
				default:
					return bad(k+"."+bk, "is unknown (max_rows, max_wait_ms, concurrency)")
				}
			}
			spec.Batch = b
		default:
			return bad(k, "is unknown (command, protocol, listen, health_path, startup_timeout, env, batch)")
		}
	}
	if err := spec.Validate(); err != nil && len(spec.Command) > 0 {
		return loopml.Errorf(loopml.EINVALID, "MLmodel: flavor %s: %s", FlavorProcess, loopml.ErrorMessage(err))
	}
	return nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func duration(v any) (time.Duration, error) {
	if n, ok := number(v); ok {
		return time.Duration(n * float64(time.Second)), nil
	}
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("not a duration")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}
