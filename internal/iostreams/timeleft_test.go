package iostreams

import (
	"testing"
	"time"
)

func TestTimeLeft(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		-time.Second: "expired", 0: "expired", 45 * time.Second: "45s", 3*time.Minute + 2*time.Second: "3m 2s",
		3*time.Hour + 12*time.Minute: "3h 12m", 7*24*time.Hour - time.Minute: "6d 23h", 2 * time.Hour: "2h", 48 * time.Hour: "2d", time.Minute: "1m",
	} {
		if got := TimeLeft(now.Add(d), now); got != want {
			t.Errorf("TimeLeft(%v) = %q, want %q", d, got, want)
		}
	}
	if got := TimeLeft(time.Time{}, now); got != "unknown" {
		t.Errorf("zero expiry: %q", got)
	}
}
