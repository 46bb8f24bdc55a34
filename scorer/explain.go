package scorer

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DimTrigger is the Dimension of a trigger's reason.
const DimTrigger = "trigger"

// explainer writes the reasons of one evaluation. A nil explainer writes nothing, so that the
// search for the next change scores without building text. All texts are written into one
// buffer and become substrings of one string at the end, to keep Assess to a few allocations.
type explainer struct {
	m       *Model
	p       *prepared
	t       time.Time
	reasons []Reason
	refs    []textRef
	buf     []byte
	scale   [6]float64 // contribution to the total per point, per dimension
}

// textRef locates a text in explainer.buf.
type textRef struct{ from, to int }

func (ex *explainer) add(dim, code string, pts float64, zh, en textRef) {
	ex.reasons = append(ex.reasons, Reason{Code: code, Dimension: dim, Points: round1(pts)})
	ex.refs = append(ex.refs, zh, en)
}

// f appends a text to the buffer. It knows %d (int), %s (string), %Y (float64 yuan, Chinese
// style), %E (float64 yuan, English style), %g (float64, short) and %%.
func (ex *explainer) f(format string, args ...any) textRef {
	from := len(ex.buf)
	n := 0
	for i := 0; i < len(format); i++ {
		j := strings.IndexByte(format[i:], '%')
		if j < 0 || i+j+1 == len(format) {
			ex.buf = append(ex.buf, format[i:]...)
			break
		}
		ex.buf = append(ex.buf, format[i:i+j]...)
		i += j + 1
		if format[i] == '%' {
			ex.buf = append(ex.buf, '%')
			continue
		}
		var arg any
		if n < len(args) {
			arg = args[n]
			n++
		}
		switch v := arg.(type) {
		case int:
			ex.buf = strconv.AppendInt(ex.buf, int64(v), 10)
		case string:
			ex.buf = append(ex.buf, v...)
		case float64:
			switch format[i] {
			case 'Y':
				ex.buf = appendYuanZH(ex.buf, v)
			case 'E':
				ex.buf = appendYuanEN(ex.buf, v)
			default:
				ex.buf = strconv.AppendFloat(ex.buf, math.Round(v*1e6)/1e6, 'g', 6, 64)
			}
		}
	}
	return textRef{from, len(ex.buf)}
}

func (ex *explainer) dependants(pts float64, dep, children, elderly, living int) {
	if ex == nil {
		return
	}
	ex.add(DimDemographic, "demographic.dependants", pts,
		ex.f("%d 名成员中 %d 人需抚养或赡养（16 岁以下 %d 人，60 岁及以上 %d 人）", living, dep, children, elderly),
		ex.f("%d of %d %s (%d under 16, %d aged 60 or over)", dep, living, plural(living, "member is a dependant", "members are dependants"), children, elderly))
}

func (ex *explainer) elderlyAlone() {
	if ex == nil {
		return
	}
	age := -1
	for i := range ex.p.members {
		if f := &ex.p.members[i]; f.alive(ex.t) {
			age = years(f.m.BirthDate, ex.t)
		}
	}
	ex.add(DimDemographic, "demographic.elderly_alone", ptsElderlyAlone,
		ex.f("独居老人（%d 岁）", age), ex.f("an elderly person living alone (aged %d)", age))
}

func (ex *explainer) soleAdult(dep int) {
	if ex == nil {
		return
	}
	ex.add(DimDemographic, "demographic.sole_working_age", ptsSoleAdult,
		ex.f("家中仅 1 名劳动年龄成员，需抚养或赡养 %d 人", dep),
		ex.f("only one working-age member, with %d %s", dep, plural(dep, "dependant", "dependants")))
}

func (ex *explainer) incomeUnknown() {
	if ex == nil {
		return
	}
	ex.add(DimIncome, "income.unknown", 0,
		ex.f("尚无部门报送任何成员的就业或养老金信息，收入未计分"),
		ex.f("no agency has reported work or a pension for any member yet; income not scored"))
}

