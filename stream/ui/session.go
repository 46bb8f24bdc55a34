package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sessions are signed cookies: "v1|caller name|expiry (unix seconds)|session id", then a dot
// and the HMAC-SHA256 of that under the session key. Nothing is stored on the server, so any
// instance holding the same key accepts the cookie (SAFETYNET_UI_SESSION_KEY); with a
// per-process random key a restart signs everyone out. The expiry is idle time: every page view
// moves it forward. The caller's role and area are looked up by name on every request, so a
// caller removed from the configuration loses its sessions at the next restart or reload.

const (
	sessionCookie = "safetynet_session"
	preCookie     = "safetynet_signin" // the sign-in form's CSRF nonce, before there is a session
	langCookie    = "lang"
	cookiePath    = "/ui/"
)

// session is a verified session cookie.
type session struct {
	Name    string
	Expires time.Time
	ID      string // random; the CSRF tokens of the session's forms are bound to it
}

var errSession = errors.New("no valid session")

type sessions struct {
	key  []byte
	idle time.Duration
}

func (s *sessions) sign(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *sessions) encode(ss session) string {
	p := "v1|" + ss.Name + "|" + strconv.FormatInt(ss.Expires.Unix(), 10) + "|" + ss.ID
	return base64.RawURLEncoding.EncodeToString([]byte(p)) + "." + s.sign(p)
}

// decode verifies a cookie value and its expiry at now.
func (s *sessions) decode(v string, now time.Time) (session, error) {
	b64, mac, ok := strings.Cut(v, ".")
	if !ok {
		return session{}, errSession
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return session{}, errSession
	}
	p := string(raw)
	if !hmac.Equal([]byte(mac), []byte(s.sign(p))) {
		return session{}, errSession
	}
	f := strings.Split(p, "|")
	if len(f) != 4 || f[0] != "v1" || f[1] == "" || f[3] == "" {
		return session{}, errSession
	}
	exp, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return session{}, errSession
	}
	ss := session{Name: f[1], Expires: time.Unix(exp, 0), ID: f[3]}
	if !now.Before(ss.Expires) {
		return ss, errExpired
	}
	return ss, nil
}

var errExpired = errors.New("session expired")

// csrf is the CSRF token of a form of the session (or of the sign-in nonce): an HMAC of it
// under the session key, so it needs no server state and cannot be made without the key.
func (s *sessions) csrf(purpose, id string) string {
	return s.sign("csrf|" + purpose + "|" + id)[:32]
}

func (s *sessions) checkCSRF(purpose, id, got string) bool {
	return id != "" && got != "" && hmac.Equal([]byte(got), []byte(s.csrf(purpose, id)))
}

// setCookie writes a cookie of the UI (a browser-session cookie without expires: the session's
// own expiry is inside its signed value): HttpOnly, SameSite=Strict, Secure when the request came
// over TLS to this server (r.TLS; a forwarded-proto header is not trusted).
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	c := &http.Cookie{Name: name, Value: value, Path: cookiePath, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
	if value == "" {
		c.MaxAge = -1
	} else if !expires.IsZero() {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewSessionKey returns a random session key (what a process uses without
// SAFETYNET_UI_SESSION_KEY).
func NewSessionKey() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}
