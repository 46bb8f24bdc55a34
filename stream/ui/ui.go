// Package ui is the caseworker UI under /ui/: sign-in with an API token, the inbox of open
// cases of the caller's area, a household page that says at once why the family was flagged and
// what to do, the visit and assign forms, and the supervisors' statistics. Pages are rendered on
// the server from html/template with embedded assets and work without JavaScript (forms post,
// the server redirects); Chinese by default, English one click away.
//
// It reads and acts only through stream/api, with the same callers, rate limits, audit trail
// (every page view is recorded before it is sent), case list, statistics and casework actions
// as /v1. It keeps no state: sessions are signed cookies.
package ui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"safetynet/stream/api"
	"safetynet/stream/ui/i18n"
)

//go:embed templates/*.html static/*
var assets embed.FS

// DefaultSessionIdle is how long a session lasts without a page view.
const DefaultSessionIdle = 8 * time.Hour

// Config configures the UI.
type Config struct {
	API *api.API
	// SessionKey signs the session cookies and CSRF tokens; instances that share it accept each
	// other's cookies. Nil: a random key of this process.
	SessionKey []byte
	// SessionIdle is how long a session lasts without a page view (default 8h).
	SessionIdle time.Duration
	// Now is the sessions' clock (default: the API's clock).
	Now func() time.Time
	// Zone is the time zone dates are shown and entered in (default UTC+8, China Standard Time).
	Zone   *time.Location
	Logger *slog.Logger
}

// UI is the handler of /ui/.
type UI struct {
	cfg      Config
	api      *api.API
	sessions *sessions
	logger   *slog.Logger
	pages    map[string]map[string]*template.Template // language → page → template
	mux      *http.ServeMux
}

// Audit actions of the UI's page views and forms.
const (
	ActionInbox     = "ui.inbox"
	ActionHousehold = "ui.household"
	ActionVisitForm = "ui.visit_form"
	ActionVisit     = "ui.visit"
	ActionAssign    = "ui.assign"
	ActionStats     = "ui.stats"
	ActionSignIn    = "ui.signin"
	ActionSignOut   = "ui.signout"
)

var pageFiles = []string{"signin.html", "inbox.html", "household.html", "visit.html", "stats.html", "error.html"}

// New returns the UI.
func New(cfg Config) (*UI, error) {
	if cfg.API == nil {
		return nil, errors.New("ui: no API")
	}
	if len(cfg.SessionKey) == 0 {
		cfg.SessionKey = NewSessionKey()
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.Now == nil {
		cfg.Now = cfg.API.Now
	}
	if cfg.Zone == nil {
		cfg.Zone = time.FixedZone("CST", 8*3600)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	u := &UI{cfg: cfg, api: cfg.API, sessions: &sessions{key: cfg.SessionKey, idle: cfg.SessionIdle},
		logger: cfg.Logger.With("stage", "ui"), pages: map[string]map[string]*template.Template{}, mux: http.NewServeMux()}
	for _, lang := range i18n.Languages {
		u.pages[lang] = map[string]*template.Template{}
		for _, p := range pageFiles {
			t, err := template.New("layout.html").Funcs(u.funcs(lang)).ParseFS(assets, "templates/layout.html", "templates/"+p)
			if err != nil {
				return nil, fmt.Errorf("ui: template %s: %w", p, err)
			}
			u.pages[lang][p] = t
		}
	}
	static, _ := fs.Sub(assets, "static")
	files := http.StripPrefix("/ui/static/", http.FileServerFS(static))
	u.mux.Handle("GET /ui/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		files.ServeHTTP(w, r)
	}))
	u.mux.HandleFunc("GET /ui/signin", u.signinForm)
	u.mux.HandleFunc("POST /ui/signin", u.signin)
	u.mux.HandleFunc("POST /ui/signout", u.page(ActionSignOut, anyRole, u.signout))
	u.mux.HandleFunc("GET /ui/{$}", u.page(ActionInbox, api.Caller.ReadsHouseholds, u.inbox))
	u.mux.HandleFunc("GET /ui/households/{id}", u.page(ActionHousehold, api.Caller.ReadsHouseholds, u.household))
	u.mux.HandleFunc("GET /ui/cases/{id}/visit", u.page(ActionVisitForm, api.Caller.ActsOnCases, u.visitForm))
	u.mux.HandleFunc("POST /ui/cases/{id}/visit", u.page(ActionVisit, api.Caller.ActsOnCases, u.visit))
	u.mux.HandleFunc("POST /ui/cases/{id}/assign", u.page(ActionAssign, api.Caller.ActsOnCases, u.assign))
	u.mux.HandleFunc("GET /ui/stats", u.page(ActionStats, api.Caller.ReadsStats, u.stats))
	u.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		u.errorPage(w, r, langOf(w, r), http.StatusNotFound, "err.notfound")
	})
	return u, nil
}