func (ex *explainer) income(pts, pc float64) {
	if ex == nil {
		return
	}
	std := ex.m.standard
	if pc < std {
		ex.add(DimIncome, "income.per_capita", pts,
			ex.f("人均月收入 %Y，低于低保标准 %Y", pc, std),
			ex.f("per-capita income ¥%E a month, below the minimum living standard ¥%E", pc, std))
		return
	}
	times := math.Round(pc/std*100) / 100
	ex.add(DimIncome, "income.per_capita", pts,
		ex.f("人均月收入 %Y，为低保标准的 %g 倍", pc, times),
		ex.f("per-capita income ¥%E a month, %g times the minimum living standard", pc, times))
}

func (ex *explainer) unemployed(pts float64, f *memberFacts) {
	if ex == nil {
		return
	}
	e := f.m.Employment
	n := months(e.Since, ex.t)
	zhReg, enReg := "已登记失业", "registered"
	if !e.Registered {
		zhReg, enReg = "未登记失业", "not registered"
	}
	ex.add(DimEmployment, "employment.unemployed", pts,
		ex.f("%s失业 %d 个月（%s）", relationZH(f.m.Relation), n, zhReg),
		ex.f("%s has been out of work for %d %s (%s)", relationEN(f.m.Relation), n, plural(n, "month", "months"), enReg))
}

func (ex *explainer) disability(pts float64, f *memberFacts, more int) {
	if ex == nil {
		return
	}
	kzh, ken, sp := "", "", ""
	if k := f.m.Disability.Kind; k != "" {
		kzh, ken, sp = disabilityKindZH(k), k, " "
	}
	ex.add(DimDisability, "disability.grade", pts,
		ex.f("%s%s级%s残疾", relationZH(f.m.Relation), gradeZH(f.grade), kzh),
		ex.f("%s has a grade-%d %s%sdisability", relationEN(f.m.Relation), f.grade, ken, sp))
	if more > 0 {
		ex.add(DimDisability, "disability.more_members", ptsFurtherDisabled*float64(more),
			ex.f("另有 %d 名成员残疾", more),
			ex.f("%d more %s with a disability", more, plural(more, "member", "members")))
	}
}

// health writes the admission reasons from the admissions that count at ex.t.
func (ex *explainer) health() {
	if ex == nil {
		return
	}
	type agg struct {
		n, older, codes int
		pts, oop        float64
		codeList        [4]string
	}
	var plain, crit agg
	for i := range ex.p.admissions {
		f := &ex.p.admissions[i]
		if !f.counts(ex.t) || !ex.p.members[f.member].alive(ex.t) {
			continue
		}
		g, pts := &plain, ptsAdmission
		if f.critical {
			g, pts = &crit, ptsCriticalAdm
			if c := strings.TrimSpace(f.a.ICD10); c != "" && g.codes < len(g.codeList) && !slices.Contains(g.codeList[:g.codes], c) {
				g.codeList[g.codes] = c
				g.codes++
			}
		}
		if !f.open && !ex.t.Before(f.recentUntil) {
			pts /= 2
			g.older++
		}
		g.n++
		g.pts += pts
		g.oop += f.oop
	}
	w, r := ex.m.health, ex.m.healthRecent
	if plain.n > 0 {
		zh := ex.f("住院 %d 次（近 %d %s），自付 %Y", plain.n, w.N, w.UnitText(true, 1), plain.oop)
		if plain.older > 0 {
			zh.to = ex.f("，其中 %d 次出院已超过 %d %s", plain.older, r.N, r.UnitText(true, 1)).to
		}
		en := ex.f("%d %s in %d %s, out-of-pocket ¥%E", plain.n, plural(plain.n, "admission", "admissions"), w.N, w.UnitText(false, w.N), plain.oop)
		if plain.older > 0 {
			en.to = ex.f(", %d discharged over %d %s ago", plain.older, r.N, r.UnitText(false, r.N)).to
		}
		ex.add(DimHealth, "health.admissions", plain.pts, zh, en)
	}
	if crit.n > 0 {
		zh := ex.f("大病住院 %d 次（近 %d %s", crit.n, w.N, w.UnitText(true, 1))
		for i, c := range crit.codeList[:crit.codes] {
			sep := "、"
			if i == 0 {
				sep = "，"
			}
			zh.to = ex.f("%s%s", sep, c).to
		}
		zh.to = ex.f("），自付 %Y", crit.oop).to
		if crit.older > 0 {
			zh.to = ex.f("，其中 %d 次出院已超过 %d %s", crit.older, r.N, r.UnitText(true, 1)).to
		}
		en := ex.f("%d critical-illness %s in %d %s", crit.n, plural(crit.n, "admission", "admissions"), w.N, w.UnitText(false, w.N))
		for i, c := range crit.codeList[:crit.codes] {
			sep := ", "
			if i == 0 {
				sep = " ("
			}
			en.to = ex.f("%s%s", sep, c).to
		}
		if crit.codes > 0 {
			en.to = ex.f(")").to
		}
		en.to = ex.f(", out-of-pocket ¥%E", crit.oop).to
		if crit.older > 0 {
			en.to = ex.f(", %d discharged over %d %s ago", crit.older, r.N, r.UnitText(false, r.N)).to
		}
		ex.add(DimHealth, "health.critical_illness", crit.pts, zh, en)
	}
}

