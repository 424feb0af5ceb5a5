package subscriptions

import (
	"testing"
	"time"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// TestListTableFitsTheWidth: the pretty table of `subscriptions list` at 80
// and 120 columns (golden files): no line wider than the terminal, short
// unique ids, times as "in 6d 23h".
func TestListTableFitsTheWidth(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 11, 13, 35, 0, time.UTC)
	views := []shared.View{
		{ID: "3e9376a6-0fa8-455f-80d9-f3a53b0c66bd", Resource: "me/mailFolders('Inbox')/messages", ChangeType: "created", State: shared.StateActive,
			Expiry: now.Add(6*24*time.Hour + 23*time.Hour + 59*time.Minute), Hookctl: true, NotificationURL: "https://hooks.example.com/notifications"},
		{ID: "a1c0de55-7f3e-4a39-9f54-6c1b2d1e0f42", Resource: "me/messages", ChangeType: "deleted", State: shared.StateActive,
			Expiry: now.Add(59*time.Minute + 12*time.Second), NotificationURL: "https://ops.example.com/graph"},
		{ID: "a1c0de55-0000-4e8a-b1a2-9c8d7e6f5a4b", Resource: "me/messages", ChangeType: "created,updated", State: shared.StateStale,
			Expiry: now.Add(time.Hour), Hookctl: true, NotificationURL: "https://3f2a-203-0-113-7.ngrok-free.app/notifications"},
		{ID: "5b7e2f10-3d4c-4e8a-b1a2-9c8d7e6f5a4b", Resource: "users/87d349ed-44d7-43e1-9a83-5f2406dee5bd/mailFolders('Inbox')/messages", ChangeType: "created",
			State: shared.StateExpired, Expiry: now.Add(-time.Minute), Hookctl: true, NotificationURL: "https://hooks.example.com/notifications"},
	}
	for _, width := range golden.Widths {
		ios, _, out, _ := iostreams.Test()
		ios.SetWidth(width)
		o := &ListOptions{Deps: Deps{IO: ios, Now: func() time.Time { return now }}}
		if err := writeTable(o, views); err != nil {
			t.Fatal(err)
		}
		golden.AssertFits(t, "list", width, out.Bytes())
	}
}

// TestLayoutsFitTheWidth: every other pretty layout of `hookctl
// subscriptions` at 80 and 120 columns (golden files): the show block, the
// lines renew, reauthorize and delete print (the id whole, a long resource
// cut with "…"), and the messages on stderr, wrapped between words.
func TestLayoutsFitTheWidth(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 11, 13, 35, 0, time.UTC)
	id := "5b7e2f10-3d4c-4e8a-b1a2-9c8d7e6f5a4b"
	long := "users/87d349ed-44d7-43e1-9a83-5f2406dee5bd/mailFolders('Inbox')/messages"
	view := shared.View{ID: id, Resource: long, ChangeType: "created,updated", State: shared.StateStale, Note: "in hookctl's store but gone from Graph",
		Expiry: now.Add(6*24*time.Hour + 23*time.Hour), Hookctl: true, Profile: "default", NotificationURL: "https://3f2a-203-0-113-7.ngrok-free.app/notifications",
		LifecycleURL: "https://3f2a-203-0-113-7.ngrok-free.app/lifecycle", ApplicationID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", IncludeResourceData: true,
		EncryptionCertificateID: "hookctl-default-1", EncryptionCertificate: "/home/adele/.config/hookctl/keys/default-1.pem"}
	golden.AssertLayouts(t,
		golden.Layout{Name: "show", Whole: []string{id, view.NotificationURL}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				cs := ios.OutScheme()
				return shared.WriteBlock(ios, "Subscription "+cs.Bold(id), view, now)
			})
		}},
		golden.Layout{Name: "outcomes", Whole: []string{id}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				cs := ios.OutScheme()
				for _, resource := range []string{"me/mailFolders('Inbox')/messages", long} {
					if err := shared.WriteOutcome(ios, cs.SuccessIcon()+" Renewed", id, resource, "until 2026-12-09T10:13:35Z "+cs.Gray("(in 6d 23h)")); err != nil {
						return err
					}
					if err := shared.WriteOutcome(ios, cs.SuccessIcon()+" Reauthorized", id, resource, ""); err != nil {
						return err
					}
					if err := shared.WriteOutcome(ios, cs.SuccessIcon()+" Deleted", id, resource, ""); err != nil {
						return err
					}
					if err := shared.WriteOutcome(ios, cs.WarningIcon(), id, resource, "was already gone from Graph: removed it from hookctl's store"); err != nil {
						return err
					}
				}
				return shared.WriteOutcome(ios, cs.WarningIcon(), id, "", "was already gone from Graph (and not in hookctl's store)")
			})
		}},
		golden.Layout{Name: "messages", Whole: []string{"`hookctl subscriptions delete " + id + "`"}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				ios.Note(noSubscriptions("default"))
				ios.Note(`No subscriptions made by hookctl for profile "default" to reauthorize.`)
				ios.Warn(notFoundHint(id, true))
				ios.Warn(notFoundHint(id, false))
				ios.Warn(noClientState)
				return nil
			})
		}},
	)
}
