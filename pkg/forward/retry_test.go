package forward_test

import (
	"testing"
	"time"

	"github.com/hookctl/hookctl/pkg/forward"
)

// The delays docs/listen.md states: 1 s doubling to at most a minute, each
// up to a tenth longer.
func TestRetryDelayDoublesAsDocumented(t *testing.T) {
	t.Parallel()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, base := range want {
		for _, jitter := range []float64{0, 0.5, 0.999} {
			got := forward.RetryDelay(i+1, time.Second, time.Minute, jitter)
			if got < base || got >= base+base/10+time.Millisecond {
				t.Errorf("attempt %d, jitter %v: %s, want %s to %s", i+1, jitter, got, base, base+base/10)
			}
		}
	}
	if got := forward.RetryDelay(200, time.Second, time.Minute, 0); got != time.Minute {
		t.Errorf("attempt 200: %s", got)
	}
}
