package feed

import (
	"time"

	json "github.com/goccy/go-json"
)

// The household event crosses the household-events topic as JSON (the topic's contract; tests
// and tools read it with encoding/json). It is written and read with github.com/goccy/go-json,
// which writes the bytes encoding/json writes for this struct and reads what encoding/json
// reads (tests and a fuzz target hold it to that), without encoding/json's per-call reflection.
// A hand-written codec saved no CPU over it end to end; see docs/performance.md.

// AppendHouseholdEvent appends ev as json.Marshal would write it. On error b is returned
// unchanged.
func AppendHouseholdEvent(b []byte, ev *HouseholdEvent) ([]byte, error) {
	v, err := json.Marshal(encodable(ev))
	if err != nil {
		return b, err
	}
	if len(b) == 0 {
		return v, nil
	}
	return append(b, v...), nil
}

// encodable is what the library is given for ev: a set ProducedAt goes through the twin type.
// The same bytes (omitzero leaves a non-zero time in), but the library checks omitzero by
// calling IsZero through reflection, a fifth of the encoding's time; the twin has no omitzero.
func encodable(ev *HouseholdEvent) any {
	if ev.ProducedAt.IsZero() {
		return ev
	}
	return (*householdEventProduced)(ev)
}

// EventEncoder writes many household events into one buffer it owns, with one library encoder:
// no allocation per event once the buffer has grown to a batch's size. Not safe for concurrent
// use.
type EventEncoder struct {
	enc *json.Encoder
	buf []byte
}

// NewEventEncoder returns an encoder with an empty buffer.
func NewEventEncoder() *EventEncoder {
	e := &EventEncoder{}
	e.enc = json.NewEncoder((*eventEncoderSink)(e))
	return e
}

type eventEncoderSink EventEncoder

func (s *eventEncoderSink) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// Encode returns ev as AppendHouseholdEvent(nil, ev) would, in the encoder's buffer. The slice
// stays valid (a later Encode appends after it, into a new array when the buffer is full) until
// Reset.
func (e *EventEncoder) Encode(ev *HouseholdEvent) ([]byte, error) {
	start := len(e.buf)
	if err := e.enc.Encode(encodable(ev)); err != nil {
		e.buf = e.buf[:start]
		return nil, err
	}
	e.buf = e.buf[:len(e.buf)-1] // the newline the library's Encode adds
	return e.buf[start:len(e.buf):len(e.buf)], nil
}

// Reset lets the next Encode reuse the buffer: every slice returned before must be out of use.
func (e *EventEncoder) Reset() { e.buf = e.buf[:0] }

// DecodeHouseholdEvent reads a household event as json.Unmarshal into a zero HouseholdEvent
// would.
func DecodeHouseholdEvent(data []byte, ev *HouseholdEvent) error {
	*ev = HouseholdEvent{}
	return json.Unmarshal(data, ev)
}

// householdEventProduced is HouseholdEvent with produced_at always written (AppendHouseholdEvent
// uses it when ProducedAt is set). The conversion between the two compiles only while their
// fields are the same; TestHouseholdEventCodecMatchesEncodingJSON checks the bytes.
type householdEventProduced struct {
	V            int       `json:"v"`
	EventID      string    `json:"event_id"` // the agency's id, unique within the feed
	Feed         string    `json:"feed"`
	Type         string    `json:"type"`
	HouseholdID  string    `json:"household_id"`
	PersonKey    string    `json:"person_key"`
	PersonMasked string    `json:"person_masked"`
	OccurredAt   time.Time `json:"occurred_at"`
	Source       Source    `json:"source"`
	// ProducedAt is the feed record's timestamp (when the agency produced it), and IngestedAt
	// when intake accepted the event (wall clock); both for latency measurement.
	ProducedAt time.Time `json:"produced_at"`
	IngestedAt time.Time `json:"ingested_at"`

	// Type-specific fields; nil when the feed does not carry them.
	BirthDate       *time.Time `json:"birth_date,omitempty"` // registry
	Sex             string     `json:"sex,omitempty"`
	Relation        string     `json:"relation,omitempty"`
	AreaCode        string     `json:"area_code,omitempty"`    // registry: 12-digit statistical division code
	AdmissionID     string     `json:"admission_id,omitempty"` // hospital
	ICD10           string     `json:"icd10,omitempty"`
	CriticalIllness *bool      `json:"critical_illness,omitempty"`
	TotalCost       *float64   `json:"total_cost,omitempty"`
	InsuredCost     *float64   `json:"insured_cost,omitempty"`
	OutOfPocket     *float64   `json:"out_of_pocket,omitempty"`
	MonthlyAmount   *float64   `json:"monthly_amount,omitempty"` // pension
	MonthlyWage     *float64   `json:"monthly_wage,omitempty"`   // employment
	Registered      *bool      `json:"registered,omitempty"`
	Grade           *int       `json:"grade,omitempty"` // disability
	Kind            string     `json:"kind,omitempty"`
	// assets
	AssetID             string   `json:"asset_id,omitempty"`
	Value               *float64 `json:"value,omitempty"`
	Balance             *float64 `json:"balance,omitempty"`
	MonthlyContribution *float64 `json:"monthly_contribution,omitempty"`

	// Application is what an applications event carries; nil for the other feeds.
	Application *Application `json:"application,omitempty"`

	// Case is the action of a casework event (feed casework); nil for the other feeds.
	Case *CaseAction `json:"case,omitempty"`
}
