package feed

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Casework is the casework feed: caseworkers' actions on cases (assign, visit, close), keyed by
// household id. The API produces it and an external case-management system may too; intake
// validates it and forwards it to household-events with the household id from the record (no
// person is resolved), and the monitor applies it with the household's other events.
const Casework = "casework"

// Casework event types.
const (
	CaseAssign = "assign"
	CaseVisit  = "visit"
	CaseClose  = "close"
)

// CaseTypes lists the casework event types.
var CaseTypes = []string{CaseAssign, CaseVisit, CaseClose}

// Visit outcomes.
const (
	OutcomeAidGranted  = "aid_granted"
	OutcomeReferred    = "referred"
	OutcomeNotNeeded   = "not_needed"
	OutcomeUnreachable = "unreachable"
	OutcomeDeclined    = "declined"
)

// Outcomes lists the visit outcomes; Programs the aid programmes of aid_granted;
// NotNeededReasons the reasons of not_needed; CloseReasons the reasons a supervisor closes a
// case with.
var (
	Outcomes         = []string{OutcomeAidGranted, OutcomeReferred, OutcomeNotNeeded, OutcomeUnreachable, OutcomeDeclined}
	Programs         = []string{"dibao", "tekun", "temporary", "medical", "other"}
	NotNeededReasons = []string{"family_support", "income_recovered", "data_error", "moved_away", "other"}
	CloseReasons     = []string{"duplicate", "handled_elsewhere", "moved_away", "deceased", "other"}
)

// MaxNoteRunes bounds a casework note, and MaxNameRunes a caseworker's name.
const (
	MaxNoteRunes = 500
	MaxNameRunes = 64
)

