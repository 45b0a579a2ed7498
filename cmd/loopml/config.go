package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Config is the configuration of `loopml server`. It is read from, in
// increasing precedence, DefaultConfig, an optional YAML file (--config or
// LOOPML_CONFIG), LOOPML_* environment variables and command-line flags.
// Every knob is listed once, in settings below, which generates the flags,
// the environment variable names, the YAML keys and the help text.
type Config struct {
	Home              string        // directory holding loopml.db and artifacts/ by default
	Addr              string        // listen address
	Store             string        // metadata store DSN; "" means sqlite in Home
	Artifacts         string        // artifact root (directory or file:// URL); "" means Home/artifacts
	MaxBodyBytes      int64         // JSON request body limit
	LogLevel          string        // debug, info, warn or error
	LogFormat         string        // text or json
	ReadHeaderTimeout time.Duration // http.Server.ReadHeaderTimeout
	ReadTimeout       time.Duration // http.Server.ReadTimeout; 0 = none (large uploads)
	WriteTimeout      time.Duration // http.Server.WriteTimeout; 0 = none (large downloads)
	IdleTimeout       time.Duration // http.Server.IdleTimeout
	ShutdownTimeout   time.Duration // how long in-flight requests get on SIGINT/SIGTERM
	SQLiteSynchronous string        // SQLite synchronous pragma: "" (NORMAL), NORMAL, FULL, EXTRA
	Endpoints         string        // serving endpoints YAML file; "" serves no models

	// The serving gateway's prediction log (prediction_log.go).
	PredictionLogSample    float64       // fraction of requests logged; 0 turns logging off
	PredictionLogMaxBytes  int64         // bytes kept of each request's inputs and outputs
	PredictionLogQueue     int           // predictions waiting to be written before new ones are dropped
	PredictionLogRetention time.Duration // predictions older than this are deleted; 0 keeps them

	// Server-side pipelines (pipelines_server.go).
	PipelineConcurrency int           // pipeline runs executed at once; 0 runs none
	PipelineLease       time.Duration // how long a claimed run lasts without a heartbeat
}

// DefaultHome is the home directory when neither --home nor LOOPML_HOME is
// set.
const DefaultHome = "./loopml-home"

// DefaultConfig returns the configuration used when nothing is set: a
// server on 127.0.0.1:5000 keeping everything under ./loopml-home.
func DefaultConfig() Config {
	return Config{
		Home:              DefaultHome,
		Addr:              "127.0.0.1:5000",
		MaxBodyBytes:      32 << 20,
		LogLevel:          "info",
		LogFormat:         "text",
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ShutdownTimeout:   30 * time.Second,

		PredictionLogSample:    1,
		PredictionLogMaxBytes:  64 << 10,
		PredictionLogQueue:     8192,
		PredictionLogRetention: 30 * 24 * time.Hour,
		PipelineConcurrency:    1,
		PipelineLease:          30 * time.Second,
	}
}

// StoreDSN returns the metadata store DSN: Store, or a SQLite file
// loopml.db in Home.
func (c Config) StoreDSN() (string, error) {
	if c.Store != "" {
		return c.Store, nil
	}
	home, err := filepath.Abs(c.Home)
	if err != nil {
		return "", loopml.Errorf(loopml.EINVALID, "home %q: %v", c.Home, err)
	}
	return "sqlite://" + filepath.ToSlash(filepath.Join(home, "loopml.db")), nil
}

