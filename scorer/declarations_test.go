package scorer

import (
	"strings"
	"testing"
	"time"
)

func TestDeclarationsSection(t *testing.T) {
	base := string(DefaultYAML())
	d := Default().Declarations()
	if d.IncomeShare != 0.10 || d.IncomeYuan != 200 || d.AssetsYuan != 10000 || d.RecheckWindow != 90*24*time.Hour {
		t.Errorf("defaults: %+v", d)
	}
	m, err := Parse([]byte(base + "\ndeclarations:\n  income_tolerance_yuan: 500\n  recheck_window: 30d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Declarations(); got.IncomeYuan != 500 || got.RecheckWindow != 30*24*time.Hour || got.IncomeShare != 0.10 {
		t.Errorf("parsed: %+v", got)
	}
	for _, tc := range []struct{ yaml, field string }{
		{"income_tolerance_share: 1.5", "declarations.income_tolerance_share"},
		{"income_tolerance_yuan: -1", "declarations.income_tolerance_yuan"},
		{"financial_assets_tolerance_yuan: -5", "declarations.financial_assets_tolerance_yuan"},
		{"provident_fund_rate: 0", "declarations.provident_fund_rate"},
		{"recheck_window: 3 months", "declarations.recheck_window"},
		{"false_declaration_expiry: 0d", "declarations.false_declaration_expiry"},
		{"bogus: 1", "bogus"},
	} {
		_, err := Parse([]byte(base + "\ndeclarations:\n  " + tc.yaml + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v, want one naming %s", tc.yaml, err, tc.field)
		}
	}
}
