package demo

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// TestNarrationFitsTheWidth: the demo's narration at 80 and 120 columns
// (golden files): each step wraps between words, the commands it names
// kept whole on one line.
func TestNarrationFitsTheWidth(t *testing.T) {
	t.Parallel()
	channel := "c5d4a8f3-2d1b-4b8e-9b9e-8f3c6f0e2a11/19:general@thread.tacv2"
	golden.AssertLayouts(t, golden.Layout{Name: "narration",
		Whole: []string{"hookctl login", "hookctl listen --subscribe inbox --fetch", "hookctl listen --subscribe inbox --fetch --tunnel none", `"channel ` + channel + `"`},
		Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				r := &run{opts: &Options{IO: ios}}
				r.say("Starting the emulator (Microsoft Graph and the identity platform on 127.0.0.1)…")
				r.say("Starting " + iostreams.Unbroken("hookctl listen --subscribe inbox --fetch --tunnel none") + "…")
				r.say(`hookctl resynced through a messages delta query: the lost mail is shown, marked "resynced".`)
				r.say(fmt.Sprintf("Two listeners in the consumer group \"demo\": A reads partitions %v, B reads %v.", []int32{0, 1}, []int32{2, 3}))
				r.say(startingTeamsListener(channel))
				r.say(nextSteps(4200 * time.Millisecond))
				return nil
			})
		}})
}
