package mlmodel_test

import (
	"fmt"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/mlmodel"
)

// Parse an MLmodel file written by MLflow, then check a scoring request
// against its signature the way a serving layer does.
func Example() {
	const file = `artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
  sklearn:
    pickled_model: model.pkl
mlflow_version: 2.14.1
signature:
  inputs: '[{"type": "double", "name": "x1", "required": true}, {"type": "string",
    "name": "city", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
  params: '[{"name": "threshold", "type": "double", "default": 0.5, "shape": null}]'
`
	m, err := mlmodel.Parse(strings.NewReader(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("loader:", m.Flavor(mlmodel.FlavorPythonFunction)["loader_module"])
	for _, c := range m.Signature.Inputs.Columns {
		fmt.Printf("input %s: %s\n", c.Name, c.Type)
	}

	req, _ := mlmodel.DecodeScoringRequest(strings.NewReader(
		`{"dataframe_records": [{"city": "Lyon", "x1": 3, "extra": true}]}`))
	frame, _ := m.Signature.Inputs.Enforce(req.Frame)
	params, _ := m.Signature.Params.Enforce(req.Params)
	fmt.Printf("columns %v, row %v, params %v\n", frame.Columns, frame.Rows[0], params)

	req, _ = mlmodel.DecodeScoringRequest(strings.NewReader(`{"inputs": {"x1": [1.5]}}`))
	_, err = m.Signature.Inputs.Enforce(req.Frame)
	fmt.Println(loopml.ErrorCode(err)+":", loopml.ErrorMessage(err))
	// Output:
	// loader: mlflow.sklearn
	// input x1: double
	// input city: string
	// columns [x1 city], row [3 Lyon], params map[threshold:0.5]
	// invalid: input is missing required column 'city' (the model signature requires it)
}
