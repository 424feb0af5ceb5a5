package trigger

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// TestLayoutsFitTheWidth: the lines of `trigger mail`, `trigger event` and
// `trigger chat-message` at 80 and 120 columns (golden files): wrapped
// between words, the channel's ids whole.
func TestLayoutsFitTheWidth(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 2, 11, 13, 35, 0, time.FixedZone("CET", 3600))
	channel := "19:general@thread.tacv2"
	golden.AssertLayouts(t, golden.Layout{Name: "trigger", Whole: []string{"c5d4a8f3-2d1b-4b8e-9b9e-8f3c6f0e2a11/" + channel}, Print: func(width int) ([]byte, error) {
		return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
			cs := ios.OutScheme()
			for _, line := range []string{
				sentLine(cs, "hookctl test mail 1/3 (2026-12-02T11:13:35Z)", "adele@contoso.example"),
				sentLine(cs, "Quarterly numbers for the north-west region, with the forecast attached", "alex.wilber@contoso.example"),
				createdLine(cs, "Sprint review and planning for the release after next", "adele@contoso.example", start),
				postedLine(cs, "Deploy finished", "c5d4a8f3-2d1b-4b8e-9b9e-8f3c6f0e2a11", channel),
			} {
				if _, err := fmt.Fprintln(ios.Out, ios.Wrap(line)); err != nil {
					return err
				}
			}
			return nil
		})
	}})
}
