package mlmodel_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/mlmodel"
)

func TestDecodeCSV(t *testing.T) {
	sig := mustSignature(t, `inputs: '[{"name": "zip", "type": "string"}, {"name": "n", "type": "long"}, {"name": "x", "type": "double"}]'`)
	tests := []struct {
		name    string
		body    string
		schema  *mlmodel.Schema
		want    *mlmodel.Frame
		wantErr string
	}{
		{
			name: "inferred cells",
			body: "a,b,c,d\n1,2.5,True,hello\n,NaN,false,\"x,y\"\n",
			want: &mlmodel.Frame{Columns: []string{"a", "b", "c", "d"}, Rows: [][]any{{int64(1), 2.5, true, "hello"}, {nil, nil, false, "x,y"}}},
		},
		{
			name:   "schema keeps string columns as text",
			body:   "zip,n,x\n00501,7,1\n",
			schema: sig.Inputs,
			want:   &mlmodel.Frame{Columns: []string{"zip", "n", "x"}, Rows: [][]any{{"00501", int64(7), int64(1)}}},
		},
		{name: "empty body", body: "", wantErr: "empty body"},
		{name: "ragged record", body: "a,b\n1,2\n3\n", wantErr: "cannot read a record"},
		{name: "duplicate column", body: "a,a\n1,2\n", wantErr: `duplicate column "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mlmodel.DecodeCSV(strings.NewReader(tt.body), tt.schema)
			if tt.wantErr != "" {
				if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("got %v, want EINVALID containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
	// The decoded frame goes through Enforce like a JSON one.
	f, err := mlmodel.DecodeCSV(strings.NewReader("x,zip,n\n2,01000,3\n"), sig.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sig.Inputs.Enforce(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]any{{"01000", int64(3), 2.0}}; !reflect.DeepEqual(got.Rows, want) {
		t.Errorf("enforced: got %#v, want %#v", got.Rows, want)
	}
}
