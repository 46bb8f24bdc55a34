// Package episode decides a household's alert episode: from an assessment under a model, the
// level the household is at, whether an alert goes out and with which status (raised,
// escalated, deescalated, resolved), what it says, and how the alert and the household's
// casework meet (a snooze after a no-need visit holds raises back; an alert opens, escalates or
// closes its case). The monitor's batches and the backtest's replay decide through it, so both
// apply the same rules.
//
// It is pure like scorer: plain values in, the household changed in place, the alert out. It
// deliberately has no store, no Kafka, no metrics and no clock (time is a parameter); withholding,
// publishing and indexing alerts are the monitor's.
package episode
