package cmd

import (
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/graph"
)

// TestNoticesFitTheWidth: the lines every command may print on stderr, at
// 80 and 120 columns (golden files): the throttling notice and the warnings
// about settings that do nothing, wrapped between words, paths whole.
func TestNoticesFitTheWidth(t *testing.T) {
	t.Parallel()
	file := "/home/adele/.config/hookctl/config.yaml"
	f, _, _ := testFactory(t, nil)
	root := NewCmdRoot(f)
	golden.AssertLayouts(t, golden.Layout{Name: "notices", Whole: []string{file}, Print: func(width int) ([]byte, error) {
		return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
			throttleNotice(ios)(graph.Throttle{Wait: 3 * time.Second, Attempt: 2, MaxAttempts: 5})
			ios.Note(ignoredKeyWarning(file, "listen.adr", checkKey(root, "listen.adr")))
			ios.Note(ignoredKeyWarning(file, "subscriptions.lst.expires", checkKey(root, "subscriptions.lst.expires")))
			ios.Note(ignoredEnvWarning("HOOKCTL_LISTEN_SUBSCRIBE", "subscribe"))
			return nil
		})
	}})
}

// TestErrorFitsTheWidth: an error as Run prints it (the failure icon, then
// the message through Note), at 80 and 120 columns (golden files): its
// sentences wrap between words, the command of its advice whole.
func TestErrorFitsTheWidth(t *testing.T) {
	t.Parallel()
	id := "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
	golden.AssertLayouts(t, golden.Layout{Name: "error", Whole: []string{"`hookctl subscriptions delete " + id + "`"},
		Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				ios.Note(ios.ErrScheme().FailureIcon() + " renewing " + id + ": Graph no longer has subscription " + id +
					" (it expired or was deleted)\n  Remove it from hookctl's store with `hookctl subscriptions delete " + id + "`")
				return nil
			})
		}})
}
