// Package report renders the results of package backtest for people: report.json and
// report.html of a backtest (with the replay's weekly chart), fairness.json and fairness.html,
// and the summaries the commands print. Charts are inline SVG drawn from the same numbers as
// the JSON; the pages need nothing from the internet. It computes nothing: every number comes
// from a backtest.Report, backtest.Fairness or backtest.Replay.
package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"safetynet/internal/backtest"
)

var levelZH = map[string]string{"none": "无", "watch": "关注", "warning": "预警", "urgent": "紧急"}

var dimZH = map[string]string{"area": "地区 area", "head_age": "户主年龄 head's age", "head_sex": "户主性别 head's sex",
	"size": "家庭人数 household size", "disability": "有残疾成员 any disability", "aid": "领取补助 receiving aid", "all": "全部 all"}

// WriteDir writes report.json and report.html into dir (created if absent).
func WriteDir(dir string, r *backtest.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory %s: %w", dir, err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		return err
	}
	if err := WriteHTML(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteFairnessDir writes fairness.json and fairness.html into dir.
func WriteFairnessDir(dir string, f *backtest.Fairness, o backtest.OutcomeStats) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory %s: %w", dir, err)
	}
	js, err := json.MarshalIndent(struct {
		*backtest.Fairness
		Outcomes backtest.OutcomeStats `json:"outcomes"`
	}{f, o}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "fairness.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	out, err := os.Create(filepath.Join(dir, "fairness.html"))
	if err != nil {
		return err
	}
	if err := page.Execute(out, view{Title: "公平性报告 Fairness report", Fairness: f, Outcomes: o}); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Summary prints the report for a terminal.
func Summary(w io.Writer, r *backtest.Report, top int) {
	fmt.Fprintf(w, "backtest at %s: %d households; baseline %s, model %s; %d change level\n",
		r.At.Format("2006-01-02T15:04:05Z07:00"), r.Households, r.BaselineVersion, r.ModelVersion, r.Changed)
	fmt.Fprintf(w, "\nhouseholds per level 各等级户数   %10s %10s\n", "baseline", "model")
	for _, l := range backtest.LevelLabels {
		fmt.Fprintf(w, "  %-8s %-4s %18d %10d\n", l, levelZH[l], r.ByLevel["baseline"][l], r.ByLevel["model"][l])
	}
	fmt.Fprintf(w, "\ntransitions 等级变化 (rows baseline, columns model)\n  %-8s", "")
	for _, l := range backtest.LevelLabels {
		fmt.Fprintf(w, " %8s", l)
	}
	fmt.Fprintln(w)
	for _, from := range backtest.LevelLabels {
		fmt.Fprintf(w, "  %-8s", from)
		for _, to := range backtest.LevelLabels {
			fmt.Fprintf(w, " %8d", r.Transitions[from][to])
		}
		fmt.Fprintln(w)
	}
	if len(r.Changes) > 0 {
		fmt.Fprintf(w, "\nchanges, biggest first 变化最大的家庭 (%d of %d)\n", min(top, len(r.Changes)), r.Changed)
		for i, c := range r.Changes {
			if i >= top {
				break
			}
			fmt.Fprintf(w, "  %s  %s → %s  %.1f → %.1f", c.HouseholdID, c.From, c.To, c.BaselineScore, c.ModelScore)
			var rs []string
			for j, d := range c.Reasons {
				if j == 3 {
					break
				}
				rs = append(rs, fmt.Sprintf("%s %+.1f", d.Code, d.Model-d.Baseline))
			}
			if len(rs) > 0 {
				fmt.Fprintf(w, "  (%s)", strings.Join(rs, ", "))
			}
			fmt.Fprintln(w)
		}
	}
	printBreakdown := func(title string, cells []backtest.Breakdown) {
		fmt.Fprintf(w, "\n%s\n  %-28s %10s %10s %10s %6s %6s\n", title, "", "households", "baseline", "model", "up", "down")
		for _, c := range cells {
			name := c.Dimension + "=" + c.Value
			if c.Suppressed {
				fmt.Fprintf(w, "  %-28s %10s\n", name, "<min")
				continue
			}
			fmt.Fprintf(w, "  %-28s %10d %10d %10d %6d %6d\n", name, c.Households, c.Baseline, c.Model, c.Up, c.Down)
		}
	}
	printBreakdown("by area 按地区 (at a level)", r.ByArea)
	printBreakdown("by group 按群体 (at a level)", r.ByGroup)
	if r.Fairness != nil {
		FairnessSummary(w, r.Fairness)
	}
	fmt.Fprintln(w)
	OutcomeSummary(w, r.Outcomes)
	if r.Replay != nil {
		ReplaySummary(w, r.Replay)
	}
}

// FairnessSummary prints the fairness section.
func FairnessSummary(w io.Writer, f *backtest.Fairness) {
	fmt.Fprintf(w, "\nfairness 公平性 (model %s): overall alert rate %s; ratios outside %.2f–%.2f first; cells under %d suppressed\n",
		f.ModelVersion, pct(f.Overall.Alert), f.Low, f.High, f.MinCell)
	for _, c := range f.Cells {
		name := c.Dimension + "=" + c.Value
		if c.Suppressed {
			fmt.Fprintf(w, "  %-28s suppressed (<%d households)\n", name, f.MinCell)
			continue
		}
		mark := " "
		if c.OutOfBounds {
			mark = "!"
		}
		fmt.Fprintf(w, "%s %-28s n=%-6d alert %s ratio %.2f [%.2f–%.2f]", mark, name, c.Households, pct(c.Alert),
			c.Alert.Ratio, c.Alert.RatioLow, c.Alert.RatioHigh)
		if c.Confirmed != nil {
			fmt.Fprintf(w, "  confirmed %s ratio %.2f  not needed %s ratio %.2f", pct(c.Confirmed), c.Confirmed.Ratio, pct(c.NotNeeded), c.NotNeeded.Ratio)
		}
		fmt.Fprintln(w)
	}
}

// OutcomeSummary prints precision and recall, or that there are no outcomes.
func OutcomeSummary(w io.Writer, o backtest.OutcomeStats) {
	if !o.Available {
		fmt.Fprintln(w, "precision/recall 准确率/召回率:", o.Note)
		return
	}
	fmt.Fprintf(w, "precision/recall 准确率/召回率: %d findings; precision %s, recall %s\n", o.Findings, pct(o.Precision), pct(o.Recall))
}

func pct(r *backtest.Rate) string {
	if r == nil || r.Of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%% [%.1f–%.1f] (%d/%d)", 100*r.Rate, 100*r.Low, 100*r.High, r.Count, r.Of)
}

type view struct {
	Title    string
	Report   *backtest.Report
	Fairness *backtest.Fairness
	Outcomes backtest.OutcomeStats
}

// WriteHTML writes the self-contained report page: inline styles and SVG, no external assets.
func WriteHTML(w io.Writer, r *backtest.Report) error {
	return page.Execute(w, view{Title: "模型回测 Model backtest", Report: r, Fairness: r.Fairness, Outcomes: r.Outcomes})
}

// levelChart is grouped bars: households per level, baseline and model side by side.
func levelChart(r *backtest.Report) template.HTML {
	maxN := 1
	for _, side := range r.ByLevel {
		for _, n := range side {
			maxN = max(maxN, n)
		}
	}
	const width, height, base = 560.0, 220.0, 180.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" role="img" aria-label="households per level">`, width, height)
	for i, l := range backtest.LevelLabels {
		x := 40 + float64(i)*130
		for j, side := range []string{"baseline", "model"} {
			n := r.ByLevel[side][l]
			h := 150 * float64(n) / float64(maxN)
			fill := []string{"#9aa5b1", "#c0392b"}[j]
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="44" height="%.1f" fill="%s"><title>%s %s: %d</title></rect>`, x+float64(j)*48, base-h, h, fill, side, l, n)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%d</text>`, x+float64(j)*48+22, base-h-3, n)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="13" text-anchor="middle">%s %s</text>`, x+46, base+18, levelZH[l], l)
	}
	fmt.Fprintf(&b, `<line x1="30" y1="%g" x2="%g" y2="%g" stroke="#333"/>`, base, width-10, base)
	b.WriteString(`<rect x="380" y="6" width="12" height="12" fill="#9aa5b1"/><text x="396" y="16" font-size="12">基线 baseline</text>`)
	b.WriteString(`<rect x="470" y="6" width="12" height="12" fill="#c0392b"/><text x="486" y="16" font-size="12">新模型 model</text>`)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// ratioChart draws each unsuppressed cell's alert-rate ratio with its interval, and the bounds.
func ratioChart(f *backtest.Fairness) template.HTML {
	var cells []backtest.Cell
	for _, c := range f.Cells {
		if !c.Suppressed && c.Alert != nil {
			cells = append(cells, c)
		}
	}
	const left, scaleW, rowH = 230.0, 380.0, 18.0
	maxR := 2.0
	for _, c := range cells {
		maxR = max(maxR, c.Alert.RatioHigh)
	}
	maxR = min(maxR, 5)
	x := func(v float64) float64 { return left + scaleW*min(v, maxR)/maxR }
	height := 40 + rowH*float64(len(cells))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" role="img" aria-label="alert rate ratio per cell">`, left+scaleW+60, height)
	for _, v := range []float64{f.Low, 1, f.High} {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="20" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="4 3"/><text x="%.1f" y="14" font-size="11" text-anchor="middle">%.2f</text>`,
			x(v), x(v), height-10, map[bool]string{true: "#555", false: "#e67e22"}[v == 1], x(v), v)
	}
	for i, c := range cells {
		y := 30 + rowH*float64(i)
		color := "#2c3e50"
		if c.OutOfBounds {
			color = "#c0392b"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="end" fill="%s">%s = %s</text>`, left-8, y+4, color, template.HTMLEscapeString(dimZH[c.Dimension]), template.HTMLEscapeString(c.Value))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`, x(c.Alert.RatioLow), y, x(c.Alert.RatioHigh), y, color)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>ratio %.2f</title></circle>`, x(c.Alert.Ratio), y, color, c.Alert.Ratio)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"levels":      func() []string { return backtest.LevelLabels },
	"levelZH":     func(l string) string { return levelZH[l] },
	"dimZH":       func(d string) string { return dimZH[d] },
	"pct":         pct,
	"levelChart":  levelChart,
	"ratioChart":  ratioChart,
	"replayChart": replayChart,
	"sub":         func(a, b float64) float64 { return a - b },
	"cell":        func(m map[string]map[string]int, a, b string) int { return m[a][b] },
}).Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:"Noto Sans CJK SC","Noto Sans SC",sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.out{color:#c0392b;font-weight:bold}h2{margin-top:28px}
</style></head><body>
<h1>{{.Title}}</h1>
{{with .Report}}
<p>评估时间 Assessed at {{.At.Format "2006-01-02 15:04 MST"}} · 基线 baseline <b>{{.BaselineVersion}}</b> · 新模型 model <b>{{.ModelVersion}}</b> ·
{{.Households}} 户 households · <b id="changed">{{.Changed}}</b> 户等级变化 change level</p>
<h2>各等级户数 Households per level</h2>
{{levelChart .}}
<h2>等级变化矩阵 Level transitions <small>(行 rows: 基线 baseline, 列 columns: 新模型 model)</small></h2>
<table id="transitions"><tr><th></th>{{range levels}}<th>{{levelZH .}} {{.}}</th>{{end}}</tr>
{{$t := .Transitions}}{{range $from := levels}}<tr><th class="l">{{levelZH $from}} {{$from}}</th>{{range $to := levels}}<td>{{cell $t $from $to}}</td>{{end}}</tr>{{end}}
</table>
<h2>等级变化的家庭 Households that change level <small>(变化最大的在前 biggest first)</small></h2>
<table><tr><th class="l">家庭 household</th><th>地区 area</th><th>基线 baseline</th><th>新模型 model</th><th>分数 score</th><th class="l">不同的原因 reasons that differ</th></tr>
{{range $i, $c := .Changes}}{{if lt $i 200}}<tr><td class="l">{{$c.HouseholdID}}</td><td>{{$c.Area}}</td><td>{{levelZH $c.From}} {{$c.From}}</td><td>{{levelZH $c.To}} {{$c.To}}</td><td>{{printf "%.1f" $c.BaselineScore}} → {{printf "%.1f" $c.ModelScore}}</td>
<td class="l">{{range $j, $d := $c.Reasons}}{{if lt $j 3}}{{$d.ZH}} {{$d.EN}} ({{printf "%+.1f" (sub $d.Model $d.Baseline)}})<br>{{end}}{{end}}</td></tr>{{end}}{{end}}
</table>
{{if gt (len .Changes) 200}}<p>… {{len .Changes}} 户 in report.json</p>{{end}}
<h2>按地区与群体 By area and group <small>(处于任一等级的户数 households at a level)</small></h2>
<table><tr><th class="l">维度 dimension</th><th class="l">值 value</th><th>户数 households</th><th>基线 baseline</th><th>新模型 model</th><th>升 up</th><th>降 down</th></tr>
{{range .ByArea}}<tr><td class="l">{{dimZH .Dimension}}</td><td class="l">{{.Value}}</td>{{if .Suppressed}}<td colspan="5">不足最小单元 suppressed</td>{{else}}<td>{{.Households}}</td><td>{{.Baseline}}</td><td>{{.Model}}</td><td>{{.Up}}</td><td>{{.Down}}</td>{{end}}</tr>{{end}}
{{range .ByGroup}}<tr><td class="l">{{dimZH .Dimension}}</td><td class="l">{{.Value}}</td>{{if .Suppressed}}<td colspan="5">不足最小单元 suppressed</td>{{else}}<td>{{.Households}}</td><td>{{.Baseline}}</td><td>{{.Model}}</td><td>{{.Up}}</td><td>{{.Down}}</td>{{end}}</tr>{{end}}
</table>
{{end}}
{{with .Fairness}}
<h2>公平性 Fairness {{if .ModelVersion}}<small>(模型 model {{.ModelVersion}})</small>{{end}}</h2>
<p>总体预警率 Overall alert rate: {{pct .Overall.Alert}}. 比率超出 Ratios outside {{printf "%.2f" .Low}}–{{printf "%.2f" .High}} 列在最前 listed first;
少于 {{.MinCell}} 户的单元不显示 cells under {{.MinCell}} households are suppressed. 区间为 95% Wilson 置信区间 intervals are 95% Wilson.</p>
{{ratioChart .}}
<table><tr><th class="l">维度 dimension</th><th class="l">值 value</th><th>户数 households</th><th>预警率 alert rate</th><th>比率 ratio</th>{{if .HasOutcomes}}<th>核实率 confirmed</th><th>比率 ratio</th><th>无需帮助率 not needed</th><th>比率 ratio</th>{{end}}</tr>
{{$has := .HasOutcomes}}{{range .Cells}}<tr{{if .OutOfBounds}} class="out"{{end}}><td class="l">{{dimZH .Dimension}}</td><td class="l">{{.Value}}</td>
{{if .Suppressed}}<td colspan="3">不足最小单元 suppressed</td>{{else}}<td>{{.Households}}</td><td>{{pct .Alert}}</td><td>{{printf "%.2f" .Alert.Ratio}} [{{printf "%.2f" .Alert.RatioLow}}–{{printf "%.2f" .Alert.RatioHigh}}]</td>
{{if $has}}<td>{{pct .Confirmed}}</td><td>{{printf "%.2f" .Confirmed.Ratio}}</td><td>{{pct .NotNeeded}}</td><td>{{printf "%.2f" .NotNeeded.Ratio}}</td>{{end}}{{end}}</tr>{{end}}
</table>
{{end}}
<h2>准确率与召回率 Precision and recall</h2>
{{with .Outcomes}}{{if .Available}}<p>{{.Findings}} 个核查结果 findings · 准确率 precision {{pct .Precision}} · 召回率 recall {{pct .Recall}}</p>{{else}}<p id="outcomes">{{.Note}}</p>{{end}}{{end}}
{{with .Report}}{{with .Replay}}<section id="replay-section">
<h2>按周回放 Replay over time <small>(每周新增与升级的预警 alerts raised and escalated per week)</small></h2>
<p>自 from {{.From.Format "2006-01-02 15:04 -07:00"}} 至 until {{.Until.Format "2006-01-02 15:04 -07:00"}} · {{.Records}} 条家庭事件 household events
({{.WarmUp}} 条在起点之前，仅用于建立状态 before the start, state only{{if .Skipped}}; {{.Skipped}} 条未应用 not applied{{end}}) · {{.Households}} 户 households ·
基线 baseline <b id="replay-baseline">{{.Baseline.Alerts}}</b> · 新模型 model <b id="replay-model">{{.Model.Alerts}}</b></p>
{{range .Notes}}<p><small>{{.}}</small></p>{{end}}
<div id="replay">{{replayChart .}}</div>
<table><tr><th class="l">周 week</th><th class="l">起 from</th><th>基线 新增 baseline raised</th><th>基线 升级 escalated</th><th>新模型 新增 model raised</th><th>新模型 升级 escalated</th></tr>
{{range .Weeks}}<tr><td class="l">{{.Week}}</td><td class="l">{{.Start.Format "2006-01-02"}}</td><td>{{.Baseline.Raised}}</td><td>{{.Baseline.Escalated}}</td><td>{{.Model.Raised}}</td><td>{{.Model.Escalated}}</td></tr>{{end}}
</table></section>
{{end}}{{end}}
</body></html>
`))

// ReplaySummary prints the replay's alerts per week.
func ReplaySummary(w io.Writer, r *backtest.Replay) {
	fmt.Fprintf(w, "\nreplay 按周回放 from %s to %s: %d household events (%d before the start, state only; %d not applied), %d households\n",
		r.From.Format(time.RFC3339), r.Until.Format(time.RFC3339), r.Records, r.WarmUp, r.Skipped, r.Households)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintf(w, "  %-9s %-10s %18s %18s\n", "week", "from", "baseline", "model")
	fmt.Fprintf(w, "  %-9s %-10s %9s %8s %9s %8s\n", "", "", "raised", "escal.", "raised", "escal.")
	for _, wk := range r.Weeks {
		fmt.Fprintf(w, "  %-9s %-10s %9d %8d %9d %8d\n", wk.Week, wk.Start.Format(time.DateOnly),
			wk.Baseline.Raised, wk.Baseline.Escalated, wk.Model.Raised, wk.Model.Escalated)
	}
	fmt.Fprintf(w, "  %-20s %9d %8d %9d %8d\n", "total", r.Baseline.Raised, r.Baseline.Escalated, r.Model.Raised, r.Model.Escalated)
}

// replayChart draws alerts (raised plus escalated) per week as two lines, baseline and model,
// with a point per week.
func replayChart(r *backtest.Replay) template.HTML {
	const left, top, plotW, plotH = 44.0, 28.0, 760.0, 180.0
	maxN := 1
	for _, wk := range r.Weeks {
		maxN = max(maxN, wk.Baseline.Alerts(), wk.Model.Alerts())
	}
	n := len(r.Weeks)
	x := func(i int) float64 {
		if n <= 1 {
			return left + plotW/2
		}
		return left + plotW*float64(i)/float64(n-1)
	}
	y := func(v int) float64 { return top + plotH - plotH*float64(v)/float64(maxN) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" role="img" aria-label="alerts per week, baseline and model">`, left+plotW+20, top+plotH+40)
	for _, v := range []int{0, maxN / 2, maxN} {
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" font-size="11" text-anchor="end">%d</text>`,
			left, y(v), left+plotW, y(v), left-6, y(v)+4, v)
	}
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#333"/>`, left, top+plotH, left+plotW, top+plotH)
	step := max(1, (n+11)/12) // at most about a dozen week labels
	for i, wk := range r.Weeks {
		if i%step == 0 || i == n-1 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%g" font-size="10" text-anchor="middle">%s</text>`, x(i), top+plotH+16, wk.Start.Format("01-02"))
		}
	}
	for j, side := range []string{"baseline", "model"} {
		color := []string{"#9aa5b1", "#c0392b"}[j]
		var pts []string
		for i, wk := range r.Weeks {
			c := wk.Baseline
			if j == 1 {
				c = wk.Model
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(c.Alerts())))
		}
		fmt.Fprintf(&b, `<polyline class="%s" points="%s" fill="none" stroke="%s" stroke-width="2"/>`, side, strings.Join(pts, " "), color)
		for i, wk := range r.Weeks {
			c := wk.Baseline
			if j == 1 {
				c = wk.Model
			}
			fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %s: %d raised, %d escalated</title></circle>`,
				side, x(i), y(c.Alerts()), color, wk.Week, side, c.Raised, c.Escalated)
		}
	}
	fmt.Fprintf(&b, `<rect x="%g" y="6" width="12" height="12" fill="#9aa5b1"/><text x="%g" y="16" font-size="12">基线 baseline</text>`, left+plotW-200, left+plotW-184)
	fmt.Fprintf(&b, `<rect x="%g" y="6" width="12" height="12" fill="#c0392b"/><text x="%g" y="16" font-size="12">新模型 model</text>`, left+plotW-100, left+plotW-84)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
