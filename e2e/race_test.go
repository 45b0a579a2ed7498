//go:build race

package e2e_test

// raceEnabled tells TestMain to build the server with -race too.
const raceEnabled = true
