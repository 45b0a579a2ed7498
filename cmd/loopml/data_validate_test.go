package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
)

const cliRules = `files: [ratings.csv]
row_count: {min: 2}
columns:
  rating:
    not_null: true
    min: 0.5
    max: 5
`

// wantContains fails unless s contains every part.
func wantContains(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%s lacks %q:\n%s", what, p, s)
		}
	}
}

func TestDataValidateCommands(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	writeTree(t, dir, map[string]string{"rules.yaml": cliRules, "broken.yaml": "columns:\n  rating:\n    maxx: 5\n"})
	writeTree(t, good, map[string]string{"ratings.csv": "userId,rating\n1,4.5\n2,3\n"})
	writeTree(t, bad, map[string]string{"ratings.csv": "userId,rating\n1,4.5\n2,9\n3,\n"})

	// A passing add with explicit rules.
	out := mustDataCLI(t, home, "data", "add", "ratings", good, "--rules", rules, "--strict")
	wantContains(t, "add output", out, "Created ratings@v1", "Validation PASSED: 5 of 5 checks passed")

	// Attach the rules; a failing strict add exits non-zero, is recorded
	// and quarantined, and @latest stays v1.
	out = mustDataCLI(t, home, "data", "rules", "set", "ratings", rules)
	wantContains(t, "rules set", out, "Attached rules to ratings (revision 1")
	out, err := dataCLI(t, home, "data", "add", "ratings", bad, "--strict")
	if err == nil || !strings.Contains(userMessage(err), "ratings@v2 failed validation and is quarantined") {
		t.Fatalf("strict failing add: err %v\n%s", err, out)
	}
	wantContains(t, "failing add output", out, "Created ratings@v2", "Validation FAILED: 2 of 5 checks failed",
		"not_null rating", "max rating", "ratings.csv:3", "ratings@v2 is quarantined")
	out = mustDataCLI(t, home, "data", "show", "ratings")
	wantContains(t, "show @latest", out, "Version:     v1", "Validation:  passed")
	out = mustDataCLI(t, home, "data", "show", "ratings@v2")
	wantContains(t, "show @v2", out, "Validation:  failed", "QUARANTINED")
	// versions shows the status and the quarantine of each version.
	out = mustDataCLI(t, home, "data", "versions", "ratings")
	if !strings.Contains(out, "VALIDATION") || !regexp.MustCompile(`(?m)^v1 .* passed +\S`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^v2 .* failed,quarantined +\S`).MatchString(out) {
		t.Errorf("versions lacks the validation column:\n%s", out)
	}

	// validations lists both; --report prints the stored report with rows.
	out = mustDataCLI(t, home, "data", "validations", "ratings")
	wantContains(t, "validations", out, "v2       failed (strict)  2/5", "v1       passed (strict)  0/5")
	out = mustDataCLI(t, home, "data", "validations", "ratings@v2", "--report")
	wantContains(t, "report", out, "validation FAILED", "FAIL    max", `ratings.csv:3: rating="9" userId="2"`)

	// validate: text report and exit 1 on failure; JSON; pass exits 0.
	out, err = dataCLI(t, home, "data", "validate", "ratings@v2")
	if err == nil {
		t.Fatalf("validate of a failing version exited 0:\n%s", out)
	}
	wantContains(t, "validate text", out, "ratings@v2: validation FAILED", "not_null", "ratings.csv:4")
	out, err = dataCLI(t, home, "data", "validate", "ratings@v2", "--rules", rules, "-o", "json")
	if err == nil {
		t.Fatal("validate -o json of a failing version exited 0")
	}
	var doc struct {
		Validation validationView `json:"validation"`
		Report     struct {
			Passed  bool `json:"passed"`
			Results []struct {
				Rule   string `json:"rule"`
				Passed bool   `json:"passed"`
			} `json:"results"`
		} `json:"report"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("validate -o json: %v\n%s", err, out)
	}
	if doc.Report.Passed || doc.Validation.Status != "failed" || doc.Validation.ID != 0 || len(doc.Report.Results) != 4 {
		t.Errorf("validate -o json: %+v", doc)
	}
	out = mustDataCLI(t, home, "data", "validate", "ratings@v1", "--record")
	wantContains(t, "validate --record", out, "validation PASSED", "Recorded validation 3: passed")

	// Release: v2 becomes @latest; quarantine puts it back.
	out = mustDataCLI(t, home, "data", "release", "ratings@v2")
	wantContains(t, "release", out, "Released ratings@v2; @latest is v2")
	out = mustDataCLI(t, home, "data", "quarantine", "ratings@v2")
	wantContains(t, "quarantine", out, "Quarantined ratings@v2; @latest is v1")
	out = mustDataCLI(t, home, "data", "quarantine", "ratings@v2", "--off")
	wantContains(t, "quarantine --off", out, "Released ratings@v2")
	if _, err := dataCLI(t, home, "data", "release", "ratings"); err == nil || !strings.Contains(userMessage(err), "name the version") {
		t.Errorf("release without a version: %v", err)
	}

	// rules show prints a valid rules file; rm detaches.
	out = mustDataCLI(t, home, "data", "rules", "show", "ratings")
	if !strings.HasPrefix(out, "# rules of dataset ratings, revision 1, sha256:") || !strings.HasSuffix(out, cliRules) {
		t.Errorf("rules show:\n%s", out)
	}
	mustDataCLI(t, home, "data", "rules", "rm", "ratings")
	// history lists both revisions, the removal first.
	out = mustDataCLI(t, home, "data", "rules", "history", "ratings")
	if !regexp.MustCompile(`(?s)^REVISION +DIGEST.*\n2 +removed +- .*\n1 +sha256:[0-9a-f]{12} +\d+ B `).MatchString(out) {
		t.Errorf("rules history:\n%s", out)
	}
	var revs []rulesView
	if err := json.Unmarshal([]byte(mustDataCLI(t, home, "data", "rules", "history", "ratings", "-o", "json")), &revs); err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0].Revision != 2 || revs[0].YAML != "" || revs[1].YAML != cliRules || revs[1].Digest != loopml.RulesDigest(cliRules) {
		t.Errorf("rules history -o json: %+v", revs)
	}
	wantContains(t, "history of no rules", mustDataCLI(t, home, "data", "rules", "history", "nothing"), "No rules were ever attached to nothing")
	if _, err := dataCLI(t, home, "data", "rules", "show", "ratings"); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Errorf("rules show after rm: %v", err)
	}
	if _, err := dataCLI(t, home, "data", "validate", "ratings"); err == nil || !strings.Contains(userMessage(err), "no rules attached") {
		t.Errorf("validate without rules: %v", err)
	}

	// Broken rules are refused, naming file, line and key.
	_, err = dataCLI(t, home, "data", "rules", "set", "ratings", filepath.Join(dir, "broken.yaml"))
	if err == nil || !strings.Contains(userMessage(err), "broken.yaml:3") || !strings.Contains(userMessage(err), "maxx") {
		t.Errorf("broken rules: %v", err)
	}
	_, err = dataCLI(t, home, "data", "add", "ratings", good, "--rules", filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.Contains(userMessage(err), "missing.yaml") {
		t.Errorf("missing rules file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, "loopml.db")); err != nil {
		t.Fatal(err)
	}
}

// TestDataValidateRemote: the validation commands through --tracking-uri
// (the Client's validation methods against `loopml server`), rules
// attached over HTTP applied to a remote add.
func TestDataValidateRemote(t *testing.T) {
	serverHome, clientHome, dir := t.TempDir(), t.TempDir(), t.TempDir()
	url, _, _ := startServer(t, serverHome)
	rules := filepath.Join(dir, "rules.yaml")
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	writeTree(t, dir, map[string]string{"rules.yaml": cliRules})
	writeTree(t, good, map[string]string{"ratings.csv": "userId,rating\n1,4.5\n2,3\n"})
	writeTree(t, bad, map[string]string{"ratings.csv": "userId,rating\n1,4.5\n2,9\n"})
	remote := func(args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--tracking-uri", url, "--home", clientHome)
		err := run(context.Background(), args, envMap(nil), &out, &errOut)
		return out.String(), err
	}

	if out, err := remote("data", "rules", "set", "ratings", rules); err != nil || !strings.Contains(out, "revision 1") {
		t.Fatalf("rules set: %v\n%s", err, out)
	}
	if out, err := remote("data", "add", "ratings", good); err != nil || !strings.Contains(out, "Validation PASSED") {
		t.Fatalf("add good: %v\n%s", err, out)
	}
	out, err := remote("data", "add", "ratings", bad, "--strict")
	if err == nil || !strings.Contains(out, "ratings@v2 is quarantined") {
		t.Fatalf("strict add bad: %v\n%s", err, out)
	}
	// The server resolves @latest past the quarantined version, and its
	// report is readable through the artifact proxy.
	if out, err := remote("data", "show", "ratings"); err != nil || !strings.Contains(out, "v1") || strings.Contains(out, "QUARANTINED") {
		t.Fatalf("show @latest: %v\n%s", err, out)
	}
	if out, err := remote("data", "validations", "ratings@v2", "--report"); err != nil || !strings.Contains(out, `ratings.csv:3: rating="9"`) {
		t.Fatalf("remote report: %v\n%s", err, out)
	}
	if out, err := remote("data", "release", "ratings@v2"); err != nil || !strings.Contains(out, "@latest is v2") {
		t.Fatalf("release: %v\n%s", err, out)
	}
	// The server vets rules it is given.
	c := httpapi.NewClient(url, nil)
	if _, err := c.SetDatasetRules(context.Background(), "ratings", "columns: {rating: {maxx: 1}}\n"); loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "maxx") {
		t.Fatalf("server accepted broken rules: %v", err)
	}
}
