// Package api is the HTTP API: health, readiness, metrics, and under /v1 the household data for
// named callers, each limited by its role and area, every answer recorded on the audit trail
// before it is sent. It does not consume Kafka; it writes (and reads back) the audit topic only.
package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/household"
)

// Config configures the HTTP API.
type Config struct {
	// Callers are the named clients of /v1, each with a role and an area prefix. With none, /v1
	// answers 401 to everyone.
	Callers []Caller
	// Auditor keeps the audit trail. Every answer of /v1 to an authenticated caller is recorded
	// before it is sent; without an Auditor (or when it fails) /v1 answers 503.
	Auditor Auditor
	// Trail reads the audit trail back for GET /v1/audit (503 without one).
	Trail AuditTrail
	// Rate and Burst limit each caller's requests (per second; default 20 and 40).
	Rate  float64
	Burst int
	// FailRate and FailBurst limit failed authentications per client address (default one every
	// 6 s, burst 10): past them the address gets 429 whatever it presents.
	FailRate  float64
	FailBurst int
	// Ready reports readiness for /readyz: reason codes when not ready.
	Ready func() (bool, []string)
	// Now is the clock for assessments made on request and the audit records (default time.Now).
	Now func() time.Time
	// Model, when set, gives the model of each request (the service swaps models on reload);
	// otherwise the model passed to New is used.
	Model func() *scorer.Model
	// Casework produces casework actions to the casework topic (nil: actions answer 503).
	Casework CaseworkWriter
	// Router, when set, sends every request about one household to the instance that serves
	// it (route.go); InternalToken is the credential instances present to each other.
	Router        Router
	InternalToken string
}

// API serves /healthz, /readyz, /metrics (unless served elsewhere) and the authenticated
// household API under /v1.
type API struct {
	cfg                 Config
	store               *state.Store
	model               *scorer.Model
	logger              *slog.Logger
	callers             []Caller
	perCaller, failures *limiters
	mux                 *http.ServeMux
	internalHash        *[32]byte    // of Config.InternalToken
	client              *http.Client // to the other instances
}

// New returns the HTTP handler of the service. With a nil gatherer /metrics is not served here
// (the service serves it on its own address: MetricsHandler).
func New(cfg Config, store *state.Store, model *scorer.Model, gatherer prometheus.Gatherer, logger *slog.Logger) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 20
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 2 * int(cfg.Rate+0.5)
	}
	if cfg.FailRate <= 0 {
		cfg.FailRate = 1.0 / 6
	}
	if cfg.FailBurst <= 0 {
		cfg.FailBurst = 10
	}
	a := &API{cfg: cfg, store: store, model: model, logger: logger.With("stage", "api"), mux: http.NewServeMux(),
		callers: cfg.Callers, perCaller: newLimiters(cfg.Rate, cfg.Burst), failures: newLimiters(cfg.FailRate, cfg.FailBurst)}
	if cfg.InternalToken != "" {
		h := sha256.Sum256([]byte(cfg.InternalToken))
		a.internalHash = &h
	}
	a.client = &http.Client{Timeout: forwardTimeout}
	if gatherer != nil {
		a.mux.Handle("GET /metrics", MetricsHandler(gatherer))
	}
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	a.mux.HandleFunc("GET /readyz", a.readyz)
	a.mux.HandleFunc("GET /v1/households/{id}", a.v1(kindHouseholds, ActionHouseholdRead, a.household))
	a.mux.HandleFunc("GET /v1/alerts", a.v1(kindHouseholds, ActionAlertsList, a.alerts))
	a.mux.HandleFunc("GET /v1/stats", a.v1(kindStats, ActionStatsRead, a.stats))
	a.mux.HandleFunc("GET /v1/audit", a.v1(kindAudit, ActionAuditRead, a.audit))
	a.registerCases()
	return a
}

// MetricsHandler serves the gatherer's metrics in the Prometheus formats.
func MetricsHandler(gatherer prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// readyz answers 200 or 503 with reason codes (registry_loading, partition_catching_up, …); the
// details are in the log, not here.
func (a *API) readyz(w http.ResponseWriter, _ *http.Request) {
	ready, reasons := true, []string(nil)
	if a.cfg.Ready != nil {
		ready, reasons = a.cfg.Ready()
	}
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"ready": ready, "reasons": reasons})
}

// HouseholdView is what a caseworker sees of a household: members without their ID numbers,
// the current assessment with its reasons, and the alert history.
type HouseholdView struct {
	HouseholdID string               `json:"household_id"`
	AreaCode    string               `json:"area_code,omitempty"` // 12-digit statistical division code
	Level       string               `json:"level"`
	Episode     int                  `json:"episode"`
	EpisodeOpen bool                 `json:"episode_open"`
	Members     []MemberView         `json:"members"`
	Assessment  scorer.Assessment    `json:"assessment"`
	Explanation string               `json:"explanation"`
	Alerts      []household.AlertRef `json:"alerts"`
	UpdatedAt   time.Time            `json:"updated_at"` // latest event time applied
	// LevelModelVersion is the model the stored level was assessed with; Assessment is always
	// the running model's, so the two differ while a model change is rolled out.
	LevelModelVersion string `json:"level_model_version"`
	// ReceivingAid is the aid the household receives (a casework visit granted it or an
	// application was approved), with its next review; absent when none or ended.
	ReceivingAid *household.Aid `json:"receiving_aid,omitempty"`
	// FalseDeclarations are the false declarations a caseworker confirmed that have not
	// expired: when, on which application and case, until when they stay recorded.
	FalseDeclarations []household.FalseDeclaration `json:"false_declarations,omitempty"`
	// NotReceivingAid: at a level, with no aid and no application pending or approved — a
	// household the agency may not have reached (应保尽保).
	NotReceivingAid bool `json:"not_receiving_aid"`
}

