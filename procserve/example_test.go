package procserve_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/loopml/loopml/mlmodel"
	"github.com/loopml/loopml/procserve"
)

// A package declares its scoring server in the loopml_process flavor;
// Resolve reads it (Start then runs it).
func ExampleResolve() {
	mm, _ := mlmodel.Parse(strings.NewReader(`
flavors:
  loopml_process:
    command: [python3, score.py, --port, "{port}"]
    batch: {max_rows: 128, max_wait_ms: 2}
`))
	spec, err := procserve.Resolve(context.Background(), ".", mm, procserve.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(spec.Command, spec.Batch.MaxRows, spec.Batch.MaxWait)
	// Output: [python3 score.py --port {port}] 128 2ms
}
