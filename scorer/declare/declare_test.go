package declare

import (
	"strings"
	"testing"
	"time"

	"safetynet/scorer"
)

func TestCheckDeclaration(t *testing.T) {
	m := scorer.Default()
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	d := func(v float64, days int) *Dated { return &Dated{Amount: v, At: at.AddDate(0, 0, -days)} }
	head := DeclaredMember{Key: "k1", Masked: "420106***********1"}
	spouse := DeclaredMember{Key: "k2", Masked: "420106***********2"}
	decl := func(ms ...DeclaredMember) Declaration { return Declaration{Members: ms} }
	with := func(dm DeclaredMember, inc float64) DeclaredMember { dm.MonthlyIncome = inc; return dm }
	rec := func(key string) RecordMember { return RecordMember{Key: key, Masked: "420106***********" + key[1:]} }
	tests := []struct {
		name   string
		decl   Declaration
		recs   Records
		result string
		codes  []string
		check  func(t *testing.T, ds []Discrepancy)
	}{
		{"no income on record, 0 declared", decl(head, spouse), Records{Members: []RecordMember{rec("k1"), rec("k2")}}, CheckConsistent, nil, nil},
		{"wage within 10%", decl(with(head, 2900)), Records{Members: []RecordMember{func() RecordMember { r := rec("k1"); r.Wage = d(3100, 40); return r }()}},
			CheckConsistent, nil, nil},
		{"off by 150 yuan only", decl(with(head, 850)), Records{Members: []RecordMember{func() RecordMember { r := rec("k1"); r.Pension = d(1000, 400); return r }()}},
			CheckConsistent, nil, nil},
		{"hidden wage, car and business", decl(head, spouse), Records{Members: []RecordMember{
			func() RecordMember {
				r := rec("k1")
				r.Wage = d(4200, 30)
				r.Vehicles = []Holding{{AssetID: "V1", At: at.AddDate(0, -2, 0)}}
				return r
			}(),
			func() RecordMember {
				r := rec("k2")
				r.Businesses = []Holding{{AssetID: "B1", At: at.AddDate(-1, 0, 0)}}
				return r
			}(),
		}}, CheckDiscrepancies, []string{DiscIncomeUnderstated, DiscVehicleUndeclared, DiscBusinessUndeclared},
			func(t *testing.T, ds []Discrepancy) {
				if ds[0].Source != "employment" || ds[0].Found != 4200 || ds[0].Member != head.Masked || ds[0].FactDate != "2025-05-02" {
					t.Errorf("income discrepancy %+v", ds[0])
				}
				if ds[1].Source != "assets" || ds[1].Found != 1 || ds[1].Declared != 0 || ds[1].FactDate != "2025-04-01" {
					t.Errorf("vehicle discrepancy %+v", ds[1])
				}
				if ds[2].Member != spouse.Masked || !strings.Contains(ds[2].ZH, "经营") || ds[2].EN == "" {
					t.Errorf("business discrepancy %+v", ds[2])
				}
			}},
		{"provident fund implies a wage", decl(head), Records{Members: []RecordMember{func() RecordMember { r := rec("k1"); r.Provident = d(960, 20); return r }()}},
			CheckDiscrepancies, []string{DiscIncomeUnderstated}, func(t *testing.T, ds []Discrepancy) {
				if ds[0].Found != 4000 || ds[0].Source != "assets" {
					t.Errorf("provident income %+v", ds[0])
				}
			}},
		{"old provident payment ignored", decl(head), Records{Members: []RecordMember{func() RecordMember { r := rec("k1"); r.Provident = d(960, 200); return r }()}},
			CheckConsistent, nil, nil},
		{"deposits above declared", Declaration{Members: []DeclaredMember{head}, FinancialAssets: 5000},
			Records{Members: []RecordMember{func() RecordMember { r := rec("k1"); r.Deposits = d(15001, 10); return r }()}},
			CheckDiscrepancies, []string{DiscFinancialUnderstated}, nil},
		{"deposits within 10000", Declaration{Members: []DeclaredMember{head}, FinancialAssets: 5000},
			Records{Members: []RecordMember{func() RecordMember { r := rec("k1"); r.Deposits = d(15000, 10); return r }()}},
			CheckConsistent, nil, nil},
		{"left out a member", decl(head), Records{Members: []RecordMember{rec("k1"), rec("k2")}}, CheckDiscrepancies, []string{DiscMemberNotDeclared}, nil},
		{"a property held by someone outside the registry", Declaration{Members: []DeclaredMember{head}, Properties: 1},
			Records{Members: []RecordMember{rec("k1")}, Others: []RecordMember{func() RecordMember {
				r := rec("k9")
				r.Properties = []Holding{{AssetID: "P1"}, {AssetID: "P2"}}
				return r
			}()}}, CheckDiscrepancies, []string{DiscPropertyUndeclared}, nil},
		{"unknown member", decl(head, spouse), Records{Members: []RecordMember{rec("k1")}}, CheckInsufficient, []string{DiscMemberUnknown}, nil},
		{"unknown household", decl(head), Records{}, CheckInsufficient, []string{DiscHouseholdUnknown}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(m.Declarations(), tc.decl, tc.recs, at)
			var codes []string
			for _, d := range got.Discrepancies {
				codes = append(codes, d.Code)
				if d.ZH == "" || d.EN == "" || d.Source == "" {
					t.Errorf("discrepancy without text or source: %+v", d)
				}
			}
			if got.Result != tc.result || strings.Join(codes, ",") != strings.Join(tc.codes, ",") {
				t.Fatalf("got %s %v, want %s %v", got.Result, codes, tc.result, tc.codes)
			}
			if tc.check != nil {
				tc.check(t, got.Discrepancies)
			}
		})
	}
}
