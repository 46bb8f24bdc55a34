//go:build !testclock

package app

// testClock is false in every binary not built with -tags testclock: `safetynet run` refuses
// SAFETYNET_TEST_FROZEN_TIME, so a production service cannot be given a fixed clock.
const testClock = false
