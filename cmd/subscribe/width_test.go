package subscribe

import (
	"testing"
	"time"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// TestLayoutsFitTheWidth: what `hookctl subscribe` prints at 80 and 120
// columns (golden files): the new subscription's block under its title, and
// the notices on stderr, wrapped between words; ids, URLs and paths whole.
func TestLayoutsFitTheWidth(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 11, 13, 35, 0, time.Local)
	view := shared.View{ID: "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", Resource: "teams/c5d4a8f3-2d1b-4b8e-9b9e-8f3c6f0e2a11/channels/19:general@thread.tacv2/messages",
		ChangeType: "created,updated,deleted", State: shared.StateActive, Expiry: now.Add(time.Hour - time.Minute), Hookctl: true, Profile: "default",
		NotificationURL: "https://3f2a-203-0-113-7.ngrok-free.app/notifications", IncludeResourceData: true, EncryptionCertificateID: "hookctl-5f0c2b1e9d6a4c3f8e7d6c5b4a392817",
		EncryptionCertificate: "hookctl's own (profile default)"}
	golden.AssertLayouts(t, golden.Layout{Name: "subscribe", Whole: []string{view.ID, view.NotificationURL, "/home/adele/.local/state/hookctl/keys/default.pem"},
		Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				ios.Warn(`--expires 10d is past Graph's maximum for teams/…/messages (3d): using Dec 05 11:13 (in 3d)`)
				ios.Warn(noPrivateKey("./certs/graph-notifications.pem"))
				ios.Note(createdKeyPair("default", "hookctl-5f0c2b1e9d6a4c3f8e7d6c5b4a392817", "/home/adele/.local/state/hookctl/keys/default.pem"))
				return shared.WriteBlock(ios, subscribedTitle(ios.OutScheme(), view, width), view, now)
			})
		}})
}
