package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/api"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// Tokens of the test callers (random-looking, 32+ characters).
const (
	tokCaseworker = "cw4201-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	tokSupervisor = "sv-all-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	tokAuditor    = "au-1f2e3d4c5b6a798867564534231201fedc"
	tokOperator   = "op-a9b8c7d6e5f4031928374655647382910a"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a store with three households (one in area 4201, one elsewhere, one without an
// area) and an alert for each, the audit topic on a kfake broker, and the API over httptest.
type fixture struct {
	t     *testing.T
	addr  string
	srv   *httptest.Server
	audit *api.KafkaAudit
	api   *api.API
	store *state.Store
}

func newFixture(t *testing.T, cfg api.Config) *fixture {
	t.Helper()
	_, addr := kafkatest.Broker(t, 2, topics.Default().Audit)
	store, err := state.Open(state.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for i, hh := range []struct{ id, area string }{{"H-IN", "420106001001"}, {"H-OUT", "330102003004"}, {"H-NOAREA", ""}} {
		h := household.New(hh.id, 0)
		// The head's registry fact carries the area code, as intake writes it.
		h.Persons["p-"+hh.id] = &household.Person{Masked: "420106***********4", Registry: []household.Fact{
			{At: now.Add(-time.Hour), ID: "r-" + hh.id, Type: "member_joined", Relation: "head", AreaCode: hh.area}}}
		h.Level, h.Open, h.Episode = "watch", true, 1
		b, err := household.Encode(h)
		if err != nil {
			t.Fatal(err)
		}
		al := household.Alert{AlertID: fmt.Sprintf("a%d", i), HouseholdID: hh.id, AreaCode: hh.area, Status: household.StatusRaised, Level: "watch",
			EmittedAt: now.Add(time.Duration(i) * time.Minute)}
		ab, _ := json.Marshal(al)
		if err := store.Update(func(tx *state.Tx) error {
			if err := tx.PutHousehold(hh.id, b); err != nil {
				return err
			}
			return tx.IndexAlertUntil(al.EmittedAt, al.AlertID, ab, time.Now().Add(24*time.Hour))
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ name, tok, role, area string }{
		{"cw-4201", tokCaseworker, api.RoleCaseworker, "4201"},
		{"sup", tokSupervisor, api.RoleSupervisor, ""},
		{"aud", tokAuditor, api.RoleAuditor, ""},
		{"ops", tokOperator, api.RoleOperator, ""},
	} {
		caller, err := api.NewCaller(c.name, c.tok, c.role, c.area)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Callers = append(cfg.Callers, caller)
	}
	audit := api.NewKafkaAudit(kafkaio.Kafka{Brokers: []string{addr}}, topics.Default().Audit)
	t.Cleanup(func() { audit.Close() })
	if cfg.Auditor == nil {
		cfg.Auditor = audit
	}
	cfg.Trail = audit
	cfg.Now = func() time.Time { return now }
	a := api.New(cfg, store, scorer.Default(), nil, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &fixture{t: t, addr: addr, srv: srv, audit: audit, api: a, store: store}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) get(token, path string) answer {
	f.t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

// TestScopeRolesAndAudit: each role sees what it may, a household outside the caller's area
// answers exactly like an unknown one, lists show only the area, and every answer to a caller is
// on safetynet.audit (read with kcat) with its X-Request-ID.
func TestScopeRolesAndAudit(t *testing.T) {
	kcat := kafkatest.Tool(t, "kcat", "kcat")
	f := newFixture(t, api.Config{})
	cases := []struct {
		name, token, path string
		want              int
	}{
		{"caseworker reads its area", tokCaseworker, "/v1/households/H-IN", 200},
		{"caseworker, household elsewhere", tokCaseworker, "/v1/households/H-OUT", 404},
		{"caseworker, household without area", tokCaseworker, "/v1/households/H-NOAREA", 404},
		{"caseworker, unknown household", tokCaseworker, "/v1/households/H-NOBODY", 404},
		{"caseworker lists alerts", tokCaseworker, "/v1/alerts", 200},
		{"caseworker has no statistics", tokCaseworker, "/v1/stats", 403},
		{"caseworker has no audit trail", tokCaseworker, "/v1/audit", 403},
		{"supervisor reads every area", tokSupervisor, "/v1/households/H-OUT", 200},
		{"supervisor statistics", tokSupervisor, "/v1/stats", 200},
		{"auditor reads no household", tokAuditor, "/v1/households/H-IN", 403},
		{"auditor lists no alerts", tokAuditor, "/v1/alerts", 403},
		{"operator reads no household", tokOperator, "/v1/households/H-IN", 403},
		{"operator statistics", tokOperator, "/v1/stats", 200},
	}
	got := map[string]answer{}
	var ids []string
	for _, tc := range cases {
		a := f.get(tc.token, tc.path)
		got[tc.name] = a
		if a.status != tc.want {
			t.Errorf("%s: GET %s = %d, want %d: %s", tc.name, tc.path, a.status, tc.want, a.body)
		}
		id := a.header.Get("X-Request-ID")
		if len(id) != 32 || slices.Contains(ids, id) {
			t.Errorf("%s: X-Request-ID %q: want a fresh 32-hex id", tc.name, id)
		}
		ids = append(ids, id)
	}

	// Outside the area is indistinguishable from unknown: same body, same header names and values
	// but the request id.
	out, unknown := got["caseworker, household elsewhere"], got["caseworker, unknown household"]
	if !bytes.Equal(out.body, unknown.body) {
		t.Errorf("404 bodies differ:\n outside %s\n unknown %s", out.body, unknown.body)
	}
	for _, h := range []http.Header{out.header, unknown.header} {
		h.Del("X-Request-ID")
		h.Del("Date")
	}
	if fmt.Sprint(out.header) != fmt.Sprint(unknown.header) {
		t.Errorf("404 headers differ:\n outside %v\n unknown %v", out.header, unknown.header)
	}

	var list struct{ Alerts []household.Alert }
	_ = json.Unmarshal(got["caseworker lists alerts"].body, &list)
	if len(list.Alerts) != 1 || list.Alerts[0].HouseholdID != "H-IN" {
		t.Errorf("caseworker of 4201 lists %+v, want the alert of H-IN alone", list.Alerts)
	}
	var st api.Stats
	_ = json.Unmarshal(got["supervisor statistics"].body, &st)
	if st.Households != 3 || st.Levels["watch"] != 3 {
		t.Errorf("supervisor statistics %+v, want 3 households at watch", st)
	}

	// The audit trail, as a subscriber reads it.
	cmd := exec.Command(kcat, "-C", "-b", f.addr, "-t", topics.Default().Audit, "-o", "beginning", "-e", "-q", "-f", "%s\n")
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	for _, tok := range []string{tokCaseworker, tokSupervisor, tokAuditor, tokOperator} {
		if bytes.Contains(raw, []byte(tok)) {
			t.Fatal("a token is on the audit trail")
		}
	}
	recs := map[string]api.AuditRecord{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var r api.AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit record %q: %v", line, err)
		}
		recs[r.RequestID] = r
	}
	if len(recs) != len(cases) {
		t.Errorf("%d audit records, want one per request (%d)", len(recs), len(cases))
	}
	for i, tc := range cases {
		r, ok := recs[ids[i]]
		if !ok {
			t.Errorf("%s: no audit record with request id %s", tc.name, ids[i])
			continue
		}
		if r.Result != tc.want || r.At.IsZero() || r.Caller == "" || r.Role == "" || r.Action == "" {
			t.Errorf("%s: audit record %+v, want result %d and every field", tc.name, r, tc.want)
		}
		if strings.HasPrefix(tc.path, "/v1/households/") && r.HouseholdID != strings.TrimPrefix(tc.path, "/v1/households/") {
			t.Errorf("%s: audit household %q", tc.name, r.HouseholdID)
		}
	}
	if r := recs[ids[1]]; r.Reason != "outside_area" || r.Caller != "cw-4201" || r.Role != api.RoleCaseworker {
		t.Errorf("read outside the area recorded as %+v, want reason outside_area by cw-4201", r)
	}

	// The auditor reads it back through the API, filtered and paged.
	var page api.AuditPage
	a := f.get(tokAuditor, "/v1/audit?caller=cw-4201&limit=3")
	if err := json.Unmarshal(a.body, &page); a.status != 200 || err != nil {
		t.Fatalf("GET /v1/audit: %d %s", a.status, a.body)
	}
	seen := len(page.Records)
	for page.NextCursor != "" {
		a = f.get(tokAuditor, "/v1/audit?caller=cw-4201&limit=3&cursor="+page.NextCursor)
		page = api.AuditPage{}
		if err := json.Unmarshal(a.body, &page); a.status != 200 || err != nil {
			t.Fatalf("GET /v1/audit next page: %d %s", a.status, a.body)
		}
		for _, r := range page.Records {
			if r.Caller != "cw-4201" {
				t.Errorf("filtered by caller, got %+v", r)
			}
		}
		seen += len(page.Records)
	}
	if seen != 7 {
		t.Errorf("the caseworker's records over all pages: %d, want 7", seen)
	}
	a = f.get(tokAuditor, "/v1/audit?household_id=H-OUT&from="+now.Add(-time.Minute).Format(time.RFC3339)+"&to="+now.Add(time.Minute).Format(time.RFC3339))
	page = api.AuditPage{}
	_ = json.Unmarshal(a.body, &page)
	if len(page.Records) != 2 {
		t.Errorf("records about H-OUT: %+v, want the caseworker's refused read and the supervisor's", page.Records)
	}
	a = f.get(tokAuditor, "/v1/audit?from="+now.Add(time.Hour).Format(time.RFC3339))
	page = api.AuditPage{}
	_ = json.Unmarshal(a.body, &page)
	if a.status != 200 || len(page.Records) != 0 {
		t.Errorf("records after the last one: %d %s", a.status, a.body)
	}
	for _, q := range []string{"from=yesterday", "limit=0", "cursor=***", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"} {
		if a := f.get(tokAuditor, "/v1/audit?"+q); a.status != 400 {
			t.Errorf("GET /v1/audit?%s = %d, want 400", q, a.status)
		}
	}
}

// failingAuditor is the audit trail of a broker that went away.
type closedBrokerAuditor struct{ *api.KafkaAudit }

// TestNoUnauditedRead: when the audit record cannot be written, the request fails with 503 and
// no household data.
func TestNoUnauditedRead(t *testing.T) {
	b, addr := kafkatest.Broker(t, 1, topics.Default().Audit)
	dead := api.NewKafkaAudit(kafkaio.Kafka{Brokers: []string{addr}}, topics.Default().Audit)
	defer dead.Close()
	b.Close()
	f := newFixture(t, api.Config{Auditor: closedBrokerAuditor{dead}})
	a := f.get(tokCaseworker, "/v1/households/H-IN")
	if a.status != http.StatusServiceUnavailable || bytes.Contains(a.body, []byte("H-IN")) {
		t.Errorf("with the audit trail down: %d %s, want 503 and no data", a.status, a.body)
	}
}

// TestRateLimits: failed authentications are limited per address (then even a good token gets
// 429), and each caller's calls per name; both say Retry-After.
func TestRateLimits(t *testing.T) {
	f := newFixture(t, api.Config{Rate: 0.01, Burst: 2, FailRate: 0.01, FailBurst: 3})
	for i := range 2 {
		if a := f.get(tokSupervisor, "/v1/households/H-IN"); a.status != 200 {
			t.Fatalf("call %d: %d", i, a.status)
		}
	}
	a := f.get(tokSupervisor, "/v1/households/H-IN")
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("third call within the burst of 2: %d Retry-After %q, want 429 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
	if a := f.get(tokCaseworker, "/v1/households/H-IN"); a.status != 200 {
		t.Errorf("another caller is limited by the first's calls: %d", a.status)
	}
	for i := range 3 {
		if a := f.get("wrong-token-guess-0000000000000000000000", "/v1/alerts"); a.status != http.StatusUnauthorized {
			t.Errorf("failure %d: %d, want 401", i, a.status)
		}
	}
	for _, tok := range []string{"another-guess", tokAuditor} {
		a := f.get(tok, "/v1/audit")
		if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
			t.Errorf("after 3 failures from this address: %d Retry-After %q, want 429", a.status, a.header.Get("Retry-After"))
		}
	}
}
