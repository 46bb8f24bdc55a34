package feedgen

import "safetynet/stream/feed"

// areaCode is a county-level division code with whether it is mostly rural.
type areaCode struct {
	code  string
	rural bool
}

// areaCodes are real county-level codes of Hubei province: the urban districts of Wuhan, its
// outer districts and rural counties. The household's district is drawn from these; a person's
// ID carries the code of where they were first registered, usually the same.
var areaCodes = []areaCode{
	{"420102", false}, // 江岸区
	{"420103", false}, // 江汉区
	{"420104", false}, // 硚口区
	{"420105", false}, // 汉阳区
	{"420106", false}, // 武昌区
	{"420107", false}, // 青山区
	{"420111", false}, // 洪山区
	{"420112", false}, // 东西湖区
	{"420113", true},  // 汉南区
	{"420114", true},  // 蔡甸区
	{"420115", true},  // 江夏区
	{"420116", true},  // 黄陂区
	{"420117", true},  // 新洲区
	{"421123", true},  // 罗田县
	{"421125", true},  // 浠水县
	{"421126", true},  // 蕲春县
	{"421221", true},  // 嘉鱼县
	{"422822", true},  // 建始县
	{"420222", true},  // 阳新县
	{"420921", true},  // 孝昌县
}

var urbanAreas, ruralAreas []int

func init() {
	for i, a := range areaCodes {
		if a.rural {
			ruralAreas = append(ruralAreas, i)
		} else {
			urbanAreas = append(urbanAreas, i)
		}
	}
}

// maskID is the display form of a resident ID in test messages (feed.Mask).
func maskID(id []byte) string { return feed.Mask(string(id)) }
