package household

import (
	"encoding/binary"
	"errors"
	"fmt"

	json "github.com/goccy/go-json"

	"safetynet/stream/feed"
)

// The casework and declaration parts of the stored household.
//
// Versions 3 and 4 wrote each as a length-prefixed JSON document (empty for none), read here
// with github.com/goccy/go-json. Version 5 writes both in the binary layout of the rest of the
// household: every batch decodes and encodes the casework of the households it touches, and a
// household's cases grow with its alerts and visits, so the JSON documents were the part of the
// codec that grew most with history (docs/performance.md, eleventh round).
//
// Binary layout (the household's primitives: uvarint counts and lengths, zigzag varints, IEEE
// 754 floats, times as seconds and nanoseconds): a presence byte, 0 for none, then
//
//	casework: cases (count, then case), snooze (presence, until, level, score, triggers, case
//	id), aid (presence, program, since, case id, application id, review from, review due,
//	until, ended by), spot checked.
//	case: id, kind, episode, level, status, triggers, opened at, due by, assignee, visited at,
//	outcome, program, reason, closed at, closed as, close reason, application id,
//	verification id, month, draw (presence, seed, month, share, value, area), alerts (count,
//	then alert id, status, level, score, at), actions (count, then event id, type, at, case
//	id, actor, assignee, visited at (presence, time), outcome, program, reason, note).
//	declarations: applications (count, then id, facts: count, then at, id, type, applicant,
//	application id, program, commitment signed (0 none, 1 false, 2 true), declared (presence,
//	members: count, then key, masked, monthly income; vehicles, properties, financial assets,
//	business owner), decision, monthly benefit (presence, float)), verifications (count, then
//	verification id, application id, seq, result, fingerprint, submitted at), false
//	declarations (count, then application id, verification id, case id, confirmed at, expires
//	at, codes).
//
// Strings are read like the household's (substrings of the value), and a list of length zero
// reads as nil, as omitempty JSON did.

func appendCasework(b []byte, cw *Casework, version byte) ([]byte, error) {
	if version < householdBinaryV5 {
		return appendJSON(b, "casework", cw)
	}
	if b = appendBool(b, cw != nil); cw == nil {
		return b, nil
	}
	b = binary.AppendUvarint(b, uint64(len(cw.Cases)))
	for i := range cw.Cases {
		b = appendCase(b, &cw.Cases[i], version)
	}
	b = appendBool(b, cw.Snooze != nil)
	if s := cw.Snooze; s != nil {
		b = appendTime(b, s.Until)
		b = appendString(b, s.Level)
		b = appendFloat(b, s.Score)
		b = appendStrings(b, s.Triggers)
		b = appendString(b, s.CaseID)
	}
	b = appendBool(b, cw.Aid != nil)
	if a := cw.Aid; a != nil {
		b = appendString(b, a.Program)
		b = appendTime(b, a.Since)
		b = appendString(b, a.CaseID)
		b = appendString(b, a.ApplicationID)
		b = appendTime(b, a.ReviewFrom)
		b = appendTime(b, a.ReviewDue)
		b = appendTime(b, a.Until)
		b = appendString(b, a.EndedBy)
	}
	return appendString(b, cw.SpotChecked), nil
}

func appendCase(b []byte, c *Case, version byte) []byte {
	b = appendString(b, c.ID)
	b = appendString(b, c.Kind)
	b = binary.AppendVarint(b, int64(c.Episode))
	b = appendString(b, c.Level)
	b = appendString(b, c.Status)
	b = appendStrings(b, c.Triggers)
	b = appendTime(b, c.OpenedAt)
	b = appendTime(b, c.DueBy)
	b = appendString(b, c.Assignee)
	b = appendTime(b, c.VisitedAt)
	b = appendString(b, c.Outcome)
	b = appendString(b, c.Program)
	b = appendString(b, c.Reason)
	b = appendTime(b, c.ClosedAt)
	b = appendString(b, c.ClosedAs)
	b = appendString(b, c.CloseReason)
	b = appendString(b, c.ApplicationID)
	b = appendString(b, c.VerificationID)
	b = appendString(b, c.Month)
	b = appendBool(b, c.Draw != nil)
	if d := c.Draw; d != nil {
		b = appendString(b, d.Seed)
		b = appendString(b, d.Month)
		b = appendFloat(b, d.Share)
		b = appendFloat(b, d.Value)
		b = appendString(b, d.Area)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Alerts)))
	for _, a := range c.Alerts {
		b = appendAlertEntry(b, a.AlertID, a.Status, a.Level, a.Score, a.At, version)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Actions)))
	for i := range c.Actions {
		a := &c.Actions[i]
		b = appendString(b, a.EventID)
		b = appendString(b, a.Type)
		b = appendTime(b, a.At)
		b = appendString(b, a.CaseID)
		b = appendString(b, a.Actor)
		b = appendString(b, a.Assignee)
		if b = appendBool(b, a.VisitedAt != nil); a.VisitedAt != nil {
			b = appendTime(b, *a.VisitedAt)
		}
		b = appendString(b, a.Outcome)
		b = appendString(b, a.Program)
		b = appendString(b, a.Reason)
		b = appendString(b, a.Note)
	}
	return b
}

