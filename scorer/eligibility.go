package scorer

// AidExitLine is the per-capita monthly income above which a household receiving aid counts as
// recovered: the aid section's exit_line × the standard, or the income dimension's zero point
// (margin × standard).
func (m *Model) AidExitLine() float64 {
	if x := m.Aid().ExitLine; x > 0 {
		return x * m.standard
	}
	return m.margin * m.standard
}
