package training_test

import (
	"fmt"

	"github.com/loopml/loopml/training"
)

// Parse --params pairs and see the hyperparameters a run would log for
// them, defaults included.
func ExampleEffectiveParams() {
	p, err := training.ParseParams([]string{"factors=16", "iterations=5"})
	if err != nil {
		fmt.Println(err)
		return
	}
	eff, err := training.EffectiveParams("implicit-als", p)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(eff["factors"], eff["iterations"], eff["alpha"])

	_, err = training.EffectiveParams("mf", map[string]string{"depth": "3"})
	fmt.Println(err != nil)
	// Output:
	// 16 5 1
	// true
}
