package movies_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/loopml/loopml/learn/movies"
)

// Generate a tiny data set and look at its first lines.
func ExampleGenerate() {
	var ratings, mov bytes.Buffer
	err := movies.Generate(movies.Config{Seed: 42, Users: 3, Movies: 20, RatingsPerUser: 5}, &ratings, &mov)
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.SplitN(ratings.String(), "\n", 2)[0])
	fmt.Println(strings.SplitN(mov.String(), "\n", 2)[0])
	// Output:
	// userId,movieId,rating,timestamp
	// movieId,title,genres
}
