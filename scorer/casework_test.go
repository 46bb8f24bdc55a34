package scorer

import (
	"strings"
	"testing"
	"time"
)

func TestCaseworkSection(t *testing.T) {
	base := string(DefaultYAML())
	i := strings.Index(base, "\ncasework:")
	if i < 0 {
		t.Fatal("the default model has no casework section")
	}
	without := base[:i+1]
	m, err := Parse([]byte(without))
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Casework(); c.VisitWithin[LevelUrgent] != 72*time.Hour || c.Snooze != 90*24*time.Hour || c.SnoozeBreakPoints != 15 {
		t.Errorf("defaults without the section: %+v", c)
	}
	opened := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := m.VisitDue(LevelWarning, opened); !got.Equal(opened.Add(7 * 24 * time.Hour)) {
		t.Errorf("warning due %v", got)
	}
	for _, tc := range []struct{ section, want string }{
		{"casework:\n  visit_within: {urgent: 2d}\n  snooze: 30d\n  snooze_break_points: 10\n", ""},
		{"casework:\n  visit_within: {high: 2d}\n", "casework.visit_within.high"},
		{"casework:\n  visit_within: {urgent: 3mo}\n", "casework.visit_within.urgent"},
		{"casework:\n  visit_within: {urgent: 10d}\n", "casework.visit_within: a higher level"},
		{"casework:\n  snooze: soon\n", "casework.snooze"},
		{"casework:\n  snooze_break_points: 0\n", "casework.snooze_break_points"},
		{"casework:\n  snooze_after: 3d\n", "snooze_after"},
	} {
		m, err := Parse([]byte(without + tc.section))
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.section, err)
			} else if c := m.Casework(); c.VisitWithin[LevelUrgent] != 48*time.Hour || c.VisitWithin[LevelWatch] != 30*24*time.Hour || c.SnoozeBreakPoints != 10 {
				t.Errorf("%q read as %+v", tc.section, c)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one naming %s", tc.section, err, tc.want)
		}
	}
}