func appendDeclarations(b []byte, ds *Declarations, version byte) ([]byte, error) {
	if version < householdBinaryV5 {
		return appendJSON(b, "declarations", ds)
	}
	if b = appendBool(b, ds != nil); ds == nil {
		return b, nil
	}
	b = binary.AppendUvarint(b, uint64(len(ds.Applications)))
	for _, a := range ds.Applications {
		b = appendString(b, a.ID)
		b = binary.AppendUvarint(b, uint64(len(a.Facts)))
		for i := range a.Facts {
			b = appendAppFact(b, &a.Facts[i])
		}
	}
	b = binary.AppendUvarint(b, uint64(len(ds.Verifications)))
	for _, v := range ds.Verifications {
		b = appendString(b, v.VerificationID)
		b = appendString(b, v.ApplicationID)
		b = binary.AppendVarint(b, int64(v.Seq))
		b = appendString(b, v.Result)
		b = appendString(b, v.Fingerprint)
		b = appendTime(b, v.SubmittedAt)
	}
	b = binary.AppendUvarint(b, uint64(len(ds.FalseDeclarations)))
	for _, f := range ds.FalseDeclarations {
		b = appendString(b, f.ApplicationID)
		b = appendString(b, f.VerificationID)
		b = appendString(b, f.CaseID)
		b = appendTime(b, f.ConfirmedAt)
		b = appendTime(b, f.ExpiresAt)
		b = appendStrings(b, f.Codes)
	}
	return b, nil
}

