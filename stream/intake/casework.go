package intake

import (
	"time"

	"safetynet/stream/feed"
)

// decode turns one record of a feed into its household event. A person feed's record is decoded
// and pseudonymised, and its household resolved later from the person table; a casework record
// carries no person and names its household, so it is only validated.
func (i *Intake) decode(name string, value []byte, now time.Time) (feed.HouseholdEvent, *feed.DecodeError) {
	if name == feed.Casework {
		return feed.DecodeCasework(value, i.cfg.MaxEventBytes, i.cfg.MaxFutureSkew, now)
	}
	raw, derr := feed.Decode(name, value, i.cfg.MaxEventBytes, i.cfg.MaxFutureSkew, now)
	if derr != nil {
		return feed.HouseholdEvent{}, derr
	}
	return i.pseud.Apply(raw), nil
}