func anyRole(api.Caller) bool { return true }

func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	u.mux.ServeHTTP(w, r)
}

// req is one authenticated request to a page.
type req struct {
	w    http.ResponseWriter
	r    *http.Request
	c    api.Caller
	lang string
	sess *session // nil when the caller came with a bearer token
}

// result is what a page handler answers: a page to render, or a redirect.
type result struct {
	status    int
	page      string // template file
	data      any
	redirect  string
	household string // the household shown or acted on, for the audit record
	reason    string // why refused, for the audit record
	msgKey    string // error pages: the message
}

// page wraps a page: authentication (session cookie or bearer token), the caller's rate limit,
// the CSRF check of a form, the role check, and the audit record written before the page is
// sent (503 when it cannot be).
func (u *UI) page(action string, allowed func(api.Caller) bool, h func(*req) result) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		lang := langOf(w, r)
		w.Header().Set("Cache-Control", "no-store")
		q := &req{w: w, r: r, lang: lang}
		if _, bearer := r.Header["Authorization"]; bearer {
			c, ok := u.api.BearerCaller(r)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="safetynet"`)
				u.errorPage(w, r, lang, http.StatusUnauthorized, "signin.bad")
				return
			}
			q.c = c
		} else {
			ck, err := r.Cookie(sessionCookie)
			if err != nil {
				u.toSignIn(w, r, "")
				return
			}
			ss, err := u.sessions.decode(ck.Value, u.cfg.Now())
			if errors.Is(err, errExpired) {
				setCookie(w, r, sessionCookie, "", time.Time{})
				u.toSignIn(w, r, "expired")
				return
			}
			if err != nil {
				u.toSignIn(w, r, "")
				return
			}
			c, ok := u.api.CallerNamed(ss.Name)
			if !ok {
				u.toSignIn(w, r, "")
				return
			}
			q.c, q.sess = c, &ss
		}
		if ok, wait := u.api.Allow(q.c); !ok {
			w.Header().Set("Retry-After", fmt.Sprint(wait))
			u.errorPage(w, r, lang, http.StatusTooManyRequests, "err.limited")
			return
		}
		if r.Method == http.MethodPost {
			// The form is read here for every post (a script with a bearer token posts forms too).
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			err := r.ParseForm()
			if q.sess == nil && err != nil {
				u.errorPage(w, r, lang, http.StatusBadRequest, "err.form")
				return
			}
			if q.sess != nil && (err != nil || !u.sessions.checkCSRF("form", q.sess.ID, r.PostFormValue("csrf"))) {
				u.logger.Warn("UI form refused: CSRF token missing or wrong", "caller", q.c.Name, "path", r.URL.Path)
				u.errorPage(w, r, lang, http.StatusForbidden, "err.csrf")
				return
			}
		}
		var res result
		if allowed(q.c) {
			res = h(q)
		} else {
			res = result{status: http.StatusForbidden, page: "error.html", msgKey: "err.forbidden", reason: "role"}
		}
		var body bytes.Buffer
		if res.redirect == "" {
			if res.status == 0 {
				res.status = http.StatusOK
			}
			if err := u.render(&body, q, res); err != nil {
				u.logger.Error("render a UI page", "page", res.page, "err", err)
				res = result{status: http.StatusInternalServerError, page: "error.html", msgKey: "err.internal", household: res.household}
				body.Reset()
				_ = u.render(&body, q, res)
			}
		} else if res.status == 0 {
			res.status = http.StatusSeeOther
		}
		rec := api.AuditRecord{At: u.api.Now().UTC(), Caller: q.c.Name, Role: q.c.Role, Action: action,
			HouseholdID: res.household, Result: res.status, Reason: res.reason, RequestID: randomID()}
		if rec.HouseholdID == "" && r.Method == http.MethodGet {
			rec.Query = r.URL.RawQuery
		}
		w.Header().Set("X-Request-ID", rec.RequestID)
		if err := u.api.Record(r.Context(), rec); err != nil {
			u.logger.Error("audit record not written; answering 503 (no unaudited page)", "err", err, "caller", q.c.Name, "action", action)
			u.errorPage(w, r, lang, http.StatusServiceUnavailable, "err.audit")
			return
		}
		if q.sess != nil && action != ActionSignOut { // idle expiry moves with every page view
			ss := *q.sess
			ss.Expires = u.cfg.Now().Add(u.cfg.SessionIdle)
			setCookie(w, r, sessionCookie, u.sessions.encode(ss), time.Time{})
		}
		if res.redirect != "" {
			http.Redirect(w, r, res.redirect, res.status)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(res.status)
		_, _ = w.Write(body.Bytes())
	}
}

// frame is what every page's template gets.
type frame struct {
	Lang     string
	Caller   api.Caller
	CSRF     string
	Path     string
	LangURL  string // this page in the other language
	MsgKey   string
	Body     any
	NavStats bool
	NavInbox bool
}

func (u *UI) render(w *bytes.Buffer, q *req, res result) error {
	if res.status == 0 {
		res.status = http.StatusOK
	}
	f := frame{Lang: q.lang, Caller: q.c, Path: q.r.URL.Path, LangURL: otherLang(q.r, q.lang), MsgKey: res.msgKey, Body: res.data,
		NavStats: q.c.ReadsStats(), NavInbox: q.c.ReadsHouseholds()}
	if q.sess != nil {
		f.CSRF = u.sessions.csrf("form", q.sess.ID)
	}
	t := u.pages[q.lang][res.page]
	if t == nil {
		return fmt.Errorf("no page %q", res.page)
	}
	return t.ExecuteTemplate(w, "layout.html", f)
}

// errorPage answers an error without a caller (or before the audit record): a page with the
// message and nothing of any household.
func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, lang string, status int, key string) {
	var b bytes.Buffer
	f := frame{Lang: lang, Path: r.URL.Path, LangURL: otherLang(r, lang), MsgKey: key}
	if err := u.pages[lang]["error.html"].ExecuteTemplate(&b, "layout.html", f); err != nil {
		http.Error(w, msg(lang, key), status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (u *UI) toSignIn(w http.ResponseWriter, r *http.Request, why string) {
	v := url.Values{}
	if why != "" {
		v.Set("m", why)
	}
	if r.Method == http.MethodGet {
		v.Set("next", r.URL.RequestURI())
	}
	target := "/ui/signin"
	if len(v) > 0 {
		target += "?" + v.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// langOf is the request's language: ?lang= (remembered in a cookie), else the cookie, else
// Chinese.
func langOf(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l != "" {
		for _, known := range i18n.Languages {
			if l == known {
				setCookie(w, r, langCookie, l, time.Now().AddDate(1, 0, 0))
				return l
			}
		}
	}
	if c, err := r.Cookie(langCookie); err == nil {
		for _, known := range i18n.Languages {
			if c.Value == known {
				return known
			}
		}
	}
	return i18n.Languages[0]
}

func otherLang(r *http.Request, lang string) string {
	q := r.URL.Query()
	if lang == "zh" {
		q.Set("lang", "en")
	} else {
		q.Set("lang", "zh")
	}
	return r.URL.Path + "?" + q.Encode()
}

// safeNext is a sign-in's target: a path of the UI, never another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

func peer(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
