package feedgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// This file is the test's own reading of the feed contract in docs/feeds.md, written apart from the
// generator: it checks an event and says which dead-letter reason it deserves.

// gb11643Valid checks an 18-character resident ID: 17 digits, a birth date that exists and is
// not after now, and the ISO 7064 MOD 11-2 check character.
func gb11643Valid(id string, now time.Time) bool {
	if len(id) != 18 {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return false
		}
		w := 1
		for k := 0; k < 17-i; k++ { // weight 2^(17-i) mod 11
			w = w * 2 % 11
		}
		sum += int(c-'0') * w
	}
	want := (12 - sum%11) % 11
	var got int
	switch c := id[17]; {
	case c == 'X':
		got = 10
	case c >= '0' && c <= '9':
		got = int(c - '0')
	default:
		return false
	}
	if got != want {
		return false
	}
	b, err := time.Parse("20060102", id[6:14])
	return err == nil && !b.After(now) && b.Year() >= 1890
}

var feedTypes = map[string][]string{
	"registry":     {"member_joined", "member_left", "died"},
	"hospital":     {"admitted", "discharged"},
	"pension":      {"started", "changed", "suspended", "stopped"},
	"employment":   {"employed", "unemployed"},
	"disability":   {"registered", "changed", "revoked"},
	"applications": {"submitted", "withdrawn", "decided"},
	"assets": {"vehicle_registered", "vehicle_deregistered", "property_registered", "property_transferred",
		"business_registered", "business_deregistered", "deposits_reported", "provident_fund_paid"},
}

type validation struct {
	reason string
	detail string
}

func (v *validation) Error() string { return v.reason + ": " + v.detail }

func bad(reason, format string, a ...any) error {
	return &validation{reason, fmt.Sprintf(format, a...)}
}

// validateEvent returns nil for a valid event of feed, or a *validation with its reason. Birth
// dates in resident IDs must not be after now.
func validateEvent(feed string, value []byte, now time.Time) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(value, &m); err != nil {
		return bad("malformed_json", "%v", err)
	}
	str := func(k string, required bool) (string, bool, error) {
		raw, ok := m[k]
		if !ok {
			if required {
				return "", false, bad("missing_field", "%s", k)
			}
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, bad("bad_type", "%s: %s", k, raw)
		}
		return s, true, nil
	}
	num := func(k string, required bool) (float64, bool, error) {
		raw, ok := m[k]
		if !ok {
			if required {
				return 0, false, bad("missing_field", "%s", k)
			}
			return 0, false, nil
		}
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil {
			return 0, false, bad("bad_type", "%s: %s", k, raw)
		}
		return f, true, nil
	}
	boolean := func(k string, required bool) error {
		raw, ok := m[k]
		if !ok {
			if required {
				return bad("missing_field", "%s", k)
			}
			return nil
		}
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return bad("bad_type", "%s: %s", k, raw)
		}
		return nil
	}
	amount := func(k string, required bool) error {
		f, ok, err := num(k, required)
		if err != nil {
			return err
		}
		if ok && f < 0 {
			return bad("bad_value", "%s negative", k)
		}
		return nil
	}

	if _, _, err := str("event_id", true); err != nil {
		return err
	}
	pid, _, err := str("person_id", true)
	if err != nil {
		return err
	}
	at, _, err := str("occurred_at", true)
	if err != nil {
		return err
	}
	typ, _, err := str("type", true)
	if err != nil {
		return err
	}
	if !gb11643Valid(pid, now) {
		return bad("bad_person_id", "check failed")
	}
	if _, err := time.Parse(time.RFC3339, at); err != nil {
		return bad("bad_time", "%v", err)
	}
	known := false
	for _, t := range feedTypes[feed] {
		known = known || t == typ
	}
	if !known {
		return bad("unknown_type", "%s", typ)
	}
	if _, _, err := str("household_id", feed == "registry" || feed == "applications"); err != nil {
		return err
	}
	switch feed {
	case "registry":
		if typ == "member_joined" {
			bd, ok, err := str("birth_date", false)
			if err != nil {
				return err
			}
			if ok {
				if _, err := time.Parse(time.DateOnly, bd); err != nil {
					return bad("bad_value", "birth_date %v", err)
				}
			}
			sex, ok, err := str("sex", false)
			if err != nil {
				return err
			}
			if ok && sex != "F" && sex != "M" {
				return bad("bad_value", "sex")
			}
			rel, ok, err := str("relation", false)
			if err != nil {
				return err
			}
			switch rel {
			case "head", "spouse", "child", "parent", "other":
			default:
				if ok {
					return bad("bad_value", "relation")
				}
			}
		}
	case "hospital":
		if _, _, err := str("admission_id", true); err != nil {
			return err
		}
		if _, _, err := str("icd10", true); err != nil {
			return err
		}
		if err := boolean("critical_illness", false); err != nil {
			return err
		}
		for _, k := range []string{"total_cost", "insured_cost", "out_of_pocket"} {
			if err := amount(k, typ == "discharged"); err != nil {
				return err
			}
		}
	case "pension":
		if err := amount("monthly_amount", typ == "started" || typ == "changed"); err != nil {
			return err
		}
	case "employment":
		if err := amount("monthly_wage", typ == "employed"); err != nil {
			return err
		}
		if err := boolean("registered", false); err != nil {
			return err
		}
	case "disability":
		g, ok, err := num("grade", typ != "revoked")
		if err != nil {
			return err
		}
		if ok && (g < 1 || g > 4 || g != float64(int(g))) {
			return bad("bad_value", "grade %v", g)
		}
		if _, _, err := str("kind", false); err != nil {
			return err
		}
	case "applications":
		if err := validateApplication(m, typ, now); err != nil {
			return err
		}
	case "assets":
		switch typ {
		case "deposits_reported":
			if err := amount("balance", true); err != nil {
				return err
			}
		case "provident_fund_paid":
			if err := amount("monthly_contribution", true); err != nil {
				return err
			}
		default:
			id, _, err := str("asset_id", true)
			if err != nil {
				return err
			}
			if id == "" {
				return bad("bad_value", "asset_id empty")
			}
			if err := amount("value", false); err != nil {
				return err
			}
		}
	}
	if !bytes.HasPrefix(value, []byte("{")) {
		return bad("malformed_json", "not an object")
	}
	return nil
}

