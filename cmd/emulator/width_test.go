package emulator

import (
	"fmt"
	"testing"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// TestLayoutsFitTheWidth: the pretty layouts of `hookctl emulator` at 80 and
// 120 columns (golden files): the settings block, `emulator env` (shell
// lines, never wrapped), what `emulator start` and `stop` say, and the lines
// of the control commands. URLs, paths, ids and commands stay whole.
func TestLayoutsFitTheWidth(t *testing.T) {
	t.Parallel()
	settings := emulator.Settings{URL: "https://127.0.0.1:44123", Authority: "https://127.0.0.1:44123/contoso.example",
		GraphURL: "https://127.0.0.1:44123/graph", ControlURL: "https://127.0.0.1:44123/_control", CAFile: "/home/adele/.local/state/hookctl/emulator/ca.pem",
		TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", Domain: "contoso.example",
		PublicClient:       emulator.PublicClient{ClientID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46"},
		ConfidentialClient: emulator.ConfidentialClient{ClientID: "0f2c4e6a-8b1d-4c3e-9f5a-7b6c8d9e0f1a", ClientSecret: "emulator-secret-not-for-production"},
		Users: []emulator.SettingsUser{{ID: "631e1d8c-7a2b-4f1e-9a3c-5d2e8f7b6a10", UserPrincipalName: "adele@contoso.example", DisplayName: "Adele Vance"},
			{ID: "87d349ed-44d7-43e1-9a83-5f2406dee5bd", UserPrincipalName: "alex.wilber@contoso.example", DisplayName: "Alex Wilber, Marketing Assistant (Seattle)"}}}
	stateFile := "/tmp/hookctl-docs/other/state.json"
	golden.AssertLayouts(t,
		golden.Layout{Name: "status", Whole: []string{settings.CAFile, settings.ControlURL + "/devicecode/approve"}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				return printPretty(ios, settings, false)
			})
		}},
		golden.Layout{Name: "env", Whole: []string{settings.CAFile}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				return printEnv(ios.Out, settings, 4242)
			})
		}},
		golden.Layout{Name: "start", Whole: []string{`eval "$(hookctl emulator env --state ` + stateFile + `)"`, "hookctl emulator stop --state " + stateFile}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				cs := ios.ErrScheme()
				ios.Warn("the emulator is reachable from other machines, and its control API is unauthenticated and mints tokens.")
				fmt.Fprintln(ios.ErrOut, startedMessage(cs, settings.URL, 4242, "/home/adele/.local/state/hookctl/emulator/emulator.log", "/home/adele/.local/state/hookctl/emulator/"+emulator.DefaultStateFile, ios.TerminalWidth()))
				fmt.Fprintln(ios.ErrOut, startedMessage(cs, settings.URL, 4242, "/tmp/hookctl-docs/emulator/emulator.log", stateFile, ios.TerminalWidth()))
				ios.Note(fmt.Sprintf("%s Emulator stopped (pid %d); state saved in %s.", cs.SuccessIcon(), 4242, stateFile))
				ios.Note(fmt.Sprintf("No emulator is running from %s.", "/tmp/hookctl-docs/emulator"))
				return nil
			})
		}},
		golden.Layout{Name: "control", Whole: []string{"AAMkAGI2THVSAAA0r4dX8wAAAAAAABBBBBCCCCC="}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				cs := ios.OutScheme()
				fmt.Fprintln(ios.Out, ios.Wrap(createdLine(cs, fmt.Sprintf("Delivered %q to %s", "Quarterly numbers for the north-west region", "adele@contoso.example"), "AAMkAGI2THVSAAA0r4dX8wAAAAAAABBBBBCCCCC=")))
				fmt.Fprintln(ios.Out, ios.Wrap(createdLine(cs, "Created an event in adele@contoso.example's calendar", "AAMkAGI2THVSAAA0r4dX8wAAAAAAABBBBBCCCCC=")))
				ios.Warn(fmt.Sprintf("Subscription %s has no lifecycleNotificationUrl: %s applied, nothing sent", "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", "subscriptionRemoved"))
				fmt.Fprintln(ios.Out, ios.Wrap(cs.SuccessIcon()+" Applied subscriptionRemoved for subscription 7f105c7d-2dc5-4530-97cd-4e7ae6534c07 (subscription removed)"))
				return nil
			})
		}},
	)
}