func (ex *explainer) medical(pts, oop, income float64) {
	if ex == nil {
		return
	}
	w := ex.m.health
	if income <= 0 {
		ex.add(DimRigid, "rigid.medical", pts,
			ex.f("近 %d %s自付医疗费 %Y，家庭无收入", w.N, w.UnitText(true, 1), oop),
			ex.f("out-of-pocket medical costs ¥%E in %d %s, with no household income", oop, w.N, w.UnitText(false, w.N)))
		return
	}
	share := int(math.Round(100 * oop / (12 * income)))
	ex.add(DimRigid, "rigid.medical", pts,
		ex.f("近 %d %s自付医疗费 %Y，相当于家庭年收入的 %d%%", w.N, w.UnitText(true, 1), oop, share),
		ex.f("out-of-pocket medical costs ¥%E in %d %s, %d%% of a year's household income", oop, w.N, w.UnitText(false, w.N), share))
}

func (ex *explainer) school(pts float64, n int) {
	if ex == nil {
		return
	}
	ex.add(DimRigid, "rigid.school", pts,
		ex.f("在学年龄（6–17 岁）子女 %d 人", n),
		ex.f("%d school-age %s (6–17)", n, plural(n, "child", "children")))
}

// trigger writes a trigger's reason; arg is the per-capita income, or the index of the member
// or admission concerned.
func (ex *explainer) trigger(idx int, arg float64) {
	if ex == nil {
		return
	}
	td := ex.m.triggers[idx]
	var zh, en textRef
	var day [10]byte
	switch idx {
	case tIncome:
		zh = ex.f("%s（人均月收入 %Y，低保标准 %Y）", td.zh, arg, ex.m.standard)
		en = ex.f("%s (¥%E per person a month; standard ¥%E)", td.en, arg, ex.m.standard)
	case tMainEarner:
		f := &ex.p.members[int(arg)]
		d := string(f.diedAt.AppendFormat(day[:0], time.DateOnly))
		zh = ex.f("%s（%s，%s）", td.zh, relationZH(f.m.Relation), d)
		en = ex.f("%s (%s, %s)", td.en, relationEN(f.m.Relation), d)
	case tCritical:
		a := &ex.p.admissions[int(arg)]
		f := &ex.p.members[a.member]
		d := string(a.admitted.AppendFormat(day[:0], time.DateOnly))
		code := strings.TrimSpace(a.a.ICD10)
		zh = ex.f("%s（%s，%s，%s 入院）", td.zh, relationZH(f.m.Relation), code, d)
		en = ex.f("%s (%s, %s, admitted %s)", td.en, relationEN(f.m.Relation), code, d)
	case tDisability:
		f := &ex.p.members[int(arg)]
		d := string(f.disSince.AppendFormat(day[:0], time.DateOnly))
		zh = ex.f("%s（%s，%s级，%s 认定）", td.zh, relationZH(f.m.Relation), gradeZH(f.grade), d)
		en = ex.f("%s (%s, grade %d, registered %s)", td.en, relationEN(f.m.Relation), f.grade, d)
	}
	ex.reasons = append(ex.reasons, Reason{Code: triggerReasonCodes[idx], Dimension: DimTrigger})
	ex.refs = append(ex.refs, zh, en)
}

