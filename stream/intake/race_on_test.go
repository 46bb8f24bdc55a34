//go:build race

package intake

const raceEnabled = true
