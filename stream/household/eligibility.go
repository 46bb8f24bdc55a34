package household

import "safetynet/stream/feed"

// NotReceivingAid reports whether the household is at a level (watch or above) yet receives no
// aid and has no application pending or approved: a household in need that the agency may not
// have reached (应保尽保, every eligible household covered). A rejected or withdrawn
// application does not lift the flag: the household is still at a level without aid.
func (h *Household) NotReceivingAid() bool {
	if h.Level == "" || h.ReceivingAid() != nil {
		return false
	}
	if h.Declarations != nil {
		for i := range h.Declarations.Applications {
			switch h.Declarations.Applications[i].Status() {
			case feed.AppSubmitted, feed.DecisionApproved:
				return false
			}
		}
	}
	return true
}
