package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// envMap returns a getenv over m.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func loadWith(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	scratch := DefaultConfig()
	addConfigFlags(fs, &scratch)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return loadConfig(fs, envMap(env))
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigPrecedence(t *testing.T) {
	file := writeFile(t, "loopml.yaml", "addr: 127.0.0.1:7000\nlog_level: debug\nmax-body: 1MiB\nshutdown-timeout: 5s\nhome: /from/file\n")
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"defaults", nil, nil, func(t *testing.T, c Config) {
			if c != DefaultConfig() {
				t.Errorf("got %+v, want DefaultConfig", c)
			}
		}},
		{"file over defaults", []string{"--config", file}, nil, func(t *testing.T, c Config) {
			if c.Addr != "127.0.0.1:7000" || c.LogLevel != "debug" || c.MaxBodyBytes != 1<<20 || c.ShutdownTimeout != 5*time.Second || c.Home != "/from/file" {
				t.Errorf("got %+v", c)
			}
			if c.LogFormat != "text" {
				t.Errorf("unset key changed: log format %q", c.LogFormat)
			}
		}},
		{"file named by LOOPML_CONFIG", nil, map[string]string{"LOOPML_CONFIG": file}, func(t *testing.T, c Config) {
			if c.Addr != "127.0.0.1:7000" {
				t.Errorf("addr = %q", c.Addr)
			}
		}},
		{"env over file", []string{"--config", file}, map[string]string{"LOOPML_ADDR": "127.0.0.1:8000", "LOOPML_MAX_BODY": "2MiB", "LOOPML_HOME": "/from/env"}, func(t *testing.T, c Config) {
			if c.Addr != "127.0.0.1:8000" || c.MaxBodyBytes != 2<<20 || c.Home != "/from/env" || c.LogLevel != "debug" {
				t.Errorf("got %+v", c)
			}
		}},
		{"flag over env", []string{"--config", file, "--addr", "127.0.0.1:9000", "--read-timeout", "1m"}, map[string]string{"LOOPML_ADDR": "127.0.0.1:8000", "LOOPML_READ_TIMEOUT": "10s"}, func(t *testing.T, c Config) {
			if c.Addr != "127.0.0.1:9000" || c.ReadTimeout != time.Minute {
				t.Errorf("got %+v", c)
			}
		}},
		{"flag equal to default still wins", []string{"--addr", "127.0.0.1:5000"}, map[string]string{"LOOPML_ADDR": "127.0.0.1:8000"}, func(t *testing.T, c Config) {
			if c.Addr != "127.0.0.1:5000" {
				t.Errorf("addr = %q", c.Addr)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadWith(t, tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // config file content, "" for none
		args []string
		env  map[string]string
		want string
	}{
		{"unknown file key", "adr: x\n", nil, nil, `unknown key "adr" (line 1)`},
		{"nested file value", "addr:\n  host: x\n", nil, nil, `key "addr" (line 2) must have a single value`},
		{"bad duration in file", "idle-timeout: soon\n", nil, nil, `idle-timeout "soon" is not a duration`},
		{"not yaml", "addr: [\n", nil, nil, "config file"},
		{"bad env", "", nil, map[string]string{"LOOPML_MAX_BODY": "lots"}, "LOOPML_MAX_BODY"},
		{"bad flag value validated", "", []string{"--log-format", "xml"}, nil, `log-format "xml" must be text or json`},
		{"missing file", "", []string{"--config", "/does/not/exist.yaml"}, nil, "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append(args, "--config", writeFile(t, "c.yaml", tt.file))
			}
			_, err := loadWith(t, args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEmptyConfigFile(t *testing.T) {
	c, err := loadWith(t, []string{"--config", writeFile(t, "empty.yaml", "")}, nil)
	if err != nil || c != DefaultConfig() {
		t.Fatalf("got %+v, %v; want defaults", c, err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string // "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"postgres store", func(c *Config) { c.Store = "postgres://u:secret@127.0.0.1/db" }, ""},
		{"sqlite store", func(c *Config) { c.Store = "sqlite:///tmp/x.db" }, ""},
		{"file artifacts", func(c *Config) { c.Artifacts = "file:///tmp/arts" }, ""},
		{"empty home", func(c *Config) { c.Home = "" }, "home must not be empty"},
		{"bad addr", func(c *Config) { c.Addr = "5000" }, `addr "5000" must be host:port`},
		{"bad store hides password", func(c *Config) { c.Store = "mysql://u:secret@h/db" }, "store \"mysql://u:xxxxx@h/db\""},
		{"s3 artifacts", func(c *Config) { c.Artifacts = "s3://bucket/prefix" }, `scheme "s3" is not supported yet`},
		{"file URL with host", func(c *Config) { c.Artifacts = "file://server/share" }, "must not name a host"},
		{"max body", func(c *Config) { c.MaxBodyBytes = 0 }, "max-body must be positive"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, `log-level "loud"`},
		{"negative timeout", func(c *Config) { c.IdleTimeout = -time.Second }, "idle-timeout must not be negative"},
		{"shutdown timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown-timeout must be positive"},
		{"sqlite synchronous", func(c *Config) { c.SQLiteSynchronous = "sometimes" }, `sqlite-synchronous "sometimes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(userMessage(err), tt.want) {
				t.Fatalf("Validate() = %v, want message containing %q", err, tt.want)
			}
			if strings.Contains(userMessage(err), "secret") {
				t.Errorf("message leaks a password: %v", err)
			}
		})
	}
}

func TestStoreDSNAndArtifactsDir(t *testing.T) {
	c := Config{Home: "/srv/loopml"}
	if dsn, err := c.StoreDSN(); err != nil || dsn != "sqlite:///srv/loopml/loopml.db" {
		t.Errorf("StoreDSN() = %q, %v", dsn, err)
	}
	if d, err := c.ArtifactsDir(); err != nil || d != "/srv/loopml/artifacts" {
		t.Errorf("ArtifactsDir() = %q, %v", d, err)
	}
	c.Store, c.Artifacts = "postgres://h/db", "file:///data/arts"
	if dsn, _ := c.StoreDSN(); dsn != "postgres://h/db" {
		t.Errorf("StoreDSN() = %q", dsn)
	}
	if d, _ := c.ArtifactsDir(); d != "/data/arts" {
		t.Errorf("ArtifactsDir() = %q", d)
	}
	c.Artifacts = "relative/arts"
	if d, _ := c.ArtifactsDir(); d != "relative/arts" {
		t.Errorf("ArtifactsDir() = %q", d)
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"4096", 4096, true}, {"32MiB", 32 << 20, true}, {"32mib", 32 << 20, true},
		{"1GiB", 1 << 30, true}, {"1 GB", 1e9, true}, {"512K", 512 << 10, true}, {"10kb", 10000, true},
		{"7B", 7, true}, {"2T", 2 << 40, true},
		{"", 0, false}, {"MiB", 0, false}, {"-1", 0, false}, {"1.5GiB", 0, false}, {"1PB", 0, false},
		{"99999999999TiB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBytes(tt.in)
			if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
				t.Fatalf("parseBytes(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
	for _, n := range []int64{0, 1, 1000, 1 << 10, 32 << 20, 3 << 30, 5<<20 + 1} {
		if got, err := parseBytes(formatBytes(n)); err != nil || got != n {
			t.Errorf("round trip %d -> %q -> %d, %v", n, formatBytes(n), got, err)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"32MiB", "1 GB", "4096", "-1", "9223372036854775807", "8EiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseBytes(%q) = %d, negative", s, n)
		}
		if back, err := parseBytes(formatBytes(n)); err != nil || back != n {
			t.Fatalf("round trip of %d via %q: %d, %v", n, formatBytes(n), back, err)
		}
	})
}

func FuzzConfigFile(f *testing.F) {
	f.Add("addr: 127.0.0.1:1\nmax_body: 1KiB\n")
	f.Add("- a\n- b\n")
	f.Add("read-timeout: {x: 1}\n")
	f.Fuzz(func(t *testing.T, content string) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		c := DefaultConfig()
		_ = applyConfigFile(&c, p) // must not panic
	})
}
