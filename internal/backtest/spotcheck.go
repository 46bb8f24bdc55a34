package backtest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// SpotCheck is a month's spot check draw reproduced from stored households: the rule the
// monitor applies online (household.SpotCheckDraw), over every household of a Source, so that an
// auditor with the seed can see that the sample was not hand-picked. It also compares the draw
// with the spot check cases the households record for the month.
type SpotCheck struct {
	Seed  string
	Month string
	Share float64
	// InDraw is the number of households that received aid at the first instant of the month.
	InDraw int
	// Drawn are the households drawn, in id order.
	Drawn []SpotCheckHousehold
	// Areas counts the households in the draw and drawn per area, in area order.
	Areas []SpotCheckArea
	// Cases is the number of spot check cases recorded for the month; Unmatched lists what does
	// not agree between the draw and those cases (empty: they agree).
	Cases     int
	Unmatched []string
}

// SpotCheckHousehold is one drawn household: its id, area and draw value.
type SpotCheckHousehold struct {
	ID    string  `json:"household_id"`
	Area  string  `json:"area"`
	Value float64 `json:"value"`
	// Case is the id of the spot check case the household records for the month ("" if none).
	Case string `json:"case_id,omitempty"`
}

// SpotCheckArea is one area's count of households in the draw and drawn.
type SpotCheckArea struct {
	Area   string `json:"area"`
	InDraw int    `json:"in_draw"`
	Drawn  int    `json:"drawn"`
}

// DrawSpotCheck reproduces month's (YYYY-MM) draw under seed and share from src.
func DrawSpotCheck(src Source, seed, month string, share float64) (*SpotCheck, error) {
	if _, err := time.Parse(feed.MonthLayout, month); err != nil {
		return nil, fmt.Errorf("month %q: want YYYY-MM", month)
	}
	if seed == "" {
		return nil, fmt.Errorf("seed: empty (no draw without a seed)")
	}
	if share < 0 || share > 1 || share != share {
		return nil, fmt.Errorf("share %v: want a share from 0 to 1", share)
	}
	sc := &SpotCheck{Seed: seed, Month: month, Share: share}
	areas := map[string]*SpotCheckArea{}
	err := src.Households(func(id string, v []byte) error {
		h, err := household.Decode(v)
		if err != nil {
			return fmt.Errorf("household %s: %w", id, err)
		}
		caseID := feed.SpotCheckCaseID(h.ID, month)
		recorded := h.Case(caseID)
		if recorded != nil {
			sc.Cases++
		}
		d, drawn, ok := h.SpotCheckDraw(seed, month, share)
		if ok {
			sc.InDraw++
			a := areas[d.Area]
			if a == nil {
				a = &SpotCheckArea{Area: d.Area}
				areas[d.Area] = a
			}
			a.InDraw++
			if drawn {
				a.Drawn++
				dh := SpotCheckHousehold{ID: h.ID, Area: d.Area, Value: d.Value}
				if recorded != nil {
					dh.Case = caseID
				}
				sc.Drawn = append(sc.Drawn, dh)
			}
		}
		switch {
		case recorded != nil && !drawn:
			why := "not drawn by this seed and share"
			if !ok {
				why = "not receiving aid at the start of the month by its stored aid"
			}
			sc.Unmatched = append(sc.Unmatched, fmt.Sprintf("%s: case %s recorded, but the household is %s", h.ID, caseID, why))
		case recorded != nil && recorded.Draw != nil && (recorded.Draw.Seed != seed || recorded.Draw.Share != share):
			sc.Unmatched = append(sc.Unmatched, fmt.Sprintf("%s: case %s was drawn with share %v and another seed", h.ID, caseID, recorded.Draw.Share))
		case drawn && recorded == nil:
			sc.Unmatched = append(sc.Unmatched, fmt.Sprintf("%s: drawn, but no case %s is recorded", h.ID, caseID))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(sc.Drawn, func(a, b SpotCheckHousehold) int { return strings.Compare(a.ID, b.ID) })
	for _, a := range areas {
		sc.Areas = append(sc.Areas, *a)
	}
	slices.SortFunc(sc.Areas, func(a, b SpotCheckArea) int { return strings.Compare(a.Area, b.Area) })
	return sc, nil
}
