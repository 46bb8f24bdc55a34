package modelfile

import (
	"math"
	"time"
)

// Declarations is the model's declarations section.
type Declarations struct {
	// IncomeShare and IncomeYuan: a member's declared income is off when it differs from the
	// income on record by more than IncomeShare of the recorded income and by more than
	// IncomeYuan a month (both).
	IncomeShare float64
	IncomeYuan  float64
	// AssetsYuan: declared financial assets are off when they differ from the deposits on record
	// by more than this.
	AssetsYuan float64
	// ProvidentRate: a member with a recent housing provident fund payment and no wage on record
	// earns about contribution / ProvidentRate (employee and employer shares together);
	// ProvidentRecent is how old a payment may be to count.
	ProvidentRate   float64
	ProvidentRecent time.Duration
	// RecheckWindow: data arriving this long after an application was submitted re-runs its
	// check.
	RecheckWindow time.Duration
	// FalseDeclarationExpiry: how long a confirmed false declaration stays on the household.
	FalseDeclarationExpiry time.Duration
}

// DefaultDeclarations are the declarations section's defaults.
var DefaultDeclarations = Declarations{
	IncomeShare: 0.10, IncomeYuan: 200, AssetsYuan: 10000,
	ProvidentRate: 0.24, ProvidentRecent: 92 * 24 * time.Hour,
	RecheckWindow: 90 * 24 * time.Hour, FalseDeclarationExpiry: 3 * 365 * 24 * time.Hour,
}

// declarationsFile is the optional declarations section as written.
type declarationsFile struct {
	IncomeToleranceShare   *float64 `yaml:"income_tolerance_share"`
	IncomeToleranceYuan    *float64 `yaml:"income_tolerance_yuan"`
	AssetsToleranceYuan    *float64 `yaml:"financial_assets_tolerance_yuan"`
	ProvidentFundRate      *float64 `yaml:"provident_fund_rate"`
	ProvidentFundRecent    string   `yaml:"provident_fund_recent"`
	RecheckWindow          string   `yaml:"recheck_window"`
	FalseDeclarationExpiry string   `yaml:"false_declaration_expiry"`
}

// buildDeclarations reads the optional declarations section; what it leaves out takes the
// defaults.
func (m *Spec) buildDeclarations(f *modelFile) error {
	d := DefaultDeclarations
	if s := f.Declarations; s != nil {
		for _, n := range []struct {
			field    string
			v        *float64
			dst      *float64
			min, max float64
			want     string
		}{
			{"declarations.income_tolerance_share", s.IncomeToleranceShare, &d.IncomeShare, 0, 1, "a share from 0 to 1"},
			{"declarations.income_tolerance_yuan", s.IncomeToleranceYuan, &d.IncomeYuan, 0, 1e6, "yuan a month, 0 or more"},
			{"declarations.financial_assets_tolerance_yuan", s.AssetsToleranceYuan, &d.AssetsYuan, 0, 1e9, "yuan, 0 or more"},
			{"declarations.provident_fund_rate", s.ProvidentFundRate, &d.ProvidentRate, 0.01, 1, "a share of the wage above 0 and at most 1"},
		} {
			if n.v == nil {
				continue
			}
			if math.IsNaN(*n.v) || *n.v < n.min || *n.v > n.max {
				return fail("%s: %v: want %s", n.field, *n.v, n.want)
			}
			*n.dst = *n.v
		}
		for _, sp := range []struct {
			field, text string
			dst         *time.Duration
		}{
			{"declarations.provident_fund_recent", s.ProvidentFundRecent, &d.ProvidentRecent},
			{"declarations.recheck_window", s.RecheckWindow, &d.RecheckWindow},
			{"declarations.false_declaration_expiry", s.FalseDeclarationExpiry, &d.FalseDeclarationExpiry},
		} {
			if sp.text == "" {
				continue
			}
			v, err := fixedSpan(sp.field, sp.text)
			if err != nil {
				return err
			}
			if v <= 0 {
				return fail("%s: %s: want a span above zero", sp.field, sp.text)
			}
			*sp.dst = v
		}
	}
	m.Declarations = d
	return nil
}
