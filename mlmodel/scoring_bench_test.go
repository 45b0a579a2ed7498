package mlmodel_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/loopml/loopml/mlmodel"
)

// BenchmarkDecodeScoringRequest measures the decoding of the bodies the
// serving gateway sees most: small dataframe_records and dataframe_split
// requests of integer ids.
func BenchmarkDecodeScoringRequest(b *testing.B) {
	var rows []string
	for i := range 100 {
		rows = append(rows, fmt.Sprintf(`{"user_id": %d, "item_id": %d}`, i+1, 5000+7*i))
	}
	for _, bm := range []struct{ name, body string }{
		{"records-1", `{"dataframe_records": [{"user_id": 1, "item_id": 5631}]}`},
		{"split-1", `{"dataframe_split": {"columns": ["user_id", "item_id"], "data": [[1, 5631]]}}`},
		{"records-100", `{"dataframe_records": [` + strings.Join(rows, ", ") + `]}`},
	} {
		body := []byte(bm.body)
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := mlmodel.DecodeScoringRequest(bytes.NewReader(body)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
