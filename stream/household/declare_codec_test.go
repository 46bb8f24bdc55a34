package household

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"safetynet/stream/feed"
)

func fullFact() Fact {
	f := func(v float64) *float64 { return &v }
	tr, g := true, 3
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	bd := time.Date(1970, 5, 1, 0, 0, 0, 0, time.UTC)
	return Fact{At: at, ID: "x1", Type: "t", BirthDate: &bd, Sex: "M", Relation: "head", AreaCode: "420106001001",
		AdmissionID: "a1", ICD10: "C92.0", CriticalIllness: &tr, TotalCost: f(1), InsuredCost: f(2), OutOfPocket: f(3),
		MonthlyAmount: f(4), MonthlyWage: f(5), Registered: &tr, Grade: &g, Kind: "k",
		AssetID: "veh-1", Value: f(6), Balance: f(7), Contribution: f(8)}
}

func declarationsSample() *Declarations {
	at := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	tr, benefit := true, 900.0
	app := feed.Application{ApplicationID: "app-1", Program: "dibao", CommitmentSigned: &tr,
		Declared: &feed.Declaration{Members: []feed.DeclaredMember{{PersonKey: "k1", PersonMasked: "420106***********4", MonthlyIncome: 100}},
			Vehicles: 1, Properties: 2, FinancialAssets: 300, BusinessOwner: true},
		Decision: "approved", MonthlyBenefit: &benefit}
	return &Declarations{
		Applications:      []Application{{ID: "app-1", Facts: []AppFact{{At: at, ID: "ap-1", Type: feed.AppSubmitted, Applicant: "k1", App: app}}}},
		Verifications:     []VerificationRef{{VerificationID: "v1", ApplicationID: "app-1", Seq: 1, Result: "discrepancies", Fingerprint: "f", SubmittedAt: at}},
		FalseDeclarations: []FalseDeclaration{{ApplicationID: "app-1", VerificationID: "v1", CaseID: "hh-1-v1", ConfirmedAt: at, ExpiresAt: at.AddDate(3, 0, 0), Codes: []string{"vehicle_undeclared"}}},
	}
}

// Every field of a fact, a person's new fact lists and the declarations round-trip through the
// stored form (the reflection checks fail when a field is added and left out of the sample).
func TestDeclarationsCodecRoundTrip(t *testing.T) {
	ff := fullFact()
	nonZero(t, "Fact", ff)
	d := declarationsSample()
	nonZero(t, "Declarations", *d)
	nonZero(t, "Application", d.Applications[0])
	nonZero(t, "AppFact", d.Applications[0].Facts[0])
	nonZero(t, "feed.Application", d.Applications[0].Facts[0].App)
	nonZero(t, "feed.Declaration", *d.Applications[0].Facts[0].App.Declared)
	nonZero(t, "feed.DeclaredMember", d.Applications[0].Facts[0].App.Declared.Members[0])
	nonZero(t, "VerificationRef", d.Verifications[0])
	nonZero(t, "FalseDeclaration", d.FalseDeclarations[0])
	h := codecSample()
	p := h.Persons["k1"]
	p.Assets = []Fact{ff}
	p.Funds = []Fact{ff}
	nonZero(t, "Person", *p)
	h.Casework = caseworkSample()
	h.Declarations = d
	b, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(h)
	have, _ := json.Marshal(got)
	if !bytes.Equal(have, want) {
		t.Errorf("round trip:\n got %s\nwant %s", have, want)
	}
	if _, err := Decode(b[:len(b)-3]); err == nil {
		t.Error("truncated declarations decoded without error")
	}
}