// CaseAction is what a casework event carries beyond the common fields. Note is free text: it
// is never logged, and refused when it holds anything shaped like a resident ID number.
type CaseAction struct {
	CaseID    string     `json:"case_id"`
	Actor     string     `json:"actor,omitempty"`
	Assignee  string     `json:"assignee,omitempty"`
	VisitedAt *time.Time `json:"visited_at,omitempty"`
	Outcome   string     `json:"outcome,omitempty"`
	Program   string     `json:"program,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Note      string     `json:"note,omitempty"`
}

// CaseID is the id of a household's case for an alert episode.
func CaseID(householdID string, episode int) string {
	return householdID + "-" + strconv.Itoa(episode)
}

// SplitCaseID returns the household and episode of a case id.
func SplitCaseID(id string) (householdID string, episode int, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(id[i+1:])
	if err != nil || n <= 0 || strconv.Itoa(n) != id[i+1:] {
		return "", 0, false
	}
	return id[:i], n, true
}

// idShaped matches digit runs shaped like a resident ID number (15 or 18 characters, the last
// of an 18 possibly X) in free text; longer runs of digits are refused too.
var idShaped = regexp.MustCompile(`[0-9]{17}[0-9Xx]|[0-9]{15}`)

// checkFreeText bounds free text (a note, a name): at most limit characters, newlines and tabs
// but no other control, bidirectional or zero-width character (checkText), nothing shaped like
// a resident ID number.
func checkFreeText(field, s string, limit int) *DecodeError {
	if !utf8.ValidString(s) {
		return refuse(ReasonBadValue, field, "not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return refuse(ReasonBadValue, field, "%d characters, the limit is %d", n, limit)
	}
	if e := checkText(field, strings.NewReplacer("\n", "", "\t", "").Replace(s)); e != nil {
		return e
	}
	if idShaped.MatchString(s) {
		// The detail does not echo the text.
		return &DecodeError{Reason: ReasonBadValue, Field: field, Detail: "holds a run of digits shaped like a resident ID number; personal ID numbers must not be written in casework text"}
	}
	return nil
}

// DecodeCasework validates one casework record and returns the canonical household event. It
// is as strict as Decode: the fields each type requires, values from the documented lists, a
// case id of the record's household, and notes without ID numbers.
func DecodeCasework(raw []byte, maxBytes int, maxFutureSkew time.Duration, now time.Time) (HouseholdEvent, *DecodeError) {
	var ev HouseholdEvent
	raw = stripWireFraming(raw)
	if maxBytes > 0 && len(raw) > maxBytes {
		return ev, refuse(ReasonTooLarge, "", "record is %d bytes, the limit is %d", len(raw), maxBytes)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return ev, refuse(ReasonMalformedJSON, "", "record is not a JSON object")
	}
	obj, perr := parseObject(trimmed)
	if perr != nil {
		return ev, perr
	}
	d := fields{obj: obj}
	var ok bool
	ev.V, ev.Feed = EventVersion, Casework
	if ev.EventID, ok = d.str("event_id", true); !ok {
		return ev, d.err
	}
	if e := checkToken("event_id", ev.EventID); e != nil {
		return ev, e
	}
	if ev.Type, ok = d.str("type", true); !ok {
		return ev, d.err
	}
	if !contains(CaseTypes, ev.Type) {
		return ev, refuse(ReasonUnknownType, "type", "%q is not a casework event type (want one of %s)", clip(ev.Type), strings.Join(CaseTypes, ", "))
	}
	if ev.HouseholdID, ok = d.str("household_id", true); !ok {
		return ev, d.err
	}
	if e := checkToken("household_id", ev.HouseholdID); e != nil {
		return ev, e
	}
	at, ok := d.str("occurred_at", true)
	if !ok {
		if d.err.Reason == ReasonBadType {
			d.err.Reason = ReasonBadTime
		}
		return ev, d.err
	}
	var e *DecodeError
	if ev.OccurredAt, e = checkOccurredAt(at, maxFutureSkew, now); e != nil {
		return ev, e
	}
	c := &CaseAction{}
	ev.Case = c
	if c.CaseID, ok = d.str("case_id", true); !ok {
		return ev, d.err
	}
	ref, ok := CaseOf(ev.HouseholdID, c.CaseID)
	if !ok {
		return ev, refuse(ReasonBadValue, "case_id", "%q is not a case of household_id (want the household id, a dash and the episode number, or -v- and the application id, or -r- or -s- and the month)", clip(c.CaseID))
	}
	if c.Actor, ok = d.str("actor", false); !ok {
		return ev, d.err
	}
	if e := checkFreeText("actor", c.Actor, MaxNameRunes); e != nil {
		return ev, e
	}
	if c.Note, ok = d.str("note", false); !ok {
		return ev, d.err
	}
	if e := checkFreeText("note", c.Note, MaxNoteRunes); e != nil {
		return ev, e
	}
	switch ev.Type {
	case CaseAssign:
		if c.Assignee, ok = d.str("assignee", true); !ok {
			return ev, d.err
		}
		if e := checkFreeText("assignee", c.Assignee, MaxNameRunes); e != nil {
			return ev, e
		}
	case CaseVisit:
		vs, ok := d.str("visited_at", true)
		if !ok {
			return ev, d.err
		}
		t, e := checkOccurredAt(vs, maxFutureSkew, now)
		if e != nil {
			e.Field = "visited_at"
			e.Detail = strings.Replace(e.Detail, "occurred_at", "visited_at", 1)
			return ev, e
		}
		c.VisitedAt = &t
		if c.Outcome, ok = d.enum("outcome", true, OutcomesOf(ref.Kind)...); !ok {
			return ev, d.err
		}
		switch c.Outcome {
		case OutcomeAidGranted:
			if c.Program, ok = d.enum("program", true, Programs...); !ok {
				return ev, d.err
			}
		case OutcomeNotNeeded:
			if c.Reason, ok = d.enum("reason", true, NotNeededReasons...); !ok {
				return ev, d.err
			}
		}
		if c.Outcome != OutcomeAidGranted && present(d.obj, "program") {
			return ev, refuse(ReasonBadValue, "program", "only an aid_granted visit names a program")
		}
		if c.Outcome != OutcomeNotNeeded && present(d.obj, "reason") {
			return ev, refuse(ReasonBadValue, "reason", "only a not_needed visit gives a reason")
		}
	case CaseClose:
		if c.Reason, ok = d.enum("reason", true, CloseReasons...); !ok {
			return ev, d.err
		}
	}
	return ev, nil
}

// present reports whether obj has a non-null, non-empty member name.
func present(obj map[string]json.RawMessage, name string) bool {
	v, ok := obj[name]
	return ok && string(v) != "null" && string(v) != `""`
}

// CaseworkRecord is a casework event as the feed carries it (what DecodeCasework reads): the
// API produces these, and so may an external case-management system.
type CaseworkRecord struct {
	EventID     string     `json:"event_id"`
	Type        string     `json:"type"`
	HouseholdID string     `json:"household_id"`
	CaseID      string     `json:"case_id"`
	OccurredAt  time.Time  `json:"occurred_at"`
	Actor       string     `json:"actor,omitempty"`
	Assignee    string     `json:"assignee,omitempty"`
	VisitedAt   *time.Time `json:"visited_at,omitempty"`
	Outcome     string     `json:"outcome,omitempty"`
	Program     string     `json:"program,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	Note        string     `json:"note,omitempty"`
}
