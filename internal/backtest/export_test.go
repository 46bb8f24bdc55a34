package backtest

// Internals the tests of package backtest_test use (they import report, which imports this
// package, so they cannot be inside it).
var (
	Abs         = abs
	Rank        = rank
	LevelCounts = levelCounts
)
