package feed

import (
	"strings"
	"testing"
)

func submitted(extra map[string]any) map[string]any {
	decl := map[string]any{
		"members":  []any{map[string]any{"person_id": testID(1000), "monthly_income": 0}, map[string]any{"person_id": testID(2000), "monthly_income": 1500}},
		"vehicles": 0, "properties": 1, "financial_assets": 8000, "business_owner": false,
	}
	m := map[string]any{"household_id": "H1", "application_id": "APP-1", "program": "dibao", "commitment_signed": true, "declared": decl}
	for k, v := range extra {
		m[k] = v
	}
	return base(AppSubmitted, m)
}

// A submitted application decodes with its declaration, and every declared person_id is
// pseudonymised like the top-level one: key and mask, the number itself nowhere in the event.
func TestDecodeApplicationPseudonymisesMembers(t *testing.T) {
	raw, derr := Decode(Applications, event(submitted(nil)), DefaultMaxEventBytes, DefaultMaxFutureSkew, testNow)
	if derr != nil {
		t.Fatalf("Decode: %v", derr)
	}
	p, err := NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		t.Fatal(err)
	}
	ev := p.Apply(raw)
	a := ev.Application
	if a == nil || a.Declared == nil || a.ApplicationID != "APP-1" || a.Program != "dibao" || a.CommitmentSigned == nil || !*a.CommitmentSigned {
		t.Fatalf("application: %+v", a)
	}
	d := a.Declared
	if len(d.Members) != 2 || d.Properties != 1 || d.FinancialAssets != 8000 || d.BusinessOwner {
		t.Fatalf("declaration: %+v", d)
	}
	for i, n := range []int{1000, 2000} {
		m := d.Members[i]
		if m.PersonKey != p.Key(testID(n)) || m.PersonMasked != Mask(testID(n)) {
			t.Errorf("member %d: key %q masked %q, want %q %q", i, m.PersonKey, m.PersonMasked, p.Key(testID(n)), Mask(testID(n)))
		}
	}
	if d.Members[1].MonthlyIncome != 1500 {
		t.Errorf("member 1 income %v, want 1500", d.Members[1].MonthlyIncome)
	}
	b, err := AppendHouseholdEvent(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1000, 2000} {
		if strings.Contains(string(b), testID(n)) {
			t.Errorf("household event holds a resident ID number in the clear: %s", b)
		}
	}
	if raw.String() != "" && strings.Contains(raw.String(), testID(2000)) {
		t.Error("RawEvent.String shows a declared member's ID number")
	}
}

func TestDecodeApplicationAndAssetTypes(t *testing.T) {
	tests := []struct {
		name  string
		feed  string
		rec   map[string]any
		check func(HouseholdEvent) bool
	}{
		{"withdrawn", Applications, base(AppWithdrawn, map[string]any{"household_id": "H1", "application_id": "APP-1"}),
			func(e HouseholdEvent) bool { return e.Application.ApplicationID == "APP-1" }},
		{"approved", Applications, base(AppDecided, map[string]any{"household_id": "H1", "application_id": "APP-1", "program": "tekun", "decision": "approved", "monthly_benefit": 900}),
			func(e HouseholdEvent) bool {
				return e.Application.Decision == "approved" && *e.Application.MonthlyBenefit == 900
			}},
		{"rejected", Applications, base(AppDecided, map[string]any{"household_id": "H1", "application_id": "APP-1", "program": "dibao", "decision": "rejected"}),
			func(e HouseholdEvent) bool { return e.Application.MonthlyBenefit == nil }},
		{"vehicle", Assets, base(VehicleRegistered, map[string]any{"asset_id": "V1", "value": 60000}),
			func(e HouseholdEvent) bool { return e.AssetID == "V1" && *e.Value == 60000 }},
		{"property transferred", Assets, base(PropertyTransferred, map[string]any{"asset_id": "P1"}),
			func(e HouseholdEvent) bool { return e.AssetID == "P1" && e.Value == nil }},
		{"business", Assets, base(BusinessDeregistered, map[string]any{"asset_id": "B1"}), nil},
		{"deposits", Assets, base(DepositsReported, map[string]any{"balance": 52000.5}),
			func(e HouseholdEvent) bool { return *e.Balance == 52000.5 }},
		{"provident fund", Assets, base(ProvidentFundPaid, map[string]any{"monthly_contribution": 640}),
			func(e HouseholdEvent) bool { return *e.MonthlyContribution == 640 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, derr := Decode(tc.feed, event(tc.rec), DefaultMaxEventBytes, DefaultMaxFutureSkew, testNow)
			if derr != nil {
				t.Fatalf("Decode: %v", derr)
			}
			if tc.check != nil && !tc.check(raw.Event) {
				t.Errorf("fields: %+v", raw.Event)
			}
		})
	}
}

