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
// search for the next change scores without building text.
type explainer struct {
	m       *Model
	p       *prepared
	t       time.Time
	reasons []Reason
	scale   [6]float64 // contribution to the total per point, per dimension
}

func (ex *explainer) add(dim, code string, pts float64, zh, en string) {
	ex.reasons = append(ex.reasons, Reason{Code: code, Dimension: dim, Points: round1(pts), ZH: zh, EN: en})
}

func (ex *explainer) dependants(pts float64, dep, children, elderly, living int) {
	if ex == nil {
		return
	}
	ex.add(DimDemographic, "demographic.dependants", pts,
		fmt.Sprintf("%d 名成员中 %d 人需抚养或赡养（16 岁以下 %d 人，60 岁及以上 %d 人）", living, dep, children, elderly),
		fmt.Sprintf("%d of %d members are dependants (%d under 16, %d aged 60 or over)", dep, living, children, elderly))
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
		fmt.Sprintf("独居老人（%d 岁）", age), fmt.Sprintf("an elderly person living alone (aged %d)", age))
}

func (ex *explainer) soleAdult(dep int) {
	if ex == nil {
		return
	}
	ex.add(DimDemographic, "demographic.sole_working_age", ptsSoleAdult,
		fmt.Sprintf("家中仅 1 名劳动年龄成员，需抚养或赡养 %d 人", dep),
		fmt.Sprintf("only one working-age member, with %d %s", dep, plural(dep, "dependant", "dependants")))
}

func (ex *explainer) income(pts, pc float64) {
	if ex == nil {
		return
	}
	std := ex.m.standard
	if pc < std {
		ex.add(DimIncome, "income.per_capita", pts,
			fmt.Sprintf("人均月收入 %s，低于低保标准 %s", yuanZH(pc), yuanZH(std)),
			fmt.Sprintf("per-capita income ¥%s a month, below the minimum living standard ¥%s", yuanEN(pc), yuanEN(std)))
		return
	}
	ex.add(DimIncome, "income.per_capita", pts,
		fmt.Sprintf("人均月收入 %s，为低保标准的 %s 倍", yuanZH(pc), trimFloat(math.Round(pc/std*100)/100)),
		fmt.Sprintf("per-capita income ¥%s a month, %s times the minimum living standard", yuanEN(pc), trimFloat(math.Round(pc/std*100)/100)))
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
		fmt.Sprintf("%s失业 %d 个月（%s）", relationZH(f.m.Relation), n, zhReg),
		fmt.Sprintf("%s has been out of work for %d %s (%s)", relationEN(f.m.Relation), n, plural(n, "month", "months"), enReg))
}

func (ex *explainer) disability(pts float64, f *memberFacts, more int) {
	if ex == nil {
		return
	}
	kzh, ken := "", ""
	if k := f.m.Disability.Kind; k != "" {
		kzh, ken = disabilityKindZH(k), k+" "
	}
	ex.add(DimDisability, "disability.grade", pts,
		fmt.Sprintf("%s%s级%s残疾", relationZH(f.m.Relation), gradeZH(f.grade), kzh),
		fmt.Sprintf("%s has a grade-%d %sdisability", relationEN(f.m.Relation), f.grade, ken))
	if more > 0 {
		ex.add(DimDisability, "disability.more_members", ptsFurtherDisabled*float64(more),
			fmt.Sprintf("另有 %d 名成员残疾", more),
			fmt.Sprintf("%d more %s with a disability", more, plural(more, "member", "members")))
	}
}