// validateApplication checks the fields of an applications record (docs/feeds.md: "An
// application's declared object ...").
func validateApplication(m map[string]json.RawMessage, typ string, now time.Time) error {
	get := func(obj map[string]json.RawMessage, path, k string, required bool, dst any) (bool, error) {
		raw, ok := obj[k]
		if !ok || string(raw) == "null" {
			if required {
				return false, bad("missing_field", "%s%s", path, k)
			}
			return false, nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return false, bad("bad_type", "%s%s: %s", path, k, raw)
		}
		return true, nil
	}
	var appID string
	if _, err := get(m, "", "application_id", true, &appID); err != nil {
		return err
	}
	if appID == "" {
		return bad("bad_value", "application_id empty")
	}
	var program string
	ok, err := get(m, "", "program", typ != "withdrawn", &program)
	if err != nil {
		return err
	}
	switch program {
	case "dibao", "tekun", "temporary", "medical":
	default:
		if ok {
			return bad("bad_value", "program %q", program)
		}
	}
	switch typ {
	case "submitted":
		var signed bool
		if _, err := get(m, "", "commitment_signed", true, &signed); err != nil {
			return err
		}
		var decl map[string]json.RawMessage
		if _, err := get(m, "", "declared", true, &decl); err != nil {
			return err
		}
		var members []map[string]json.RawMessage
		if _, err := get(decl, "declared.", "members", true, &members); err != nil {
			return err
		}
		if len(members) == 0 || len(members) > 30 {
			return bad("bad_value", "declared.members: %d", len(members))
		}
		ids := map[string]bool{}
		for i, mm := range members {
			p := fmt.Sprintf("declared.members[%d].", i)
			var pid string
			if _, err := get(mm, p, "person_id", true, &pid); err != nil {
				return err
			}
			if !gb11643Valid(pid, now) {
				return bad("bad_person_id", "%sperson_id", p)
			}
			if ids[pid] {
				return bad("bad_value", "%sperson_id twice", p)
			}
			ids[pid] = true
			var inc float64
			if _, err := get(mm, p, "monthly_income", true, &inc); err != nil {
				return err
			}
			if inc < 0 {
				return bad("bad_value", "%smonthly_income", p)
			}
		}
		for _, k := range []string{"vehicles", "properties"} {
			var n float64
			if _, err := get(decl, "declared.", k, true, &n); err != nil {
				return err
			}
			if n < 0 || n > 1000 || n != float64(int(n)) {
				return bad("bad_value", "declared.%s %v", k, n)
			}
		}
		var fa float64
		if _, err := get(decl, "declared.", "financial_assets", true, &fa); err != nil {
			return err
		}
		if fa < 0 {
			return bad("bad_value", "declared.financial_assets")
		}
		var bo bool
		if _, err := get(decl, "declared.", "business_owner", true, &bo); err != nil {
			return err
		}
	case "decided":
		var decision string
		if _, err := get(m, "", "decision", true, &decision); err != nil {
			return err
		}
		if decision != "approved" && decision != "rejected" {
			return bad("bad_value", "decision %q", decision)
		}
		var benefit float64
		ok, err := get(m, "", "monthly_benefit", decision == "approved", &benefit)
		if err != nil {
			return err
		}
		if ok && benefit < 0 {
			return bad("bad_value", "monthly_benefit")
		}
	}
	if _, ok := m["declared"]; ok && typ != "submitted" {
		return bad("bad_value", "declared on %s", typ)
	}
	if _, ok := m["decision"]; ok && typ != "decided" {
		return bad("bad_value", "decision on %s", typ)
	}
	return nil
}
