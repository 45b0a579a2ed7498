package delivery_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/loopml/loopml/learn/delivery"
)

// Generate three orders.
func ExampleGenerate() {
	var buf bytes.Buffer
	if err := delivery.Generate(delivery.Config{Seed: 1, Rows: 3}, &buf); err != nil {
		panic(err)
	}
	fmt.Println(strings.SplitN(buf.String(), "\n", 2)[0])
	fmt.Println(strings.Count(buf.String(), "\n"))
	// Output:
	// distance_km,items,hour,weekday,weather,courier,prep_minutes,delivery_minutes,late
	// 4
}
