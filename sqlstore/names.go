package sqlstore

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// newRunID returns a new run id: a UUID v7 (time-ordered, so new runs append
// to the runs index) as 32 lowercase hex digits.
func newRunID() string {
	u, err := uuid.NewV7()
	if err != nil {
		u = uuid.New()
	}
	return strings.ReplaceAll(u.String(), "-", "")
}

var (
	nameAdjectives = []string{
		"able", "agile", "amazing", "bold", "brave", "bright", "calm", "capable", "clever", "crisp",
		"curious", "daring", "eager", "elegant", "fast", "fearless", "gentle", "glowing", "grand", "happy",
		"honest", "humble", "keen", "kind", "lively", "lucky", "merry", "mighty", "neat", "nimble",
		"noble", "patient", "polite", "proud", "quick", "quiet", "rare", "rich", "sharp", "shiny",
		"silent", "smart", "smooth", "steady", "sunny", "swift", "tidy", "vivid", "warm", "wise",
	}
	nameNouns = []string{
		"ant", "badger", "bass", "bat", "bear", "bee", "bird", "boar", "carp", "cat",
		"colt", "crab", "crow", "deer", "doe", "dove", "duck", "eagle", "eel", "elk",
		"finch", "fox", "frog", "goat", "goose", "hare", "hawk", "hen", "horse", "jay",
		"lamb", "lark", "lion", "lynx", "mole", "moth", "mouse", "newt", "owl", "ox",
		"panda", "pig", "robin", "seal", "shark", "sloth", "snail", "stork", "swan", "whale",
	}
)

// generateRunName returns a readable name like "clever-owl-123", as MLflow
// gives runs created without one.
func generateRunName() string {
	return nameAdjectives[rand.IntN(len(nameAdjectives))] + "-" +
		nameNouns[rand.IntN(len(nameNouns))] + "-" + strconv.Itoa(rand.IntN(1000))
}
