package ui

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"safetynet/stream/api"
	"safetynet/stream/household"
)

// Charts are inline SVG drawn here, on the server, from the figures the API computes: no
// script, no external file.

// bar is one bar of a horizontal bar chart: Value from 0 to 1, Text written beside it.
type bar struct {
	Label string
	Value float64
	Text  string
	Class string
}

// hbars draws a horizontal bar chart, one row per bar.
func hbars(bars []bar, title string) template.HTML {
	const w, labelW, rowH = 560, 150, 28
	h := rowH*len(bars) + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h, esc(title))
	for i, br := range bars {
		y := 4 + i*rowH
		v := min(max(br.Value, 0), 1)
		bw := int(v * float64(w-labelW-90))
		cls := "bar"
		if br.Class != "" {
			cls += " " + br.Class
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="label" text-anchor="end">%s</text>`, labelW-8, y+18, esc(br.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="track"/>`, labelW, y+4, w-labelW-90, rowH-10)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="%s"/>`, labelW, y+4, bw, rowH-10, cls)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="value">%s</text>`, labelW+bw+6, y+18, esc(br.Text))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// column is one column of a column chart (weekly counts): Total high, Part of it shaded.
type column struct {
	Label       string
	Total, Part int
}

// columns draws a column chart of counts with a legend for the two series.
func columns(cols []column, title, totalName, partName string) template.HTML {
	const w, h, top, bottom, left = 560, 220, 24, 40, 36
	maxV := 1
	for _, c := range cols {
		maxV = max(maxV, c.Total)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h, esc(title))
	fmt.Fprintf(&b, `<rect x="%d" y="6" width="12" height="12" class="bar"/><text x="%d" y="16" class="label">%s</text>`, left, left+16, esc(totalName))
	fmt.Fprintf(&b, `<rect x="%d" y="6" width="12" height="12" class="bar part"/><text x="%d" y="16" class="label">%s</text>`, left+160, left+176, esc(partName))
	plotH := h - top - bottom
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="value" text-anchor="end">%d</text>`, left-4, top+10, maxV)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, left, top+plotH, w-4, top+plotH)
	if len(cols) > 0 {
		slot := (w - left - 8) / len(cols)
		for i, c := range cols {
			x := left + i*slot + slot/6
			cw := slot * 2 / 3
			th := c.Total * plotH / maxV
			ph := c.Part * plotH / maxV
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="bar"><title>%s: %d / %d</title></rect>`, x, top+plotH-th, cw, th, esc(c.Label), c.Part, c.Total)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="bar part"/>`, x, top+plotH-ph, cw, ph)
			if c.Total > 0 {
				fmt.Fprintf(&b, `<text x="%d" y="%d" class="value" text-anchor="middle">%d</text>`, x+cw/2, top+plotH-th-3, c.Total)
			}
			if len(cols) <= 8 || i%2 == 0 {
				fmt.Fprintf(&b, `<text x="%d" y="%d" class="label" text-anchor="middle">%s</text>`, x+cw/2, top+plotH+16, esc(c.Label))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func esc(s string) string { return template.HTMLEscapeString(s) }

func formatScore(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

// precision is the share of visits that found a need (aid granted or referred).
func precision(f api.Figures) (float64, bool) {
	if f.Visited == 0 {
		return 0, false
	}
	return float64(f.Confirmed) / float64(f.Visited), true
}

func precisionBars(lang string, groups []api.Group, label func(string) string) []bar {
	var out []bar
	for _, g := range groups {
		p, ok := precision(g.Figures)
		br := bar{Label: label(g.Key), Value: p}
		if ok {
			br.Text = fmt.Sprintf("%.0f%% (%d/%d)", p*100, g.Confirmed, g.Visited)
		} else {
			br.Text = msg(lang, "stats.no_visits")
		}
		out = append(out, br)
	}
	return out
}

// weeks counts the cases opened per week (Monday to Sunday, in zone) over the last n weeks up
// to now, and how many of them were visited.
func weeks(cases []household.CaseSummary, now time.Time, zone *time.Location, n int) []column {
	start := mondayOf(now.In(zone)).AddDate(0, 0, -7*(n-1))
	cols := make([]column, n)
	for i := range cols {
		cols[i].Label = start.AddDate(0, 0, 7*i).Format("01-02")
	}
	for _, c := range cases {
		i := int(mondayOf(c.OpenedAt.In(zone)).Sub(start).Hours()/24+0.5) / 7
		if i < 0 || i >= n {
			continue
		}
		cols[i].Total++
		if !c.VisitedAt.IsZero() {
			cols[i].Part++
		}
	}
	return cols
}

func mondayOf(t time.Time) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	wd := (int(d.Weekday()) + 6) % 7
	return d.AddDate(0, 0, -wd)
}
