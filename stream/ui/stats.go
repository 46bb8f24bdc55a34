package ui

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"safetynet/stream/api"
	"safetynet/stream/household"
	"safetynet/stream/ui/i18n"
)

// statsBody is the statistics page's data.
type statsBody struct {
	S                        *api.CaseStats
	ByLevel, ByArea, PerWeek template.HTML
	Rows                     []api.Group
}

const statsWeeks = 12

// stats shows the casework figures of GET /v1/stats (precision per level and area) and the
// cases opened per week, for the caller's area.
func (u *UI) stats(q *req) result {
	s, err := u.api.CaseStats(q.r.Context(), q.c, 6)
	if errors.Is(err, api.ErrNoReadyOwner) {
		return retryList(q)
	}
	if err != nil {
		u.logger.Error("casework statistics for the UI", "err", err)
		return result{status: http.StatusInternalServerError, page: "error.html", msgKey: "err.internal"}
	}
	// Cases per week are drawn from the case list, which only a role that may list cases reads
	// (an operator sees the figures without it).
	var cases []household.CaseSummary
	if q.c.ListsCases() {
		err = u.api.Cases(q.r.Context(), q.c, api.CaseFilter{}, func(it api.CaseItem) bool {
			cases = append(cases, it.CaseSummary)
			return true
		})
	}
	if errors.Is(err, api.ErrNoReadyOwner) {
		return retryList(q)
	}
	if err != nil {
		u.logger.Error("list cases for the UI statistics", "err", err)
		return result{status: http.StatusInternalServerError, page: "error.html", msgKey: "err.internal"}
	}
	lang := q.lang
	b := statsBody{S: s}
	b.ByLevel = hbars(precisionBars(lang, s.ByLevel, func(k string) string { return msg(lang, "level."+k) }), msg(lang, "stats.precision"))
	b.ByArea = hbars(precisionBars(lang, s.ByArea, func(k string) string { return k }), msg(lang, "stats.precision_area"))
	if q.c.ListsCases() {
		b.PerWeek = columns(weeks(cases, u.api.Now(), u.cfg.Zone, statsWeeks), msg(lang, "stats.per_week"), msg(lang, "stats.opened"), msg(lang, "stats.visited"))
	}
	for _, g := range s.ByLevel {
		g.Key = msg(lang, "level."+g.Key)
		b.Rows = append(b.Rows, g)
	}
	b.Rows = append(b.Rows, s.ByArea...)
	b.Rows = append(b.Rows, api.Group{Key: msg(lang, "stats.total"), Figures: s.Total})
	return result{page: "stats.html", data: b}
}

// funcs are the templates' functions in one language.
func (u *UI) funcs(lang string) template.FuncMap {
	return template.FuncMap{
		"t":  func(key string) string { return msg(lang, key) },
		"tf": func(key string, args ...any) string { return sprintf(lang, key, args...) },
		// tk is the text of a prefix and a value: tk "level." "urgent".
		"tk":    func(prefix, v string) string { return msg(lang, prefix+v) },
		"time":  func(t time.Time) string { return u.fmtTime(t, "2006-01-02 15:04") },
		"date":  func(t time.Time) string { return u.fmtTime(t, "2006-01-02") },
		"score": formatScore,
		"dims":  func(bars []bar) template.HTML { return hbars(bars, msg(lang, "hh.dimensions")) },
		"pct": func(f api.Figures) string {
			if p, ok := precision(f); ok {
				return fmt.Sprintf("%.0f%%", p*100)
			}
			return "–"
		},
		"days": func(d *float64) string {
			if d == nil {
				return "–"
			}
			return fmt.Sprintf("%.1f", *d)
		},
		"list": func(s ...string) []string { return s },
	}
}

func (u *UI) fmtTime(t time.Time, layout string) string {
	if t.IsZero() {
		return ""
	}
	return t.In(u.cfg.Zone).Format(layout)
}

func sprintf(lang, key string, args ...any) string { return fmt.Sprintf(msg(lang, key), args...) }

// msg returns the text of key in lang (i18n.Msg).
func msg(lang, key string) string { return i18n.Msg(lang, key) }
