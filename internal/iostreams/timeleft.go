package iostreams

import (
	"fmt"
	"time"
)

// TimeLeft is how long until expiry for a person, coarsely, as every
// pretty line says it: "6d 23h", "3h 12m", "45s", "expired" ("unknown" for
// the zero time).
func TimeLeft(expiry, now time.Time) string {
	if expiry.IsZero() {
		return "unknown"
	}
	left := expiry.Sub(now)
	if left <= 0 {
		return "expired"
	}
	days := int(left / (24 * time.Hour))
	hours := int(left % (24 * time.Hour) / time.Hour)
	minutes := int(left % time.Hour / time.Minute)
	seconds := int(left % time.Minute / time.Second)
	// Two units at most, the second left out when it is zero.
	pair := func(big int, bigUnit string, small int, smallUnit string) string {
		if small == 0 {
			return fmt.Sprintf("%d%s", big, bigUnit)
		}
		return fmt.Sprintf("%d%s %d%s", big, bigUnit, small, smallUnit)
	}
	switch {
	case days > 0:
		return pair(days, "d", hours, "h")
	case hours > 0:
		return pair(hours, "h", minutes, "m")
	case minutes > 0:
		return pair(minutes, "m", seconds, "s")
	}
	return fmt.Sprintf("%ds", seconds)
}

// Clock is a time for a person, in the local zone and short: "11:13:35"
// on now's day, "Dec 01 11:13" on another.
func Clock(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 02 15:04")
}
