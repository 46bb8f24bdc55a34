//go:build race

package monitor

// raceEnabled: the race detector makes some values escape that otherwise stay on the stack,
// so allocation counts differ under -race.
const raceEnabled = true
