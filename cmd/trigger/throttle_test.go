package trigger_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
)

// A throttled Graph call says so on stderr, once per wait over a second, in
// every command (not only under --debug): here trigger mail.
func TestThrottleWaitIsAStatusLine(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	c.LoginUser("default")
	c.Em.Graph.SetFaults(graphsim.Faults{ThrottleRate: 1, RetryAfter: graphsim.Duration(3 * time.Second)})
	var retries atomic.Int64
	res := c.RunWith(clitest.NoRetryWait("default", &retries), "trigger", "mail", "--subject", "throttled")
	if res.Code == 0 || retries.Load() != 4 {
		t.Fatalf("exit %d after %d retries\n%s", res.Code, retries.Load(), res.Stderr)
	}
	for attempt := 2; attempt <= 5; attempt++ {
		want := "! Graph throttled the request; retrying in 3s (attempt " + string(rune('0'+attempt)) + " of 5)\n"
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
}
