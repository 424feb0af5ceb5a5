package logout

import (
	"fmt"
	"testing"

	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// TestLayoutsFitTheWidth: what `hookctl logout` says at 80 and 120 columns
// (golden files; the lines fit both).
func TestLayoutsFitTheWidth(t *testing.T) {
	t.Parallel()
	golden.AssertLayouts(t, golden.Layout{Name: "logout", Print: func(width int) ([]byte, error) {
		return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
			ios.Note(signedOutLine(ios.ErrScheme(), "adele@contoso.example", "default"))
			ios.Note(signedOutLine(ios.ErrScheme(), "app 04b07795-8ddb-461a-bbee-02f9e1bf7b46 for alerts@contoso.example", "production-alerts"))
			ios.Note("No profile was signed in")
			ios.Note(fmt.Sprintf("Profile %q was not signed in", "work"))
			return nil
		})
	}})
}
