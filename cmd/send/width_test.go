package send

import (
	"fmt"
	"testing"

	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/teams"
)

// TestLayoutsFitTheWidth: the pretty lines of `send notification` and `send
// teams` at 80 and 120 columns (golden files): ids whole, lines wrapped
// between words, the bot's reply wrapped too.
func TestLayoutsFitTheWidth(t *testing.T) {
	t.Parallel()
	subID := "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
	results := []postResult{
		{Status: 202, DurationMs: 1.4, OK: true, NotificationID: "a1c0de55-7f3e-4a39-9f54-6c1b2d1e0f42", NotificationIDs: []string{"a1c0de55-7f3e-4a39-9f54-6c1b2d1e0f42"}, SubscriptionID: subID},
		{Status: 202, DurationMs: 12.25, OK: true, NotificationIDs: []string{"a", "b", "c"}, SubscriptionID: subID},
		{Status: 202, DurationMs: 0.8, OK: true, LifecycleEvent: "reauthorizationRequired", SubscriptionID: subID},
		{Status: 500, DurationMs: 3, Error: "500 Internal Server Error: the endpoint failed; Graph retries for up to 4 hours, then drops the notification", NotificationIDs: []string{"a"}, NotificationID: "a", SubscriptionID: subID},
	}
	reply := &teams.Reply{Type: "message", Text: "Deploying release/2.4 to staging now; the smoke tests follow and I will post their results in this thread.\nSee https://ci.contoso.example/runs/4242 for the log.",
		Attachments: []teams.Attachment{{ContentType: "application/vnd.microsoft.card.adaptive"}}}
	golden.AssertLayouts(t,
		golden.Layout{Name: "notification", Whole: []string{subID, "a1c0de55-7f3e-4a39-9f54-6c1b2d1e0f42"}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				for _, result := range results {
					if err := printResult(&NotificationOptions{IO: ios}, result); err != nil {
						return err
					}
				}
				_, err := fmt.Fprintln(ios.Out, ios.Wrap(handshakeLine(ios.OutScheme(), 200, "text/plain; charset=utf-8", 2.5)))
				return err
			})
		}},
		golden.Layout{Name: "teams", Whole: []string{"https://ci.contoso.example/runs/4242"}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				printReply(ios, reply)
				ios.Note(answeredLine(ios.ErrScheme(), 200, "bot.contoso.example:3978", 41.7))
				return nil
			})
		}},
	)
}