// ArtifactsDir returns the local directory of the artifact store:
// Artifacts (a path or file:// URL) or Home/artifacts.
func (c Config) ArtifactsDir() (string, error) {
	a := c.Artifacts
	if a == "" {
		return filepath.Join(c.Home, "artifacts"), nil
	}
	if !strings.Contains(a, "://") {
		return a, nil
	}
	u, err := url.Parse(a)
	if err != nil {
		return "", loopml.Errorf(loopml.EINVALID, "artifacts %q is not a valid URL: %v", a, err)
	}
	if u.Scheme != "file" {
		return "", loopml.Errorf(loopml.EINVALID, "artifacts %q: scheme %q is not supported yet (use a directory or file:///dir)", a, u.Scheme)
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", loopml.Errorf(loopml.EINVALID, "artifacts %q: file URL must not name a host (use file:///dir)", a)
	}
	if u.Path == "" {
		return "", loopml.Errorf(loopml.EINVALID, "artifacts %q: file URL has no path", a)
	}
	return filepath.FromSlash(u.Path), nil
}

// Validate checks every field; the message names the offending key (as
// flag, YAML key and environment variable spell it).
func (c Config) Validate() error {
	if c.Home == "" {
		return loopml.Errorf(loopml.EINVALID, "home must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return loopml.Errorf(loopml.EINVALID, "addr %q must be host:port (e.g. 127.0.0.1:5000): %v", c.Addr, err)
	}
	if s := c.Store; s != "" && !strings.HasPrefix(s, "sqlite:") && !strings.HasPrefix(s, "postgres://") && !strings.HasPrefix(s, "postgresql://") {
		return loopml.Errorf(loopml.EINVALID, "store %q must be sqlite:///path/to/loopml.db or postgres://user@host/db", redactURL(s))
	}
	if _, err := c.ArtifactsDir(); err != nil {
		return err
	}
	if c.MaxBodyBytes <= 0 {
		return loopml.Errorf(loopml.EINVALID, "max-body must be positive, got %d", c.MaxBodyBytes)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return loopml.Errorf(loopml.EINVALID, "log-format %q must be text or json", c.LogFormat)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"read-header-timeout", c.ReadHeaderTimeout}, {"read-timeout", c.ReadTimeout},
		{"write-timeout", c.WriteTimeout}, {"idle-timeout", c.IdleTimeout},
	} {
		if d.v < 0 {
			return loopml.Errorf(loopml.EINVALID, "%s must not be negative, got %s", d.key, d.v)
		}
	}
	if c.ShutdownTimeout <= 0 {
		return loopml.Errorf(loopml.EINVALID, "shutdown-timeout must be positive, got %s", c.ShutdownTimeout)
	}
	switch strings.ToUpper(c.SQLiteSynchronous) {
	case "", "OFF", "NORMAL", "FULL", "EXTRA":
	default:
		return loopml.Errorf(loopml.EINVALID, "sqlite-synchronous %q must be OFF, NORMAL, FULL or EXTRA", c.SQLiteSynchronous)
	}
	if err := c.validatePredictionLog(); err != nil {
		return err
	}
	if c.PipelineLease < time.Second {
		return loopml.Errorf(loopml.EINVALID, "pipeline-lease must be at least 1s, got %s", c.PipelineLease)
	}
	return nil
}

// redactURL hides the password of a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, loopml.Errorf(loopml.EINVALID, "log-level %q must be debug, info, warn or error", s)
}

// setting is one configuration knob: its flag name (also its YAML key),
// environment variable, help, and how to read and write it as text.
type setting struct {
	key   string
	typ   string
	usage string
	get   func(*Config) string
	set   func(*Config, string) error
}

// env returns the environment variable of the setting: LOOPML_ and the key
// in upper case with '-' as '_'.
func (s setting) env() string {
	return "LOOPML_" + strings.ToUpper(strings.ReplaceAll(s.key, "-", "_"))
}

func stringSetting(key, usage string, field func(*Config) *string) setting {
	return setting{key: key, typ: "string", usage: usage,
		get: func(c *Config) string { return *field(c) },
		set: func(c *Config, v string) error { *field(c) = v; return nil },
	}
}

func durationSetting(key, usage string, field func(*Config) *time.Duration) setting {
	return setting{key: key, typ: "duration", usage: usage,
		get: func(c *Config) string { return field(c).String() },
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return loopml.Errorf(loopml.EINVALID, "%s %q is not a duration (e.g. 30s, 2m)", key, v)
			}
			*field(c) = d
			return nil
		},
	}
}

// settings lists every knob of `loopml server`.
var settings = []setting{
	stringSetting("addr", "address to listen on (host:port; port 0 picks a free port)", func(c *Config) *string { return &c.Addr }),
	stringSetting("home", "home directory: holds loopml.db and artifacts/ unless --store/--artifacts say otherwise", func(c *Config) *string { return &c.Home }),
	stringSetting("store", "metadata store: sqlite:///abs/path.db or postgres://user@host:5432/db (default: sqlite <home>/loopml.db)", func(c *Config) *string { return &c.Store }),
	stringSetting("artifacts", "artifact store: a directory or file:///dir (default: <home>/artifacts)", func(c *Config) *string { return &c.Artifacts }),
	{key: "max-body", typ: "bytes", usage: "largest JSON request body (e.g. 32MiB, 1GB, 4096); artifact uploads are streamed and not limited",
		get: func(c *Config) string { return formatBytes(c.MaxBodyBytes) },
		set: func(c *Config, v string) error {
			n, err := parseBytes(v)
			if err != nil {
				return loopml.Errorf(loopml.EINVALID, "max-body: %v", err)
			}
			c.MaxBodyBytes = n
			return nil
		}},
	stringSetting("log-level", "log level: debug, info, warn or error", func(c *Config) *string { return &c.LogLevel }),
	stringSetting("log-format", "log format: text or json", func(c *Config) *string { return &c.LogFormat }),
	durationSetting("read-header-timeout", "time allowed to read request headers", func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }),
	durationSetting("read-timeout", "time allowed to read a whole request, 0 for none (large artifact uploads)", func(c *Config) *time.Duration { return &c.ReadTimeout }),
	durationSetting("write-timeout", "time allowed to write a response, 0 for none (large artifact downloads)", func(c *Config) *time.Duration { return &c.WriteTimeout }),
	durationSetting("idle-timeout", "how long an idle keep-alive connection stays open", func(c *Config) *time.Duration { return &c.IdleTimeout }),
	durationSetting("shutdown-timeout", "on SIGINT/SIGTERM, how long in-flight requests may take to finish", func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	stringSetting("sqlite-synchronous", "SQLite synchronous pragma: NORMAL (default; survives a process crash) or FULL (also survives power loss)", func(c *Config) *string { return &c.SQLiteSynchronous }),
	stringSetting("endpoints", "serving endpoints YAML file (see loopml serve --help): models are served on the same port under /v2, /endpoints and /invocations", func(c *Config) *string { return &c.Endpoints }),
	predictionLogSettings[0], predictionLogSettings[1], predictionLogSettings[2], predictionLogSettings[3],
	pipelineSettings[0], pipelineSettings[1],
}