// triggerReasonCodes are the reason codes of the triggers, in the order of triggerCodes.
var triggerReasonCodes = func() []string {
	var cs []string
	for _, c := range triggerCodes {
		cs = append(cs, "trigger."+c)
	}
	return cs
}()

// finish sets each reason's texts and contribution to the total.
func (ex *explainer) finish() {
	if ex == nil {
		return
	}
	text := string(ex.buf)
	for i := range ex.reasons {
		r := &ex.reasons[i]
		zh, en := ex.refs[2*i], ex.refs[2*i+1]
		r.ZH, r.EN = text[zh.from:zh.to], text[en.from:en.to]
		if d := dimIndex(r.Dimension); d >= 0 {
			r.Contribution = math.Round(r.Points*ex.scale[d]*100) / 100
		}
	}
}

func dimIndex(name string) int {
	for i, d := range Dimensions {
		if d == name {
			return i
		}
	}
	return -1
}

// cmpReason orders reasons: triggers first (in trigger order), then by contribution, largest
// first; ties keep the order of the dimensions.
func cmpReason(a, b *Reason) int {
	at, bt := a.Dimension == DimTrigger, b.Dimension == DimTrigger
	switch {
	case at && bt:
		return slices.Index(triggerReasonCodes, a.Code) - slices.Index(triggerReasonCodes, b.Code)
	case at:
		return -1
	case bt:
		return 1
	case a.Contribution > b.Contribution:
		return -1
	case a.Contribution < b.Contribution:
		return 1
	}
	return dimIndex(a.Dimension) - dimIndex(b.Dimension)
}

// TopReasons returns the first n reasons (triggers first, then by contribution).
func (a Assessment) TopReasons(n int) []Reason {
	return a.Reasons[:min(max(n, 0), len(a.Reasons))]
}

// Summary is a one-line text for alerts: the total and the top reasons, in Chinese or English.
func (a Assessment) Summary(n int, zh bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", trimFloat(a.Total))
	for i, r := range a.TopReasons(n) {
		sep := "; "
		if zh {
			sep = "；"
		}
		if i == 0 {
			sep = ": "
			if zh {
				sep = "："
			}
		}
		b.WriteString(sep)
		if zh {
			b.WriteString(r.ZH)
		} else {
			b.WriteString(r.EN)
		}
	}
	return b.String()
}

// Score returns the score of a dimension, 0 for an unknown one.
func (a Assessment) Score(dimension string) float64 {
	for _, d := range a.Dimensions {
		if d.Name == dimension {
			return d.Score
		}
	}
	return 0
}

// dimensionZH are the Chinese names of the dimensions.
var dimensionZH = map[string]string{
	DimDemographic: "年龄结构", DimIncome: "经济状况", DimEmployment: "就业",
	DimHealth: "健康状况", DimDisability: "残疾", DimRigid: "刚性支出", DimTrigger: "触发条件",
}

// levelZH are the Chinese names of the levels.
var levelZH = map[string]string{LevelNone: "无", LevelWatch: "关注", LevelWarning: "预警", LevelUrgent: "紧急"}

