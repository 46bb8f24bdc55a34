package main

import (
	"regexp"
	"testing"
)

// An event id must never hold a run shaped like a resident ID number (15 or 18 digits), or
// safetynet dead-letters the event. The UUID's groups hold at most 12 digits in a row; plain
// hex ids did not, and lost the story's hospital admission about once in 40 runs.
func TestEventIDsAreUUIDs(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for range 10000 {
		if id := newUUID(); !uuid.MatchString(id) {
			t.Fatalf("event id %q is not a version-4 UUID", id)
		}
	}
}
