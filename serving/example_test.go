package serving_test

import (
	"fmt"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/serving"
)

// Endpoints are declared in YAML; errors name the file, line and field.
func ExampleParseEndpoints() {
	specs, err := serving.ParseEndpoints(strings.NewReader(`
endpoints:
  - name: recs
    targets:
      - {model: "models:/recs@champion", weight: 90}
      - {model: "models:/recs@challenger", weight: 10}
    sticky_header: X-User-Id
`), "endpoints.yaml")
	if err != nil {
		panic(err)
	}
	for _, t := range specs[0].Targets {
		fmt.Println(specs[0].Name, t.Model, t.Weight)
	}

	_, err = serving.ParseEndpoints(strings.NewReader("endpoints:\n  - name: recs\n    target: []\n"), "endpoints.yaml")
	fmt.Println(loopml.ErrorMessage(err))
	// Output:
	// recs models:/recs@champion 90
	// recs models:/recs@challenger 10
	// endpoints.yaml:3: endpoints[0].target: unknown key (want one of default, name, shadow, sticky_header, targets)
}
