// Package mlmodel reads and writes model packages in MLflow's format: a
// directory with an MLmodel YAML file at its root (flavors, signature, input
// example, run and model identifiers, free-form metadata) next to the files
// the flavors load.
//
// It provides:
//
//   - [Parse], [ParseFile] and [MLmodel.Write]: an MLmodel file as MLflow's
//     Python client writes it parses into [MLmodel]; unknown top-level keys
//     and unknown flavor keys are kept, so parse → write loses nothing.
//     Malformed files fail with an EINVALID error naming the key (and the
//     YAML line where there is one).
//   - [Signature], [Schema], [ColSpec], [TensorSpec], [ParamSpec]: the model
//     signature as a first-class value, including MLflow's newer array,
//     object, map and any types.
//   - [Schema.Enforce] and [ParamSchema.Enforce]: the checks a serving layer
//     applies before predicting (missing required column → error naming it,
//     extra columns dropped, only safe type conversions, params defaulted).
//   - [DecodeScoringRequest]: the four request formats of MLflow's pyfunc
//     scoring server (dataframe_split, dataframe_records, instances, inputs,
//     plus params) decoded into one columnar [Frame]; [DecodeCSV] for
//     text/csv bodies.
//   - [WritePackage] and [DigestDir]: loopml's own packages (flavor
//     "loopml") and the size and content digest the registry records.
//
// The package imports the standard library, go.yaml.in/yaml/v3,
// github.com/zeebo/blake3 and the root package loopml (for error codes
// only); no sibling package.
package mlmodel
