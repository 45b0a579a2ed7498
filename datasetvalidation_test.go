package loopml_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

func TestValidDatasetValidationStatus(t *testing.T) {
	for s, want := range map[string]bool{
		loopml.ValidationPassed: true, loopml.ValidationFailed: true, loopml.ValidationError: true,
		"": false, "Passed": false, "ok": false, "failed ": false,
	} {
		if got := loopml.ValidDatasetValidationStatus(s); got != want {
			t.Errorf("ValidDatasetValidationStatus(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestRulesDigest(t *testing.T) {
	a, b := loopml.RulesDigest("row_count: {min: 1}\n"), loopml.RulesDigest("row_count: {min: 2}\n")
	if a == b || !strings.HasPrefix(a, "sha256:") || len(a) != len("sha256:")+64 {
		t.Fatalf("digests %q, %q: want distinct sha256:<64 hex>", a, b)
	}
	if loopml.RulesDigest("row_count: {min: 1}\n") != a {
		t.Fatal("digest is not deterministic")
	}
}

func ExampleRulesDigest() {
	fmt.Println(loopml.RulesDigest(""))
	// Output: sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
}