// Explain renders the assessment for people, in Chinese and English: the total and the given
// level, the six dimensions, the triggers, the reasons and the next change.
func (a Assessment) Explain(level string) string {
	var b strings.Builder
	lv := level
	if lv == LevelNone {
		lv = "none"
	}
	fmt.Fprintf(&b, "model %s · at %s\n", a.ModelVersion, a.At.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "total 总分 %s · level 等级 %s %s\n\n", trimFloat(a.Total), lv, levelZH[level])
	b.WriteString("dimensions 维度                  score × weight = points\n")
	for _, d := range a.Dimensions {
		name := d.Name + " " + dimensionZH[d.Name]
		pad := 30 - displayWidth(name)
		fmt.Fprintf(&b, "  %s%s %5.1f × %.2f = %5.2f\n", name, strings.Repeat(" ", max(pad, 1)), d.Score, d.Weight, d.Score*d.Weight)
	}
	b.WriteString("\ntriggers 触发条件\n")
	if len(a.Triggers) == 0 {
		b.WriteString("  none 无\n")
	}
	for _, t := range a.Triggers {
		fmt.Fprintf(&b, "  %s → at least %s %s\n", t.Code, t.Level, levelZH[t.Level])
	}
	b.WriteString("\nreasons 原因\n")
	if len(a.Reasons) == 0 {
		b.WriteString("  none 无\n")
	}
	for _, r := range a.Reasons {
		if r.Dimension == DimTrigger {
			fmt.Fprintf(&b, "  [%s]\n", r.Code)
		} else {
			fmt.Fprintf(&b, "  [%s] %s points, %s of the total\n", r.Code, trimFloat(r.Points), trimFloat(r.Contribution))
		}
		fmt.Fprintf(&b, "    %s\n    %s\n", r.ZH, r.EN)
	}
	b.WriteString("\nnext change 下次变化: ")
	if a.NextChange.IsZero() {
		b.WriteString("none 无\n")
	} else {
		b.WriteString(a.NextChange.UTC().Format(time.RFC3339) + "\n")
	}
	return b.String()
}

// displayWidth counts CJK characters as two columns.
func displayWidth(s string) int {
	w := 0
	for _, r := range s {
		if r >= 0x2E80 {
			w += 2
		} else {
			w++
		}
	}
	return w
}

// yuanZH writes an amount the Chinese way: "900 元", "3.2 万元".
func yuanZH(x float64) string { return string(appendYuanZH(nil, x)) }

func appendYuanZH(b []byte, x float64) []byte {
	if x >= 10000 {
		return append(strconv.AppendFloat(b, math.Round(x/1000)/10, 'f', -1, 64), " 万元"...)
	}
	return append(strconv.AppendFloat(b, math.Round(x), 'f', 0, 64), " 元"...)
}

// yuanEN writes a whole number of yuan with thousands separators: "32,000".
func yuanEN(x float64) string { return string(appendYuanEN(nil, x)) }

func appendYuanEN(b []byte, x float64) []byte {
	var tmp [32]byte
	digits := strconv.AppendFloat(tmp[:0], math.Round(x), 'f', 0, 64)
	if len(digits) > 0 && digits[0] == '-' {
		b = append(b, '-')
		digits = digits[1:]
	}
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return b
}

func relationZH(rel string) string {
	switch rel {
	case "head":
		return "户主"
	case "spouse":
		return "配偶"
	case "child":
		return "子女"
	case "parent":
		return "父母一方"
	}
	return "一名成员"
}

func relationEN(rel string) string {
	switch rel {
	case "head":
		return "the head of household"
	case "spouse":
		return "the spouse"
	case "child":
		return "a child"
	case "parent":
		return "a parent"
	}
	return "a member"
}

func gradeZH(g int) string {
	if g >= 1 && g <= 4 {
		return []string{"", "一", "二", "三", "四"}[g]
	}
	return strconv.Itoa(g)
}

func disabilityKindZH(kind string) string {
	switch strings.ToLower(kind) {
	case "physical":
		return "肢体"
	case "visual":
		return "视力"
	case "hearing":
		return "听力"
	case "speech":
		return "言语"
	case "intellectual":
		return "智力"
	case "mental":
		return "精神"
	case "multiple":
		return "多重"
	}
	return kind
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// years is the age in whole years at t of someone born at birth.
func years(birth, t time.Time) int {
	y := t.Year() - birth.Year()
	if y > 0 && t.Before(birth.AddDate(y, 0, 0)) {
		y--
	}
	return max(y, 0)
}

// months is the number of whole months from since to t (0 if t is before since).
func months(since, t time.Time) int {
	if !t.After(since) {
		return 0
	}
	n := (t.Year()-since.Year())*12 + int(t.Month()) - int(since.Month())
	if n > 0 && t.Before(since.AddDate(0, n, 0)) {
		n--
	}
	return max(n, 0)
}
