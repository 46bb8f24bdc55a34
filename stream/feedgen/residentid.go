package feedgen

import "safetynet/stream/feed"

// Resident ID numbers (GB 11643-1999): six digits of area code, eight of birth date YYYYMMDD,
// three of sequence (odd 17th digit for men, even for women) and an ISO 7064 MOD 11-2 check
// character, 0–9 or X.

// idWeights are the GB 11643 weights of the first 17 digits (2^(17-i) mod 11).
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps the weighted sum mod 11 to the check character.
const idCheckChars = "10X98765432"

// checkChar returns the GB 11643 check character of the first 17 digits of id.
func checkChar(id []byte) byte {
	s := 0
	for i := 0; i < 17; i++ {
		s += int(id[i]-'0') * idWeights[i]
	}
	return idCheckChars[s%11]
}

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

// makeID writes a resident ID for the area, birth day (days since 1970-01-01) and sequence
// number 0–999 into id. The sex is carried by the parity of seq.
func makeID(id *[18]byte, area string, birth int32, seq int) {
	copy(id[:6], area)
	y, m, d := civil(int64(birth))
	put4(id[6:10], y)
	put2(id[10:12], m)
	put2(id[12:14], d)
	id[14] = byte('0' + seq/100)
	id[15] = byte('0' + seq/10%10)
	id[16] = byte('0' + seq%10)
	id[17] = checkChar(id[:])
}

// maskID is the display form of a resident ID in test messages (feed.Mask).
func maskID(id []byte) string { return feed.Mask(string(id)) }
