package backtest

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress draws a bar on a terminal and writes a plain line every few seconds otherwise.
type Progress struct {
	w     io.Writer
	what  string
	tty   bool
	start time.Time
	last  time.Time
	n     int
}

// NewProgress reports the progress of reading what to w.
func NewProgress(w io.Writer, what string) *Progress {
	p := &Progress{w: w, what: what, start: time.Now(), last: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// Update reports done of total (0: unknown).
func (p *Progress) Update(done, total int) {
	p.n = done
	if p.tty {
		if time.Since(p.last) < 100*time.Millisecond {
			return
		}
		p.last = time.Now()
		if total > 0 {
			const width = 30
			fill := width * min(done, total) / total
			fmt.Fprintf(p.w, "\r[%s%s] %d/%d %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, total, p.what)
		} else {
			fmt.Fprintf(p.w, "\r%d %s", done, p.what)
		}
		return
	}
	if time.Since(p.last) < 5*time.Second {
		return
	}
	p.last = time.Now()
	if total > 0 {
		fmt.Fprintf(p.w, "progress: %d of %d %s (%d%%)\n", done, total, p.what, 100*done/max(total, 1))
	} else {
		fmt.Fprintf(p.w, "progress: %d %s\n", done, p.what)
	}
}

// Done ends the bar with a summary line.
func (p *Progress) Done() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "read %d %s in %s\n", p.n, p.what, time.Since(p.start).Round(time.Millisecond))
}
