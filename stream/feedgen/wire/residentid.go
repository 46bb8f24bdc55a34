package wire

// Resident ID numbers (GB 11643-1999): six digits of area code, eight of birth date YYYYMMDD,
// three of sequence (odd 17th digit for men, even for women) and an ISO 7064 MOD 11-2 check
// character, 0–9 or X.

// idWeights are the GB 11643 weights of the first 17 digits (2^(17-i) mod 11).
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// IDCheckChars maps the weighted sum mod 11 to the check character.
const IDCheckChars = "10X98765432"

// CheckChar returns the GB 11643 check character of the first 17 digits of id.
func CheckChar(id []byte) byte {
	s := 0
	for i := 0; i < 17; i++ {
		s += int(id[i]-'0') * idWeights[i]
	}
	return IDCheckChars[s%11]
}

// MakeID writes a resident ID for the area, birth day (days since 1970-01-01) and sequence
// number 0–999 into id. The sex is carried by the parity of seq.
func MakeID(id *[18]byte, area string, birth int32, seq int) {
	copy(id[:6], area)
	y, m, d := Civil(int64(birth))
	put4(id[6:10], y)
	put2(id[10:12], m)
	put2(id[12:14], d)
	id[14] = byte('0' + seq/100)
	id[15] = byte('0' + seq/10%10)
	id[16] = byte('0' + seq%10)
	id[17] = CheckChar(id[:])
}
