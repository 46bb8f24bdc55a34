package household

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"safetynet/scorer"
	"safetynet/scorer/declare"
	"safetynet/stream/feed"
)

// Declarations on a household: its aid applications (the facts of the applications feed,
// merged by application id), the verifications their checks published, and the false
// declarations a caseworker confirmed. Like the facts, applications are a set: the same events
// give the same state whatever order they arrived in.

// Caps on what a household keeps.
const (
	keepAssets        = 32 // registration facts per person
	keepFunds         = 12 // deposit and provident fund facts per person
	keepApplications  = 10
	keepAppFacts      = 8 // facts per application
	keepVerifications = 30
)

// Declarations is a household's declaration state; nil until its first application.
type Declarations struct {
	Applications      []Application      `json:"applications,omitempty"` // oldest first
	Verifications     []VerificationRef  `json:"verifications,omitempty"`
	FalseDeclarations []FalseDeclaration `json:"false_declarations,omitempty"`
}

// Application is one application: its facts (submitted, withdrawn, decided) oldest first.
type Application struct {
	ID    string    `json:"id"`
	Facts []AppFact `json:"facts"`
}

// AppFact is one applications event.
type AppFact struct {
	At        time.Time        `json:"at"`
	ID        string           `json:"id"`
	Type      string           `json:"ty"`
	Applicant string           `json:"ap"` // person key
	App       feed.Application `json:"a"`
}

// compareAppFacts orders an application's facts by stamp, as a person's (stampOrder).
func compareAppFacts(a, b AppFact) int { return stampOrder(a.At, a.ID, b.At, b.ID) }

// VerificationRef is a published verification of an application.
type VerificationRef struct {
	VerificationID string    `json:"verification_id"`
	ApplicationID  string    `json:"application_id"`
	Seq            int       `json:"seq"`
	Result         string    `json:"result"`
	Fingerprint    string    `json:"fingerprint"` // of the result and discrepancies: a re-check that finds the same publishes nothing
	SubmittedAt    time.Time `json:"submitted_at"`
}

