package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"safetynet/stream/household"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"safetynet/scorer"
	"safetynet/state"
)

// APIConfig configures the HTTP server.
type Config struct {
	// Tokens are the bearer tokens accepted by /v1. With none, /v1 answers 401 to everyone.
	Tokens []string
	// Ready reports readiness for /readyz, with the reasons when not ready.
	Ready func() (bool, []string)
	// Now is the clock for assessments made on request (default time.Now).
	Now func() time.Time
	// Casework produces casework actions to the casework topic (nil: actions answer 503).
	Casework CaseworkWriter
}

// API serves /metrics, /healthz, /readyz and the authenticated household API under /v1.
type API struct {
	cfg    Config
	store  *state.Store
	model  *scorer.Model
	logger *slog.Logger
	tokens [][32]byte // hashes, compared in constant time
	mux    *http.ServeMux
}

// NewAPI returns the HTTP handler of the service.
func New(cfg Config, store *state.Store, model *scorer.Model, gatherer prometheus.Gatherer, logger *slog.Logger) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &API{cfg: cfg, store: store, model: model, logger: logger.With("stage", "api"), mux: http.NewServeMux()}
	for _, t := range cfg.Tokens {
		if t = strings.TrimSpace(t); t != "" {
			a.tokens = append(a.tokens, sha256.Sum256([]byte(t)))
		}
	}
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	a.mux.HandleFunc("GET /readyz", a.readyz)
	a.mux.HandleFunc("GET /v1/households/{id}", a.auth(a.household))
	a.mux.HandleFunc("GET /v1/alerts", a.auth(a.alerts))
	a.registerCases()
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

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

// auth admits requests bearing one of the configured tokens; everything else gets 401 and no data.
func (a *API) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok {
			h := sha256.Sum256([]byte(strings.TrimSpace(tok)))
			for _, t := range a.tokens {
				if subtle.ConstantTimeCompare(h[:], t[:]) == 1 {
					next(w, r)
					return
				}
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="safetynet"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required (SAFETYNET_API_TOKENS)"})
	}
}

// HouseholdView is what a caseworker sees of a household: members without their ID numbers,
// the current assessment with its reasons, and the alert history.
type HouseholdView struct {
	HouseholdID string               `json:"household_id"`
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
	// ReceivingAid is the aid a casework visit granted (program, since), if any.
	ReceivingAid *household.Aid `json:"receiving_aid,omitempty"`
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

func (a *API) household(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, err := a.store.Household(id)
	if errors.Is(err, state.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no household with that id on this instance"})
		return
	}
	if err != nil {
		a.logger.Error("read household for the API", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot read the state store"})
		return
	}
	h, err := household.Decode(v)
	if err != nil {
		a.logger.Error("decode household for the API", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "stored household does not decode"})
		return
	}
	writeJSON(w, http.StatusOK, a.view(h))
}

func (a *API) view(h *household.Household) HouseholdView {
	now := a.cfg.Now()
	sh := h.Scorer()
	as := scorer.Assess(a.model, sh, now)
	view := HouseholdView{
		HouseholdID: h.ID, Level: h.Level, Episode: h.Episode, EpisodeOpen: h.Open,
		Assessment: as, Explanation: as.Explain(h.Level), Alerts: h.Alerts, UpdatedAt: h.Updated,
		LevelModelVersion: h.ModelVersion,
	}
	if h.Casework != nil {
		view.ReceivingAid = h.Casework.Aid
	}
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

// alerts lists the alerts published by this instance, newest first: ?status=&level=&limit=&cursor=.
func (a *API) alerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status, level := q.Get("status"), q.Get("level")
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be a number from 1 to 1000"})
			return
		}
		limit = n
	}
	var before []byte
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "cursor is not one this API gave out"})
			return
		}
		before = b
	}
	out := struct {
		Alerts     []json.RawMessage `json:"alerts"`
		NextCursor string            `json:"next_cursor,omitempty"`
	}{Alerts: []json.RawMessage{}}
	var last []byte
	err := a.store.Alerts(before, func(key, value []byte) bool {
		var head struct{ Status, Level string }
		if json.Unmarshal(value, &head) != nil {
			return true
		}
		if (status != "" && head.Status != status) || (level != "" && head.Level != level) {
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
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot read the state store"})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
