package loopml_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering enforces the package layout of docs/architecture.md: the
// root imports only the standard library; adapters and engines import the
// root but never each other; the pure engines import not even the root;
// only cmd/ wires several together. Test files are exempt.
func TestLayering(t *testing.T) {
	const mod = "github.com/loopml/loopml"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	// Project packages each may import, besides the root (nil: any).
	allowed := map[string][]string{
		"":             {}, // the root itself: checked separately
		"storetest":    {},
		"artifacttest": {},
		"training":     {"learn", "mlmodel"},
		"serving":      {"mlmodel", "training", "registrycache", "learn", "procserve"},
		"procserve":    {"mlmodel"},
		"datasets":     {"cas", "profile", "drift", "validate"},
		"validate":     {"profile", "drift"},
		"pipeline":     {"cas", "datasets", "training", "learn"},
	}
	pure := map[string]bool{"drift": true, "profile": true, "learn": true, "learn/movies": true, "learn/delivery": true}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], mod), "/")
		if strings.HasPrefix(pkg, "cmd/") || pkg == "e2e" {
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, mod) {
				if pkg == "" && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
					t.Errorf("root package imports %s: it may import only the standard library", imp)
				}
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")
			switch {
			case pure[pkg] && dep == "":
				t.Errorf("%s imports the root package: it must stay pure", pkg)
			case dep == "":
				// Every adapter and engine may import the root.
			default:
				if a, ok := allowed[pkg]; ok && !contains(a, dep) || !ok {
					t.Errorf("%s imports %s: packages import the root, not their siblings (only cmd/ wires them)", pkg, dep)
				}
			}
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