// FalseDeclaration is a false declaration a caseworker confirmed on a verification case.
type FalseDeclaration struct {
	ApplicationID  string    `json:"application_id"`
	VerificationID string    `json:"verification_id"`
	CaseID         string    `json:"case_id"`
	ConfirmedAt    time.Time `json:"confirmed_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	Codes          []string  `json:"codes,omitempty"` // the discrepancy codes of the check
}

// Submitted returns the newest submitted fact of the application, or nil.
func (a *Application) Submitted() *AppFact {
	for i := len(a.Facts) - 1; i >= 0; i-- {
		if a.Facts[i].Type == feed.AppSubmitted {
			return &a.Facts[i]
		}
	}
	return nil
}

// Status is the application's status: withdrawn, approved, rejected or submitted (the newest
// fact decides).
func (a *Application) Status() string {
	if len(a.Facts) == 0 {
		return ""
	}
	last := a.Facts[len(a.Facts)-1]
	switch last.Type {
	case feed.AppDecided:
		return last.App.Decision
	case feed.AppWithdrawn:
		return feed.AppWithdrawn
	}
	return feed.AppSubmitted
}

// applyApplication adds an applications event; false when it was applied before.
func (h *Household) applyApplication(e *feed.HouseholdEvent) (bool, error) {
	if e.Application == nil || e.Application.ApplicationID == "" {
		return false, fmt.Errorf("event %s: application_id: required", e.EventID)
	}
	if h.Declarations == nil {
		h.Declarations = &Declarations{}
	}
	d := h.Declarations
	var a *Application
	for i := range d.Applications {
		if d.Applications[i].ID == e.Application.ApplicationID {
			a = &d.Applications[i]
		}
	}
	if a == nil {
		d.Applications = append(d.Applications, Application{ID: e.Application.ApplicationID})
		a = &d.Applications[len(d.Applications)-1]
	}
	f := AppFact{At: e.OccurredAt.UTC(), ID: e.EventID, Type: e.Type, Applicant: e.PersonKey, App: *e.Application}
	i, found := slices.BinarySearchFunc(a.Facts, f, compareAppFacts)
	if found {
		return false, nil
	}
	a.Facts = slices.Insert(a.Facts, i, f)
	if len(a.Facts) > keepAppFacts {
		a.Facts = slices.Clone(a.Facts[len(a.Facts)-keepAppFacts:])
	}
	if len(d.Applications) > keepApplications { // drop the one whose newest fact is oldest
		slices.SortStableFunc(d.Applications, func(x, y Application) int {
			return x.Facts[len(x.Facts)-1].At.Compare(y.Facts[len(y.Facts)-1].At)
		})
		d.Applications = slices.Clone(d.Applications[len(d.Applications)-keepApplications:])
	}
	if f.At.After(h.Updated) {
		h.Updated = f.At
	}
	return true, nil
}

// Application returns the household's application id, or nil.
func (h *Household) Application(id string) *Application {
	if h.Declarations == nil {
		return nil
	}
	for i := range h.Declarations.Applications {
		if h.Declarations.Applications[i].ID == id {
			return &h.Declarations.Applications[i]
		}
	}
	return nil
}

// Records folds the household's facts dated at or before at into what a declaration check
// compares with: the registry members then, and their income and assets.
func (h *Household) Records(at time.Time) declare.Records {
	var out declare.Records
	keys := make([]string, 0, len(h.Persons))
	for k := range h.Persons {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := h.Persons[k].asOf(at)
		m, member := p.member(k)
		if m.Died != nil {
			member = false
		}
		r := declare.RecordMember{Key: k, Masked: p.Masked}
		if e := m.Employment; member && e != nil && e.Employed && e.MonthlyWage > 0 {
			r.Wage = &declare.Dated{Amount: e.MonthlyWage, At: e.Since}
		}
		if pn := foldPension(p.Pension); pn != nil && pn.Status == scorer.PensionActive && pn.MonthlyAmount > 0 {
			r.Pension = &declare.Dated{Amount: pn.MonthlyAmount, At: pn.Since}
		}
		foldAssets(p, &r)
		if member {
			out.Members = append(out.Members, r)
		} else if len(r.Vehicles)+len(r.Properties)+len(r.Businesses) > 0 || r.Deposits != nil {
			out.Others = append(out.Others, r)
		}
	}
	return out
}

// asOf is the person with only the facts dated at or before at.
func (p *Person) asOf(at time.Time) *Person {
	cut := func(l []Fact) []Fact {
		i := len(l)
		for i > 0 && l[i-1].At.After(at) {
			i--
		}
		return l[:i]
	}
	return &Person{Masked: p.Masked, Registry: cut(p.Registry), Employment: cut(p.Employment), Pension: cut(p.Pension),
		Disability: cut(p.Disability), Hospital: cut(p.Hospital), Assets: cut(p.Assets), Funds: cut(p.Funds)}
}

// foldAssets folds a person's asset facts: registrations held (the newest fact per asset id
// decides), the latest deposits and provident fund payment.
func foldAssets(p *Person, r *declare.RecordMember) {
	type held struct {
		kind string
		h    declare.Holding
		on   bool
	}
	var order []string
	byID := map[string]*held{}
	for _, f := range p.Assets { // oldest first
		k := f.AssetID
		x := byID[k]
		if x == nil {
			x = &held{}
			byID[k] = x
			order = append(order, k)
		}
		switch f.Type {
		case feed.VehicleRegistered, feed.PropertyRegistered, feed.BusinessRegistered:
			x.kind, x.on, x.h = f.Type, true, declare.Holding{AssetID: k, At: f.At}
		default:
			x.on = false
		}
	}
	for _, k := range order {
		x := byID[k]
		if !x.on {
			continue
		}
		switch x.kind {
		case feed.VehicleRegistered:
			r.Vehicles = append(r.Vehicles, x.h)
		case feed.PropertyRegistered:
			r.Properties = append(r.Properties, x.h)
		case feed.BusinessRegistered:
			r.Businesses = append(r.Businesses, x.h)
		}
	}
	for _, f := range p.Funds {
		switch {
		case f.Type == feed.DepositsReported && f.Balance != nil:
			r.Deposits = &declare.Dated{Amount: *f.Balance, At: f.At}
		case f.Type == feed.ProvidentFundPaid && f.Contribution != nil:
			r.Provident = &declare.Dated{Amount: *f.Contribution, At: f.At}
		}
	}
}

// Verification kinds.
const (
	VerificationCheck            = "check"             // the result of a declaration check
	VerificationFalseDeclaration = "false_declaration" // a caseworker confirmed a false declaration
)

// Verification is one message on the verifications topic, keyed by household id. Subscribers
// (the agency, the credit system) deduplicate by VerificationID.
type Verification struct {
	VerificationID string                `json:"verification_id"`
	Kind           string                `json:"kind"`
	HouseholdID    string                `json:"household_id"`
	AreaCode       string                `json:"area_code,omitempty"`
	ApplicationID  string                `json:"application_id"`
	Program        string                `json:"program"`
	SubmittedAt    time.Time             `json:"submitted_at"`
	Result         string                `json:"result"`
	Discrepancies  []declare.Discrepancy `json:"discrepancies"`
	Supersedes     string                `json:"supersedes,omitempty"` // the verification this one replaces
	CaseID         string                `json:"case_id,omitempty"`    // false_declaration: the verification case
	CheckID        string                `json:"check_id,omitempty"`   // false_declaration: the check it confirms
	Codes          []string              `json:"codes,omitempty"`      // false_declaration: the discrepancy codes confirmed
	ConfirmedAt    time.Time             `json:"confirmed_at,omitzero"`
	ExpiresAt      time.Time             `json:"expires_at,omitzero"`
	ModelVersion   string                `json:"model_version"`
	CheckedAt      time.Time             `json:"checked_at"` // monitor clock when the check ran
	EmittedAt      time.Time             `json:"emitted_at"`
}

// VerificationID is the id of the seq-th verification of an application.
func VerificationID(householdID, applicationID, kind string, seq int) string {
	h := sha256.New()
	fmt.Fprintf(h, "verification\x00%s\x00%s\x00%s\x00%d", householdID, applicationID, kind, seq)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// LatestVerification returns the newest verification of the application, or nil.
func (h *Household) LatestVerification(applicationID string) *VerificationRef {
	if h.Declarations == nil {
		return nil
	}
	vs := h.Declarations.Verifications
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].ApplicationID == applicationID {
			return &vs[i]
		}
	}
	return nil
}

// CheckApplication checks the declaration of the application's newest submission against the
// records as of its date, and returns the verification to publish: nil when the application
// has no submission or the result is the one last published. now is the monitor clock.
func (h *Household) CheckApplication(m *scorer.Model, applicationID string, now time.Time) *Verification {
	a := h.Application(applicationID)
	if a == nil {
		return nil
	}
	sub := a.Submitted()
	if sub == nil || sub.App.Declared == nil {
		return nil
	}
	decl := declare.Declaration{Vehicles: sub.App.Declared.Vehicles, Properties: sub.App.Declared.Properties,
		FinancialAssets: sub.App.Declared.FinancialAssets, BusinessOwner: sub.App.Declared.BusinessOwner}
	for _, dm := range sub.App.Declared.Members {
		decl.Members = append(decl.Members, declare.DeclaredMember{Key: dm.PersonKey, Masked: dm.PersonMasked, MonthlyIncome: dm.MonthlyIncome})
	}
	res := declare.Check(m.Declarations(), decl, h.Records(sub.At), sub.At)
	fp := fingerprint(sub.ID, res)
	prev := h.LatestVerification(applicationID)
	if prev != nil && prev.Fingerprint == fp {
		return nil
	}
	seq := 1
	v := &Verification{Kind: VerificationCheck, HouseholdID: h.ID, AreaCode: h.AreaCode(), ApplicationID: applicationID,
		Program: sub.App.Program, SubmittedAt: sub.At, Result: res.Result, Discrepancies: res.Discrepancies,
		ModelVersion: m.Version, CheckedAt: now}
	if prev != nil {
		seq = prev.Seq + 1
		v.Supersedes = prev.VerificationID
	}
	v.VerificationID = VerificationID(h.ID, applicationID, VerificationCheck, seq)
	d := h.Declarations
	d.Verifications = append(d.Verifications, VerificationRef{VerificationID: v.VerificationID, ApplicationID: applicationID,
		Seq: seq, Result: res.Result, Fingerprint: fp, SubmittedAt: sub.At})
	if len(d.Verifications) > keepVerifications {
		d.Verifications = slices.Clone(d.Verifications[len(d.Verifications)-keepVerifications:])
	}
	return v
}

// RecheckDue lists the applications whose check a change dated at should re-run at now: those
// already checked, not withdrawn, submitted on or after at, and within the model's re-check
// window of their submission.
func (h *Household) RecheckDue(m *scorer.Model, at, now time.Time) []string {
	if h.Declarations == nil {
		return nil
	}
	window := m.Declarations().RecheckWindow
	var out []string
	for i := range h.Declarations.Applications {
		a := &h.Declarations.Applications[i]
		sub := a.Submitted()
		if sub == nil || a.Status() == feed.AppWithdrawn || h.LatestVerification(a.ID) == nil {
			continue
		}
		if at.After(sub.At) || now.Sub(sub.At) > window {
			continue
		}
		out = append(out, a.ID)
	}
	return out
}

func fingerprint(submission string, res declare.DeclarationCheck) string {
	b, _ := json.Marshal(res)
	s := sha256.Sum256(append([]byte(submission+"\x00"), b...))
	return hex.EncodeToString(s[:16])
}