// MemberView is one member as the API shows it.
type MemberView struct {
	Person     string             `json:"person"` // masked resident ID number
	Age        int                `json:"age"`
	Sex        string             `json:"sex,omitempty"`
	Relation   string             `json:"relation,omitempty"`
	Died       *time.Time         `json:"died,omitempty"`
	Employment *scorer.Employment `json:"employment,omitempty"`
	Pension    *scorer.Pension    `json:"pension,omitempty"`
	Disability *scorer.Disability `json:"disability,omitempty"`
	Admissions []scorer.Admission `json:"admissions,omitempty"`
}

// notFound is the answer for an unknown household and for one outside the caller's area alike:
// the same status, body and headers, so that a caller cannot learn which households exist
// elsewhere.
var notFound = reply{status: http.StatusNotFound, body: map[string]string{"error": "no household with that id on this instance"}}

func (a *API) household(r *http.Request, c Caller) reply {
	id := r.PathValue("id")
	v, err := a.store.Household(id)
	if errors.Is(err, state.ErrNotFound) {
		return notFound.about(id)
	}
	if err != nil {
		a.logger.Error("read household for the API", "err", err)
		return reply{status: http.StatusInternalServerError, body: map[string]string{"error": "cannot read the state store"}}.about(id)
	}
	h, err := household.Decode(v)
	if err != nil {
		a.logger.Error("decode household for the API", "err", err)
		return reply{status: http.StatusInternalServerError, body: map[string]string{"error": "stored household does not decode"}}.about(id)
	}
	if !c.Covers(areaOf(h)) {
		r := notFound.about(id)
		r.reason = "outside_area"
		return r
	}
	if a.wantsCasework(r) {
		return reply{status: http.StatusOK, body: householdPage{HouseholdView: a.view(h), Casework: h.Casework}}.about(id)
	}
	return reply{status: http.StatusOK, body: a.view(h)}.about(id)
}

func (a *API) view(h *household.Household) HouseholdView {
	now := a.cfg.Now()
	sh := h.Scorer()
	model := a.model
	if a.cfg.Model != nil {
		model = a.cfg.Model()
	}
	as := scorer.Assess(model, sh, now)
	view := HouseholdView{
		HouseholdID: h.ID, AreaCode: h.AreaCode(), Level: household.LevelLabel(h.Level), Episode: h.Episode, EpisodeOpen: h.Open,
		Assessment: as, Explanation: as.Explain(h.Level), Alerts: h.Alerts, UpdatedAt: h.Updated,
		LevelModelVersion: h.ModelVersion,
	}
	view.ReceivingAid = h.ReceivingAid()
	view.FalseDeclarations = h.ActiveFalseDeclarations(now)
	view.NotReceivingAid = h.NotReceivingAid()
	if view.Alerts == nil {
		view.Alerts = []household.AlertRef{}
	}
	for _, m := range sh.Members {
		view.Members = append(view.Members, MemberView{
			Person: m.Masked, Age: ageAt(m.BirthDate, now), Sex: m.Sex, Relation: m.Relation, Died: m.Died,
			Employment: m.Employment, Pension: m.Pension, Disability: m.Disability, Admissions: m.Admissions,
		})
	}
	return view
}

func ageAt(birth, now time.Time) int {
	if birth.IsZero() {
		return 0
	}
	age := now.Year() - birth.Year()
	if now.YearDay() < birth.YearDay() {
		age--
	}
	return age
}

// alerts lists the alerts of the alert topic (every instance indexes all of them:
// cluster.AlertTable) in the caller's area, newest first:
// ?status=&level=&limit=&cursor=.
func (a *API) alerts(r *http.Request, c Caller) reply {
	q := r.URL.Query()
	status, level := q.Get("status"), q.Get("level")
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit must be a number from 1 to 1000")
		}
		limit = n
	}
	var before []byte
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			return badRequest("cursor is not one this API gave out")
		}
		before = b
	}
	out := struct {
		Alerts     []json.RawMessage `json:"alerts"`
		NextCursor string            `json:"next_cursor,omitempty"`
	}{Alerts: []json.RawMessage{}}
	var last []byte
	err := a.store.Alerts(before, func(key, value []byte) bool {
		var head struct {
			Status, Level string
			AreaCode      string `json:"area_code"`
		}
		if json.Unmarshal(value, &head) != nil {
			return true
		}
		if (status != "" && head.Status != status) || (level != "" && household.LevelLabel(head.Level) != level) || !c.Covers(head.AreaCode) {
			return true
		}
		if len(out.Alerts) == limit {
			out.NextCursor = base64.RawURLEncoding.EncodeToString(last)
			return false
		}
		out.Alerts = append(out.Alerts, json.RawMessage(value))
		last = key
		return true
	})
	if err != nil {
		a.logger.Error("list alerts", "err", err)
		return reply{status: http.StatusInternalServerError, body: map[string]string{"error": "cannot read the state store"}}
	}
	return reply{status: http.StatusOK, body: out}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
