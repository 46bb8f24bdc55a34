package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"safetynet/state"
	"safetynet/stream/api"
	"safetynet/stream/household"
)

// fixedRouter says where households are served in a test with two API instances: every
// household on owner ("" for none), or here when local.
type fixedRouter struct {
	local bool
	owner string
}

func (r *fixedRouter) Route(string) (bool, string) {
	if r.local {
		return true, ""
	}
	return false, r.owner
}
func (r *fixedRouter) Serves(string) bool { return r.local }
func (r *fixedRouter) Owners() ([]string, int, bool) {
	if r.local {
		return []string{r.owner}, 1, true
	}
	return []string{r.owner}, 1, r.owner != ""
}
func (r *fixedRouter) Self() string           { return "" }
func (r *fixedRouter) Served() []int          { return nil }
func (r *fixedRouter) PartitionOf(string) int { return 0 }

const internalTok = "e3b1c9a74f2d8e6a0b5c3f1d9e7a2c4b6d8f0a1c"

// TestUIHouseholdThroughOwner: the UI's household read on an instance that does not serve the
// household is the owner's (its view and casework, not the stale local copy); without a ready
// owner it is ErrNoReadyOwner; the casework is added only for another instance, never for a
// /v1 caller who asks for it.
func TestUIHouseholdThroughOwner(t *testing.T) {
	owner := newFixture(t, api.Config{Router: &fixedRouter{local: true}, InternalToken: internalTok})
	// The owner's copy has moved on: urgent, with an open case assigned to someone.
	h := household.New("H-IN", 0)
	h.Persons["p-H-IN"] = &household.Person{Masked: "420106***********4", Registry: []household.Fact{
		{At: now.Add(-2 * time.Hour), ID: "r-H-IN", Type: "member_joined", Relation: "head", AreaCode: "420106001001"}}}
	h.Level, h.Open, h.Episode = "urgent", true, 2
	h.Casework = &household.Casework{Cases: []household.Case{{ID: "H-IN-2", Kind: household.KindAlert, Episode: 2, Level: "urgent",
		Status: household.CaseAssigned, OpenedAt: now.Add(-time.Hour), DueBy: now.Add(48 * time.Hour), Assignee: "cw-4201"}}}
	b, err := household.Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.store.Update(func(tx *state.Tx) error { return tx.PutHousehold("H-IN", b) }); err != nil {
		t.Fatal(err)
	}
	router := &fixedRouter{owner: owner.srv.URL}
	other := newFixture(t, api.Config{Router: router, InternalToken: internalTok})
	cw, _ := other.api.CallerNamed("cw-4201")

	wantV, wantCW, err := owner.api.Household(context.Background(), cw, "H-IN")
	if err != nil {
		t.Fatal(err)
	}
	gotV, gotCW, err := other.api.Household(context.Background(), cw, "H-IN")
	if err != nil {
		t.Fatalf("household through the owner: %v", err)
	}
	if gotV.Level != "urgent" || gotCW == nil || len(gotCW.Cases) != 1 || gotCW.Cases[0].Assignee != "cw-4201" {
		t.Errorf("through the owner: level %q, casework %+v; want the owner's (urgent, one case assigned to cw-4201)", gotV.Level, gotCW)
	}
	if js(t, gotV) != js(t, wantV) || js(t, gotCW) != js(t, wantCW) {
		t.Errorf("through the owner:\n got  %+v %+v\n want %+v %+v", gotV, gotCW, wantV, wantCW)
	}
	// Outside the caller's area and unknown: ErrNoHousehold, from the owner.
	for _, id := range []string{"H-OUT", "H-NONE"} {
		if _, _, err := other.api.Household(context.Background(), cw, id); !errors.Is(err, api.ErrNoHousehold) {
			t.Errorf("%s through the owner: %v, want ErrNoHousehold", id, err)
		}
	}
	// No ready owner: never the local copy.
	router.owner = ""
	if _, _, err := other.api.Household(context.Background(), cw, "H-IN"); !errors.Is(err, api.ErrNoReadyOwner) {
		t.Errorf("without an owner: %v, want ErrNoReadyOwner", err)
	}
	var items []api.CaseItem
	if err := other.api.Cases(context.Background(), cw, api.CaseFilter{}, func(it api.CaseItem) bool { items = append(items, it); return true }); !errors.Is(err, api.ErrNoReadyOwner) {
		t.Errorf("case list without an owner of every partition: %v (%d cases), want ErrNoReadyOwner", err, len(items))
	}
	if _, err := other.api.CaseStats(context.Background(), cw, 6); !errors.Is(err, api.ErrNoReadyOwner) {
		t.Errorf("statistics without an owner of every partition: %v, want ErrNoReadyOwner", err)
	}
	// The owner unreachable: the same.
	router.owner = "http://127.0.0.1:1"
	if _, _, err := other.api.Household(context.Background(), cw, "H-IN"); !errors.Is(err, api.ErrNoReadyOwner) {
		t.Errorf("owner unreachable: %v, want ErrNoReadyOwner", err)
	}
	router.owner = owner.srv.URL

	// A /v1 caller asking for the casework gets the household view only, forwarded or not.
	for name, f := range map[string]*fixture{"forwarded": other, "on the owner": owner} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/v1/households/H-IN", nil)
		req.Header.Set("Authorization", "Bearer "+tokCaseworker)
		req.Header.Set("X-Safetynet-Casework", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"casework"`) || !strings.Contains(string(body), `"urgent"`) {
			t.Errorf("%s: GET /v1/households/H-IN with the casework header: %d %.300s; want the owner's view without casework", name, resp.StatusCode, body)
		}
	}
}

// TestCaseFilterQuery: a filter written as GET /v1/cases parameters reads back the same.
func TestCaseFilterQuery(t *testing.T) {
	yes := true
	for _, f := range []api.CaseFilter{{}, {Status: "overdue", Level: "urgent", Kind: "review", Area: "4201", Assignee: "cw 1", Overdue: &yes}} {
		got, err := api.ParseCases(f.Query())
		if err != nil || !reflect.DeepEqual(got, f) {
			t.Errorf("%+v → %q → %+v, %v", f, f.Query().Encode(), got, err)
		}
	}
	if _, err := api.ParseCases(url.Values{"level": {"high"}}); err == nil || !strings.Contains(err.Error(), "level") {
		t.Errorf("a bad level: %v, want an error naming level", err)
	}
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