func appendAppFact(b []byte, f *AppFact) []byte {
	b = appendTime(b, f.At)
	b = appendString(b, f.ID)
	b = appendString(b, f.Type)
	b = appendString(b, f.Applicant)
	a := &f.App
	b = appendString(b, a.ApplicationID)
	b = appendString(b, a.Program)
	switch {
	case a.CommitmentSigned == nil:
		b = append(b, 0)
	case *a.CommitmentSigned:
		b = append(b, 2)
	default:
		b = append(b, 1)
	}
	b = appendBool(b, a.Declared != nil)
	if d := a.Declared; d != nil {
		b = binary.AppendUvarint(b, uint64(len(d.Members)))
		for _, m := range d.Members {
			b = appendString(b, m.PersonKey)
			b = appendString(b, m.PersonMasked)
			b = appendFloat(b, m.MonthlyIncome)
		}
		b = binary.AppendVarint(b, int64(d.Vehicles))
		b = binary.AppendVarint(b, int64(d.Properties))
		b = appendFloat(b, d.FinancialAssets)
		b = appendBool(b, d.BusinessOwner)
	}
	b = appendString(b, a.Decision)
	if b = appendBool(b, a.MonthlyBenefit != nil); a.MonthlyBenefit != nil {
		b = appendFloat(b, *a.MonthlyBenefit)
	}
	return b
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// casework reads the casework part of a value of version.
func (d *decoder) casework(version byte) *Casework {
	if version < householdBinaryV5 {
		return readJSON[Casework](d, "casework")
	}
	if !d.present() {
		return nil
	}
	cw := &Casework{}
	if n := d.count(); n > 0 {
		cw.Cases = make([]Case, n)
		for i := range cw.Cases {
			d.readCase(&cw.Cases[i])
		}
	}
	if d.present() {
		cw.Snooze = &Snooze{Until: d.time(), Level: d.string(), Score: d.float(), Triggers: d.strings(), CaseID: d.string()}
	}
	if d.present() {
		cw.Aid = &Aid{Program: d.string(), Since: d.time(), CaseID: d.string(), ApplicationID: d.string(),
			ReviewFrom: d.time(), ReviewDue: d.time(), Until: d.time(), EndedBy: d.string()}
	}
	cw.SpotChecked = d.string()
	return cw
}

func (d *decoder) readCase(c *Case) {
	c.ID, c.Kind = d.string(), d.string()
	c.Episode = int(d.varint())
	c.Level, c.Status = d.string(), d.string()
	c.Triggers = d.strings()
	c.OpenedAt, c.DueBy = d.time(), d.time()
	c.Assignee = d.string()
	c.VisitedAt = d.time()
	c.Outcome, c.Program, c.Reason = d.string(), d.string(), d.string()
	c.ClosedAt = d.time()
	c.ClosedAs, c.CloseReason = d.string(), d.string()
	c.ApplicationID, c.VerificationID, c.Month = d.string(), d.string(), d.string()
	if d.present() {
		c.Draw = &Draw{Seed: d.string(), Month: d.string(), Share: d.float(), Value: d.float(), Area: d.string()}
	}
	if n := d.count(); n > 0 {
		c.Alerts = make([]CaseAlert, n)
		for i := range c.Alerts {
			a := &c.Alerts[i]
			a.AlertID, a.Status, a.Level, a.Score, a.At = d.alertEntry()
		}
	}
	if n := d.count(); n > 0 {
		c.Actions = make([]CaseAction, n)
		for i := range c.Actions {
			a := &c.Actions[i]
			a.EventID, a.Type = d.string(), d.string()
			a.At = d.time()
			a.CaseID, a.Actor, a.Assignee = d.string(), d.string(), d.string()
			if d.present() {
				a.VisitedAt = slab(&d.times, d.time())
			}
			a.Outcome, a.Program, a.Reason, a.Note = d.string(), d.string(), d.string(), d.string()
		}
	}
}

// declarations reads the declarations part of a value of version. While d.discard is set (a
// summary) it reads them through into scratch values, allocating nothing, and returns nil.
func (d *decoder) declarations(version byte) *Declarations {
	if version < householdBinaryV5 {
		return readJSON[Declarations](d, "declarations")
	}
	if !d.present() {
		return nil
	}
	var ds Declarations
	keep := !d.discard
	var app Application
	var fact AppFact
	if n := d.count(); n > 0 {
		if keep {
			ds.Applications = make([]Application, n)
		}
		for i := range n {
			a := &app
			if keep {
				a = &ds.Applications[i]
			}
			a.ID = d.string()
			m := d.count()
			if keep && m > 0 {
				a.Facts = make([]AppFact, m)
			}
			for j := range m {
				f := &fact
				if keep {
					f = &a.Facts[j]
				}
				d.appFact(f)
			}
		}
	}
	var ver VerificationRef
	if n := d.count(); n > 0 {
		if keep {
			ds.Verifications = make([]VerificationRef, n)
		}
		for i := range n {
			v := &ver
			if keep {
				v = &ds.Verifications[i]
			}
			v.VerificationID, v.ApplicationID = d.string(), d.string()
			v.Seq = int(d.varint())
			v.Result, v.Fingerprint = d.string(), d.string()
			v.SubmittedAt = d.time()
		}
	}
	var fd FalseDeclaration
	if n := d.count(); n > 0 {
		if keep {
			ds.FalseDeclarations = make([]FalseDeclaration, n)
		}
		for i := range n {
			f := &fd
			if keep {
				f = &ds.FalseDeclarations[i]
			}
			f.ApplicationID, f.VerificationID, f.CaseID = d.string(), d.string(), d.string()
			f.ConfirmedAt, f.ExpiresAt = d.time(), d.time()
			f.Codes = d.strings()
		}
	}
	if !keep {
		return nil
	}
	return &ds
}

func (d *decoder) appFact(f *AppFact) {
	f.At = d.time()
	f.ID, f.Type, f.Applicant = d.string(), d.string(), d.string()
	a := &f.App
	a.ApplicationID, a.Program = d.string(), d.string()
	switch c := d.byte(); {
	case c > 2:
		d.fail("bad commitment")
	case c > 0 && !d.discard:
		a.CommitmentSigned = slab(&d.bools, c == 2)
	}
	if d.present() {
		var scratch feed.Declaration
		decl := &scratch
		if !d.discard {
			decl = &feed.Declaration{}
			a.Declared = decl
		}
		var member feed.DeclaredMember
		if n := d.count(); n > 0 {
			if !d.discard {
				decl.Members = make([]feed.DeclaredMember, n)
			}
			for i := range n {
				m := &member
				if !d.discard {
					m = &decl.Members[i]
				}
				m.PersonKey, m.PersonMasked = d.string(), d.string()
				m.MonthlyIncome = d.float()
			}
		}
		decl.Vehicles, decl.Properties = int(d.varint()), int(d.varint())
		decl.FinancialAssets = d.float()
		decl.BusinessOwner = d.bool()
	}
	a.Decision = d.string()
	if d.present() {
		if x := d.float(); !d.discard {
			a.MonthlyBenefit = slab(&d.floats, x)
		}
	}
}

// strings reads what appendStrings wrote; nil for none.
func (d *decoder) strings() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	if d.discard {
		for range n {
			d.string()
		}
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
}

// present reads a presence byte: 0 for none, 1 for present; any other value is damage.
func (d *decoder) present() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("bad presence byte")
		return false
	}
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = errors.New(what)
	}
}

// appendJSON appends a length-prefixed JSON document of v, empty for nil (the form of the
// casework in versions 3 and 4, and of the declarations in version 4).
func appendJSON[T any](b []byte, what string, v *T) ([]byte, error) {
	if v == nil {
		return appendString(b, ""), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	return appendString(b, string(j)), nil
}

// readJSON reads what appendJSON wrote; nil for the empty document.
func readJSON[T any](d *decoder, what string) *T {
	s := d.string()
	if s == "" || d.err != nil {
		return nil
	}
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		d.err = fmt.Errorf("%s: %w", what, err)
		return nil
	}
	return &v
}