// health writes the admission reasons from the admissions that count at ex.t.
func (ex *explainer) health() {
	if ex == nil {
		return
	}
	type agg struct {
		n, older int
		pts, oop float64
		codes    []string
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
			if c := strings.ToUpper(strings.TrimSpace(f.a.ICD10)); c != "" && !slices.Contains(g.codes, c) {
				g.codes = append(g.codes, c)
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
	w := ex.m.health
	older := func(g *agg) (string, string) {
		if g.older == 0 {
			return "", ""
		}
		r := ex.m.healthRecent
		return fmt.Sprintf("，其中 %d 次出院已超过 %s", g.older, r.Text(true)),
			fmt.Sprintf(", %d discharged over %s ago", g.older, r.Text(false))
	}
	if plain.n > 0 {
		ozh, oen := older(&plain)
		ex.add(DimHealth, "health.admissions", plain.pts,
			fmt.Sprintf("住院 %d 次（近 %s），自付 %s%s", plain.n, w.Text(true), yuanZH(plain.oop), ozh),
			fmt.Sprintf("%d %s in %s, out-of-pocket ¥%s%s", plain.n, plural(plain.n, "admission", "admissions"), w.Text(false), yuanEN(plain.oop), oen))
	}
	if crit.n > 0 {
		ozh, oen := older(&crit)
		zhCodes, enCodes := "", ""
		if len(crit.codes) > 0 {
			zhCodes = "，" + strings.Join(crit.codes, "、")
			enCodes = " (" + strings.Join(crit.codes, ", ") + ")"
		}
		ex.add(DimHealth, "health.critical_illness", crit.pts,
			fmt.Sprintf("大病住院 %d 次（近 %s%s），自付 %s%s", crit.n, w.Text(true), zhCodes, yuanZH(crit.oop), ozh),
			fmt.Sprintf("%d critical-illness %s in %s%s, out-of-pocket ¥%s%s", crit.n, plural(crit.n, "admission", "admissions"),
				w.Text(false), enCodes, yuanEN(crit.oop), oen))
	}
}

func (ex *explainer) medical(pts, oop, income float64) {
	if ex == nil {
		return
	}
	w := ex.m.health
	if income <= 0 {
		ex.add(DimRigid, "rigid.medical", pts,
			fmt.Sprintf("近 %s自付医疗费 %s，家庭无收入", w.Text(true), yuanZH(oop)),
			fmt.Sprintf("out-of-pocket medical costs ¥%s in %s, with no household income", yuanEN(oop), w.Text(false)))
		return
	}
	share := strconv.Itoa(int(math.Round(100 * oop / (12 * income))))
	ex.add(DimRigid, "rigid.medical", pts,
		fmt.Sprintf("近 %s自付医疗费 %s，相当于家庭年收入的 %s%%", w.Text(true), yuanZH(oop), share),
		fmt.Sprintf("out-of-pocket medical costs ¥%s in %s, %s%% of a year's household income", yuanEN(oop), w.Text(false), share))
}

func (ex *explainer) school(pts float64, n int) {
	if ex == nil {
		return
	}
	ex.add(DimRigid, "rigid.school", pts,
		fmt.Sprintf("在学年龄（6–17 岁）子女 %d 人", n),
		fmt.Sprintf("%d school-age %s (6–17)", n, plural(n, "child", "children")))
}

// trigger writes a trigger's reason; arg is the per-capita income, or the index of the member
// or admission concerned.
func (ex *explainer) trigger(idx int, arg float64) {
	if ex == nil {
		return
	}
	td := ex.m.triggers[idx]
	var zh, en string
	switch idx {
	case tIncome:
		zh = fmt.Sprintf("（人均月收入 %s，低保标准 %s）", yuanZH(arg), yuanZH(ex.m.standard))
		en = fmt.Sprintf(" (¥%s per person a month; standard ¥%s)", yuanEN(arg), yuanEN(ex.m.standard))
	case tMainEarner:
		f := &ex.p.members[int(arg)]
		zh = fmt.Sprintf("（%s，%s）", relationZH(f.m.Relation), f.diedAt.Format(time.DateOnly))
		en = fmt.Sprintf(" (%s, %s)", relationEN(f.m.Relation), f.diedAt.Format(time.DateOnly))
	case tCritical:
		a := &ex.p.admissions[int(arg)]
		f := &ex.p.members[a.member]
		code := strings.ToUpper(strings.TrimSpace(a.a.ICD10))
		zh = fmt.Sprintf("（%s，%s，%s 入院）", relationZH(f.m.Relation), code, a.admitted.Format(time.DateOnly))
		en = fmt.Sprintf(" (%s, %s, admitted %s)", relationEN(f.m.Relation), code, a.admitted.Format(time.DateOnly))
	case tDisability:
		f := &ex.p.members[int(arg)]
		zh = fmt.Sprintf("（%s，%s级，%s 认定）", relationZH(f.m.Relation), gradeZH(f.grade), f.disSince.Format(time.DateOnly))
		en = fmt.Sprintf(" (%s, grade %d, registered %s)", relationEN(f.m.Relation), f.grade, f.disSince.Format(time.DateOnly))
	}
	ex.reasons = append(ex.reasons, Reason{Code: "trigger." + triggerCodes[idx], Dimension: DimTrigger, ZH: td.zh + zh, EN: td.en + en})
}

// finish sets each reason's contribution to the total.
func (ex *explainer) finish() {
	if ex == nil {
		return
	}
	for i := range ex.reasons {
		r := &ex.reasons[i]
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

// sortReasons puts triggers first (in trigger order), then the rest by contribution, largest
// first; ties keep the order of the dimensions.
func sortReasons(rs []Reason) {
	slices.SortStableFunc(rs, func(a, b Reason) int {
		at, bt := a.Dimension == DimTrigger, b.Dimension == DimTrigger
		switch {
		case at && bt:
			return strings.Compare(triggerOrder(a.Code), triggerOrder(b.Code))
		case at:
			return -1
		case bt:
			return 1
		case a.Contribution != b.Contribution:
			if a.Contribution > b.Contribution {
				return -1
			}
			return 1
		}
		return dimIndex(a.Dimension) - dimIndex(b.Dimension)
	})
}

func triggerOrder(code string) string {
	for i, c := range triggerCodes {
		if "trigger."+c == code {
			return strconv.Itoa(i)
		}
	}
	return code
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
func yuanZH(x float64) string {
	if x >= 10000 {
		return strconv.FormatFloat(math.Round(x/1000)/10, 'f', -1, 64) + " 万元"
	}
	return strconv.FormatFloat(math.Round(x), 'f', 0, 64) + " 元"
}

// yuanEN writes a whole number of yuan with thousands separators: "32,000".
func yuanEN(x float64) string {
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
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
