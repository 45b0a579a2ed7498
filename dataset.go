package loopml

// Dataset describes a dataset as MLflow's log-inputs sends it.
type Dataset struct {
	Name       string
	Digest     string
	SourceType string
	Source     string
	Schema     string
	Profile    string
}

// DatasetInput links a dataset to a run, with input tags such as
// mlflow.data.context = "training".
type DatasetInput struct {
	Dataset Dataset
	Tags    []Tag
}

// TagDatasetContext is the input tag naming the role of a dataset.
const TagDatasetContext = "mlflow.data.context"
