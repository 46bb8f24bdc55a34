package modelfile

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Span is a length of calendar time as the model file writes it: a whole number and a unit,
// "36h", "180d", "2w", "12mo" or "1y". Months and years are calendar months and years
// (time.AddDate), so "12mo" after 2024-03-31 is 2025-03-31.
type Span struct {
	N    int
	Unit string // h, d, w, mo, y
}

// spanUnits lists the units a span may use.
var spanUnits = []string{"mo", "h", "d", "w", "y"}

// ParseSpan reads a span such as "12mo". It refuses zero, negative and unknown units.
func ParseSpan(s string) (Span, error) {
	s = strings.TrimSpace(s)
	for _, u := range spanUnits {
		num, ok := strings.CutSuffix(s, u)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return Span{}, fmt.Errorf("%q: want a whole number and a unit (h, d, w, mo, y), e.g. 12mo", s)
		}
		if n <= 0 {
			return Span{}, fmt.Errorf("%q must be longer than zero", s)
		}
		if n > 100000 {
			return Span{}, fmt.Errorf("%q is too long", s)
		}
		return Span{N: n, Unit: u}, nil
	}
	return Span{}, fmt.Errorf("%q: want a whole number and a unit (h, d, w, mo, y), e.g. 12mo", s)
}

// After returns t moved forward by the span.
func (s Span) After(t time.Time) time.Time {
	switch s.Unit {
	case "h":
		return t.Add(time.Duration(s.N) * time.Hour)
	case "d":
		return t.AddDate(0, 0, s.N)
	case "w":
		return t.AddDate(0, 0, 7*s.N)
	case "mo":
		return t.AddDate(0, s.N, 0)
	case "y":
		return t.AddDate(s.N, 0, 0)
	}
	return t
}

// String gives the span as the model file writes it.
func (s Span) String() string { return strconv.Itoa(s.N) + s.Unit }

// Text gives the span in words, in Chinese (zh) or English: "12 个月", "12 months".
func (s Span) Text(zh bool) string { return strconv.Itoa(s.N) + " " + s.UnitText(zh, s.N) }

// UnitText is the word for the span's unit, for a count of n.
func (s Span) UnitText(zh bool, n int) string {
	var one, many, cn string
	switch s.Unit {
	case "h":
		one, many, cn = "hour", "hours", "小时"
	case "d":
		one, many, cn = "day", "days", "天"
	case "w":
		one, many, cn = "week", "weeks", "周"
	case "mo":
		one, many, cn = "month", "months", "个月"
	case "y":
		one, many, cn = "year", "years", "年"
	}
	switch {
	case zh:
		return cn
	case n == 1:
		return one
	}
	return many
}

// Fixed reports whether the span has a fixed length (hours, days, weeks) and that length.
func (s Span) Fixed() (time.Duration, bool) {
	switch s.Unit {
	case "h":
		return time.Duration(s.N) * time.Hour, true
	case "d":
		return time.Duration(s.N) * 24 * time.Hour, true
	case "w":
		return time.Duration(s.N) * 7 * 24 * time.Hour, true
	}
	return 0, false
}
