package household

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"

	"safetynet/scorer"
	"safetynet/scorer/declare"
	"safetynet/stream/feed"
)

// The casework section of the stored household and the CaseAlert, AlertRef and Alert methods
// are written with github.com/goccy/go-json: its bytes must be encoding/json's, and each must read
// what the other wrote, for random casework with awkward strings, numbers and times.
func TestLevelsJSONSameBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 3))
	strs := []string{"", "none", "high", "a<b>&c", "案件 外访", "line\nbreak\t\"q\"", "\u2028\u2029", "\x01", "é", "🙂"}
	str := func() string { return strs[r.IntN(len(strs))] + strs[r.IntN(len(strs))] }
	nums := []float64{0, 1, -1, 0.1, 1e-7, 123.456, 1e20, 1e21, 1e-6, math.MaxFloat64, 5e-324, 72.5}
	num := func() float64 { return nums[r.IntN(len(nums))] * float64(1-2*r.IntN(2)) }
	tm := func() time.Time {
		if r.IntN(4) == 0 {
			return time.Time{}
		}
		t := time.Unix(r.Int64N(4e9), r.Int64N(1e9)*int64(r.IntN(2))).UTC()
		if r.IntN(3) == 0 {
			t = t.In(time.FixedZone("", 8*3600))
		}
		return t
	}
	for i := range 2000 {
		cw := &Casework{}
		for range r.IntN(3) {
			c := Case{ID: str(), Kind: str(), Episode: r.IntN(9), Level: str(), Status: str(), OpenedAt: tm(), DueBy: tm(),
				Assignee: str(), VisitedAt: tm(), Outcome: str(), Program: str(), Reason: str(), ClosedAt: tm(), ClosedAs: str(), CloseReason: str()}
			if r.IntN(2) == 0 {
				c.Triggers = []string{str(), str()}
			}
			for range r.IntN(4) {
				c.Alerts = append(c.Alerts, CaseAlert{AlertID: str(), Status: str(), Level: str(), Score: num(), At: tm()})
			}
			for range r.IntN(3) {
				a := CaseAction{EventID: str(), Type: str(), At: tm(), CaseAction: feed.CaseAction{CaseID: str(), Actor: str(), Note: str(), Outcome: str()}}
				if r.IntN(2) == 0 {
					v := tm()
					a.VisitedAt = &v
				}
				c.Actions = append(c.Actions, a)
			}
			cw.Cases = append(cw.Cases, c)
		}
		if r.IntN(2) == 0 {
			cw.Snooze = &Snooze{Until: tm(), Level: str(), Score: num(), CaseID: str()}
		}
		if r.IntN(2) == 0 {
			cw.Aid = &Aid{Program: str(), Since: tm(), CaseID: str()}
		}
		// the methods' own output: the types without the methods
		type plainRef AlertRef
		type plainCaseAlert CaseAlert
		ref := plainRef{AlertID: str(), Status: str(), Level: str(), Score: num(), EmittedAt: tm()}
		ca := plainCaseAlert{AlertID: str(), Status: str(), Level: str(), Score: num(), At: tm()}
		type plainAlert Alert
		al := plainAlert{AlertID: str(), HouseholdID: str(), AreaCode: str(), Status: str(), Level: str(), PreviousLevel: str(),
			Episode: r.IntN(9), Score: num(), Threshold: num(), Summary: str(), ModelVersion: str(), EventTime: tm(), AssessedAt: tm(),
			SnoozeBroken: str(), EmittedAt: tm(),
			Cause: Cause{Kind: str(), EventID: str(), Feed: str(), Topic: str(), Partition: r.IntN(3), Offset: r.Int64N(1 << 40), FromModel: str(), ToModel: str()}}
		for range r.IntN(7) {
			al.Dimensions = append(al.Dimensions, scorer.DimensionScore{Name: str(), Score: num(), Weight: num()})
			al.Reasons = append(al.Reasons, scorer.Reason{Code: str(), Dimension: str(), Points: num(), Contribution: num(), ZH: str(), EN: str()})
		}
		for range r.IntN(2) {
			al.Triggers = append(al.Triggers, scorer.Trigger{Code: str(), Level: str()})
			al.Eligibility = append(al.Eligibility, declare.EligibilityReason{Code: str(), Member: str(), Found: num(), Line: num(),
				Months: r.IntN(13), FactDate: str(), ZH: str(), EN: str()})
		}
		for _, v := range []any{cw, ref, ca, al} {
			std, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gojson.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(std, got) {
				t.Fatalf("value %d: goccy/go-json wrote\n%s\nencoding/json wrote\n%s", i, got, std)
			}
			a, b := reflect.New(reflect.TypeOf(v)), reflect.New(reflect.TypeOf(v))
			if err := json.Unmarshal(std, a.Interface()); err != nil {
				t.Fatal(err)
			}
			if err := gojson.Unmarshal(std, b.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a.Interface(), b.Interface()) {
				t.Fatalf("value %d: the libraries read %s differently", i, std)
			}
		}
	}
}
