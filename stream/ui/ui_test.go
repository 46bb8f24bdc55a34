package ui

import (
	"io/fs"
	"regexp"
	"safetynet/stream/ui/i18n"
	"slices"
	"strings"
	"testing"
	"time"
)

// Both languages have the same keys, and every key a template names exists.
func TestMessages(t *testing.T) {
	for _, lang := range i18n.Languages {
		for _, other := range i18n.Languages {
			for k := range i18n.Messages[lang] {
				if _, ok := i18n.Messages[other][k]; !ok {
					t.Errorf("%q has %q, %q does not", lang, k, other)
				}
			}
		}
	}
	prefixed := regexp.MustCompile(`tk\s+"([^"]+)"`)
	err := fs.WalkDir(assets, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		if err != nil {
			return err
		}
		s := string(b)
		for _, m := range regexp.MustCompile(`[({]\s*(?:t|tf)\s+"([^"]+)"`).FindAllStringSubmatch(s, -1) {
			if _, ok := i18n.Messages["zh"][m[1]]; !ok {
				t.Errorf("%s uses %q, which no language has", path, m[1])
			}
		}
		for _, m := range prefixed.FindAllStringSubmatch(s, -1) {
			if !slices.ContainsFunc(keys(), func(k string) bool { return strings.HasPrefix(k, m[1]) }) {
				t.Errorf("%s uses the prefix %q, which no key has", path, m[1])
			}
		}
		// No words in the templates: text outside tags and actions is punctuation at most.
		text := regexp.MustCompile(`(?s)\{\{.*?\}\}|<[^>]*>`).ReplaceAllString(s, " ")
		if w := regexp.MustCompile(`[A-Za-z\p{Han}]{2,}`).FindString(text); w != "" {
			t.Errorf("%s has the word %q outside the message maps", path, w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func keys() []string {
	var out []string
	for k := range i18n.Messages["zh"] {
		out = append(out, k)
	}
	return out
}

func TestSessionCookie(t *testing.T) {
	s := &sessions{key: []byte("0123456789abcdef0123456789abcdef"), idle: time.Hour}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := s.encode(session{Name: "wang", Expires: now.Add(time.Hour), ID: "abc"})
	if got, err := s.decode(v, now); err != nil || got.Name != "wang" || got.ID != "abc" {
		t.Fatalf("decode: %+v %v", got, err)
	}
	if _, err := s.decode(v, now.Add(time.Hour)); err != errExpired {
		t.Errorf("at expiry: %v, want errExpired", err)
	}
	other := &sessions{key: []byte("fedcba9876543210fedcba9876543210")}
	if _, err := other.decode(v, now); err == nil {
		t.Error("a cookie signed with another key was accepted")
	}
	// A changed name with the old signature is refused.
	_, mac, _ := strings.Cut(v, ".")
	forged := s.encode(session{Name: "li", Expires: now.Add(time.Hour), ID: "abc"})
	fb64, _, _ := strings.Cut(forged, ".")
	if _, err := s.decode(fb64+"."+mac, now); err == nil {
		t.Error("a forged payload was accepted")
	}
	if tok := s.csrf("form", "abc"); !s.checkCSRF("form", "abc", tok) || s.checkCSRF("form", "abd", tok) || s.checkCSRF("form", "abc", "") {
		t.Error("CSRF token check")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{"/ui/stats": "/ui/stats", "//evil.example/ui/": "/ui/", "https://x/ui/": "/ui/", "": "/ui/", "/ui/\\x": "/ui/"} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
