package wire

// Hand-written date formatting: the generator formats a few dates per event, and
// time.Time.AppendFormat would dominate its cost.

const (
	secondsPerDay = 86400
	// chinaOffset is UTC+08:00, the zone agencies stamp their events in.
	chinaOffset = 8 * 3600
)

// Civil converts days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
// days_from_civil inverse).
func Civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd := doy - (153*mp+2)/5 + 1
	mm := mp + 3
	if mp >= 10 {
		mm = mp - 9
	}
	if mm <= 2 {
		yy++
	}
	return int(yy), int(mm), int(dd)
}

// DaysFromCivil is the inverse of Civil.
func DaysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := int64(y - era*400)
	mp := int64(m + 9)
	if m > 2 {
		mp = int64(m - 3)
	}
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + doe - 719468
}

func put2(b []byte, v int) {
	b[0] = byte('0' + v/10%10)
	b[1] = byte('0' + v%10)
}

func put4(b []byte, v int) {
	b[0] = byte('0' + v/1000%10)
	b[1] = byte('0' + v/100%10)
	b[2] = byte('0' + v/10%10)
	b[3] = byte('0' + v%10)
}

// AppendDate appends YYYY-MM-DD for days since 1970-01-01.
func AppendDate(b []byte, days int64) []byte {
	y, m, d := Civil(days)
	var s [10]byte
	put4(s[0:4], y)
	s[4] = '-'
	put2(s[5:7], m)
	s[7] = '-'
	put2(s[8:10], d)
	return append(b, s[:]...)
}

// AppendRFC3339 appends the Unix time t as RFC 3339 in China Standard Time,
// e.g. 2024-05-03T14:07:21+08:00.
func AppendRFC3339(b []byte, t int64) []byte {
	local := t + chinaOffset
	days := local / secondsPerDay
	sec := local % secondsPerDay
	if sec < 0 {
		sec += secondsPerDay
		days--
	}
	b = AppendDate(b, days)
	var s [15]byte
	s[0] = 'T'
	put2(s[1:3], int(sec/3600))
	s[3] = ':'
	put2(s[4:6], int(sec/60%60))
	s[6] = ':'
	put2(s[7:9], int(sec%60))
	copy(s[9:], "+08:00")
	return append(b, s[:]...)
}