// Bad applications and asset records are refused with the field named, nested fields by path.
func TestDecodeApplicationRefuses(t *testing.T) {
	members := func(ms ...any) map[string]any {
		return map[string]any{"members": append([]any{}, ms...), "vehicles": 0, "properties": 0, "financial_assets": 0, "business_owner": false}
	}
	tests := []struct {
		name, feed   string
		rec          map[string]any
		reason, path string
	}{
		{"no household", Applications, submitted(map[string]any{"household_id": nil}), ReasonMissingField, "household_id"},
		{"no application id", Applications, submitted(map[string]any{"application_id": nil}), ReasonMissingField, "application_id"},
		{"bad program", Applications, submitted(map[string]any{"program": "other"}), ReasonBadValue, "program"},
		{"no commitment", Applications, submitted(map[string]any{"commitment_signed": nil}), ReasonMissingField, "commitment_signed"},
		{"no declaration", Applications, submitted(map[string]any{"declared": nil}), ReasonMissingField, "declared"},
		{"declaration not object", Applications, submitted(map[string]any{"declared": "x"}), ReasonBadType, "declared"},
		{"no members", Applications, submitted(map[string]any{"declared": members()}), ReasonBadValue, "declared.members"},
		{"bad member id", Applications, submitted(map[string]any{"declared": members(map[string]any{"person_id": "420106195001010001", "monthly_income": 0})}),
			ReasonBadPersonID, "declared.members[0].person_id"},
		{"member twice", Applications, submitted(map[string]any{"declared": members(map[string]any{"person_id": testID(5), "monthly_income": 0},
			map[string]any{"person_id": testID(5), "monthly_income": 0})}), ReasonBadValue, "declared.members[1].person_id"},
		{"negative income", Applications, submitted(map[string]any{"declared": members(map[string]any{"person_id": testID(5), "monthly_income": -1})}),
			ReasonBadValue, "declared.members[0].monthly_income"},
		{"fractional vehicles", Applications, submitted(map[string]any{"declared": map[string]any{"members": []any{map[string]any{"person_id": testID(5), "monthly_income": 0}},
			"vehicles": 1.5, "properties": 0, "financial_assets": 0, "business_owner": false}}), ReasonBadValue, "declared.vehicles"},
		{"no business_owner", Applications, submitted(map[string]any{"declared": map[string]any{"members": []any{map[string]any{"person_id": testID(5), "monthly_income": 0}},
			"vehicles": 1, "properties": 0, "financial_assets": 0}}), ReasonMissingField, "declared.business_owner"},
		{"approved without benefit", Applications, base(AppDecided, map[string]any{"household_id": "H1", "application_id": "A", "program": "dibao", "decision": "approved"}),
			ReasonMissingField, "monthly_benefit"},
		{"bad decision", Applications, base(AppDecided, map[string]any{"household_id": "H1", "application_id": "A", "program": "dibao", "decision": "maybe"}),
			ReasonBadValue, "decision"},
		{"declaration on decided", Applications, base(AppDecided, map[string]any{"household_id": "H1", "application_id": "A", "program": "dibao", "decision": "rejected",
			"declared": members()}), ReasonBadValue, "declared"},
		{"unknown type", Applications, base("approved", map[string]any{"household_id": "H1", "application_id": "A"}), ReasonUnknownType, "type"},
		{"vehicle without id", Assets, base(VehicleRegistered, nil), ReasonMissingField, "asset_id"},
		{"asset id with an ID number", Assets, base(PropertyRegistered, map[string]any{"asset_id": "P" + testID(3)}), ReasonBadValue, "asset_id"},
		{"negative value", Assets, base(VehicleRegistered, map[string]any{"asset_id": "V", "value": -3}), ReasonBadValue, "value"},
		{"no balance", Assets, base(DepositsReported, nil), ReasonMissingField, "balance"},
		{"contribution a string", Assets, base(ProvidentFundPaid, map[string]any{"monthly_contribution": "600"}), ReasonBadType, "monthly_contribution"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, derr := Decode(tc.feed, event(tc.rec), DefaultMaxEventBytes, DefaultMaxFutureSkew, testNow)
			if derr == nil {
				t.Fatal("accepted")
			}
			if derr.Reason != tc.reason || derr.Field != tc.path {
				t.Errorf("got %s at %q (%v), want %s at %q", derr.Reason, derr.Field, derr, tc.reason, tc.path)
			}
			if strings.Contains(derr.Error(), testID(5)) || strings.Contains(derr.Error(), testID(3)) {
				t.Errorf("error echoes an ID number: %v", derr)
			}
		})
	}
}