// configFileEnv names the config file when --config is not given.
const configFileEnv = "LOOPML_CONFIG"

// settingValue adapts a setting to pflag.Value, writing into cfg.
type settingValue struct {
	s   setting
	cfg *Config
}

func (v settingValue) String() string     { return v.s.get(v.cfg) }
func (v settingValue) Set(x string) error { return v.s.set(v.cfg, x) }
func (v settingValue) Type() string       { return v.s.typ }

// addConfigFlags registers a flag per setting, writing into scratch (whose
// values, DefaultConfig, are shown as defaults), plus --config.
func addConfigFlags(fs *pflag.FlagSet, scratch *Config) {
	for _, s := range settings {
		fs.Var(settingValue{s, scratch}, s.key, s.usage+" [env "+s.env()+"]")
	}
	fs.String("config", "", "YAML config file whose keys are the flag names above [env "+configFileEnv+"]")
}

// loadConfig builds the configuration: defaults, then the YAML file, then
// the environment, then the flags the user set. getenv is os.LookupEnv
// outside tests.
func loadConfig(fs *pflag.FlagSet, getenv func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	path, _ := fs.GetString("config")
	if path == "" {
		path, _ = getenv(configFileEnv)
	}
	if path != "" {
		if err := applyConfigFile(&cfg, path); err != nil {
			return Config{}, err
		}
	}
	for _, s := range settings {
		if v, ok := getenv(s.env()); ok {
			if err := s.set(&cfg, v); err != nil {
				return Config{}, fmt.Errorf("environment variable %s: %w", s.env(), err)
			}
		}
	}
	for _, s := range settings {
		if f := fs.Lookup(s.key); f != nil && f.Changed {
			if err := s.set(&cfg, f.Value.String()); err != nil {
				return Config{}, err
			}
		}
	}
	return cfg, cfg.Validate()
}

// applyConfigFile reads a YAML mapping of setting keys (flag names; '_'
// may stand for '-') to scalar values.
func applyConfigFile(cfg *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return loopml.Errorf(loopml.EINVALID, "config file: %v", err)
	}
	var raw map[string]yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return loopml.Errorf(loopml.EINVALID, "config file %s: %v", path, err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		node := raw[k]
		s, ok := lookupSetting(strings.ReplaceAll(k, "_", "-"))
		if !ok {
			return loopml.Errorf(loopml.EINVALID, "config file %s: unknown key %q (line %d)", path, k, node.Line)
		}
		if node.Kind != yaml.ScalarNode {
			return loopml.Errorf(loopml.EINVALID, "config file %s: key %q (line %d) must have a single value", path, k, node.Line)
		}
		if err := s.set(cfg, node.Value); err != nil {
			return loopml.Errorf(loopml.EINVALID, "config file %s: %s", path, loopml.ErrorMessage(err))
		}
	}
	return nil
}

func lookupSetting(key string) (setting, bool) {
	for _, s := range settings {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

// byteUnits are the suffixes parseBytes accepts, longest first.
var byteUnits = []struct {
	suffix string
	n      int64
}{
	{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// parseBytes parses a size: a number of bytes optionally followed by a unit
// (KiB, MiB, GiB, TiB in powers of 1024; KB, MB, GB, TB in powers of 1000;
// K, M, G, T as the binary units), case-insensitive.
func parseBytes(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 4096, 512KiB, 32MiB, 1GB)", s)
	}
	if n > 0 && mult > 1 && n > (1<<63-1)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// formatBytes renders n in the largest binary unit that divides it.
func formatBytes(n int64) string {
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
