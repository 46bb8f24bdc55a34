//go:build testclock

package app

// testClock is true in binaries built with -tags testclock (test/crash builds them so): only
// they honour SAFETYNET_TEST_FROZEN_TIME.
const testClock = true
