package login

import (
	"testing"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// TestLayoutsFitTheWidth: what `hookctl login` says on stderr at 80 and 120
// columns (golden files): the device code message and the sentences before
// the sign-in URL wrapped between words, the URL and the code whole, and
// who signed in.
func TestLayoutsFitTheWidth(t *testing.T) {
	t.Parallel()
	signInURL := "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?state=x"
	golden.AssertLayouts(t, golden.Layout{Name: "login", Whole: []string{signInURL, "`hookctl login`", "https://microsoft.com/devicelogin", "ABCD-EFGH"},
		Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				ios.Note("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD-EFGH to authenticate.")
				ios.Note(openThisURL + "\n  " + signInURL)
				ios.Note(openingBrowser + "\n  " + signInURL)
				ios.Warn(noBrowser)
				ios.Note(ios.ErrScheme().SuccessIcon() + " " + auth.DescribeLogin(auth.Profile{Name: "default", Kind: auth.KindUser,
					Username: "adele@contoso.example", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47"}))
				ios.Note(ios.ErrScheme().SuccessIcon() + " " + auth.DescribeLogin(auth.Profile{Name: "ci", Kind: auth.KindApp, ClientID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
					CertificateFile: "/home/adele/.config/hookctl/ci.pem", User: "alerts@contoso.example", Tenant: "contoso.onmicrosoft.com"}))
				return nil
			})
		}})
}
