package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/household"
)

// Role and area checks, with the caller set on the request as the authentication will.
func TestCaseCallerChecks(t *testing.T) {
	store, err := state.Open(state.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	h := household.New("H-1", 0)
	h.Episode, h.Open, h.Level = 1, true, "watch"
	h.NoteAlert(household.CaseAlertInfo{Alert: household.CaseAlert{AlertID: "a", Status: household.StatusRaised, Level: "watch", At: at}, Episode: 1})
	v, _ := household.Encode(h)
	if err := store.Update(func(tx *state.Tx) error {
		if err := tx.PutHousehold(h.ID, v); err != nil {
			return err
		}
		// Index entries of two areas, as households with area codes would have.
		for i, area := range []string{"420106001", "430102002"} {
			s := h.CaseSummary(&h.Casework.Cases[0])
			s.CaseID, s.Area = s.CaseID+string(rune('a'+i)), area
			b, _ := json.Marshal(s)
			if err := tx.IndexCase(at.Add(time.Duration(i)*time.Hour), s.CaseID, b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	produced := 0
	// One named caller per role and area of the cases below, each with its own token.
	var callers []Caller
	tokens := map[caller]string{}
	for i, c := range []caller{
		{Name: "w", Role: RoleCaseworker}, {Role: RoleAuditor}, {Role: RoleOperator}, {Role: RoleSupervisor},
		{Role: RoleSupervisor, AreaPrefix: "4301"}, {Role: RoleCaseworker, AreaPrefix: "4301"},
	} {
		tok := fmt.Sprintf("c%02d-7f3a9c01d2e4b5a6978877665544a1b2", i)
		name := fmt.Sprintf("%s-%d", c.Role, i)
		cl, err := NewCaller(name, tok, c.Role, c.AreaPrefix)
		if err != nil {
			t.Fatal(err)
		}
		callers = append(callers, cl)
		tokens[c] = tok
	}
	var audited int
	a := New(Config{Callers: callers, Auditor: auditFunc(func(AuditRecord) { audited++ }), Now: func() time.Time { return at }, Casework: func(context.Context, []byte, []byte) error {
		produced++
		return nil
	}}, store, scorer.Default(), prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	do := func(c caller, method, path, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokens[caller{Name: c.Name, Role: c.Role, AreaPrefix: c.AreaPrefix}])
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	worker := caller{Name: "w", Role: RoleCaseworker}
	for _, tc := range []struct {
		name         string
		c            caller
		method, path string
		body         string
		code         int
		want         string
	}{
		{"caseworker may not close", worker, "POST", "/v1/cases/H-1-1/close", `{"reason":"other"}`, 403, "role"},
		{"auditor may not act", caller{Role: RoleAuditor}, "POST", "/v1/cases/H-1-1/assign", `{"assignee":"x"}`, 403, "role"},
		{"operator may not read cases", caller{Role: RoleOperator}, "GET", "/v1/cases", "", 403, "role"},
		{"caseworker may not read stats", worker, "GET", "/v1/stats", "", 403, "role"},
		{"another area sees no case", caller{Role: RoleSupervisor, AreaPrefix: "4301"}, "GET", "/v1/cases/H-1-1", "", 404, "case_id"},
		{"unknown body field", worker, "POST", "/v1/cases/H-1-1/assign", `{"assignee":"x","color":"red"}`, 400, "color"},
		{"list filtered by the caller's area", caller{Role: RoleCaseworker, AreaPrefix: "4301"}, "GET", "/v1/cases", "", 200, "H-1-1b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(tc.c, tc.method, tc.path, tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("%d %s, want %d with %q", code, body, tc.code, tc.want)
			}
		})
	}
	if _, body := do(caller{Role: RoleCaseworker, AreaPrefix: "4301"}, "GET", "/v1/cases", ""); strings.Contains(body, "H-1-1a") {
		t.Errorf("list shows a case of another area: %s", body)
	}
	if _, body := do(caller{Role: RoleSupervisor}, "GET", "/v1/cases?area=4201", ""); !strings.Contains(body, "H-1-1a") || strings.Contains(body, "H-1-1b") {
		t.Errorf("area filter: %s", body)
	}
	if produced != 0 {
		t.Errorf("%d actions produced by refused requests", produced)
	}
	if audited == 0 {
		t.Error("no casework request was audited")
	}
}

// auditFunc is an in-memory audit trail (the Kafka one is tested with a broker in api_test.go).
type auditFunc func(AuditRecord)

func (f auditFunc) Record(_ context.Context, rec AuditRecord) error { f(rec); return nil }
