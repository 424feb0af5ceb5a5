package connector

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/connector"
)

// TestLayoutsFitTheWidth: the pretty layouts of `hookctl connector` at 80
// and 120 columns (golden files): lint's findings, the trigger blocks, the
// steps and verdict of `connector test`, and what `connector fire` got back.
// Long messages wrap between words; URLs stay whole; a body is cut with "…".
func TestLayoutsFitTheWidth(t *testing.T) {
	t.Parallel()
	findings := []connector.Finding{
		{Rule: connector.RuleNotificationURLMissing, Severity: connector.SeverityError, Pointer: "/paths/~1hooks/post/parameters/0/schema/properties",
			Message: "the webhook's body has no property marked x-ms-notification-url: true, so the platform has nowhere to put the callback URL"},
		{Rule: connector.RuleWebhookMissingDelete, Severity: connector.SeverityWarning, Pointer: "/paths/~1hooks/post", Message: "no DELETE operation unregisters the webhook"},
	}
	deleteID := "DeleteHook"
	triggers := []*connector.Trigger{
		{OperationID: "WhenAnOrderIsPlacedInTheNorthWestRegionStore", Method: "POST", Path: "/stores/{storeId}/regions/{regionId}/hooks", Kind: "single",
			CallbackField: "notificationUrl", NotificationSchema: "inline", DeleteOperationID: &deleteID,
			Hint: "the DELETE operation's id parameter is not in the registration's Location header; the platform cannot unregister the webhook"},
		{OperationID: "OnNewItem", Method: "POST", Path: "/hooks", Kind: "batch"},
	}
	valid, invalid := true, false
	body := []byte(`{"orderId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","store":"north-west","total":{"amount":129.5,"currency":"EUR"},"placedAt":"2026-12-02T11:13:35Z"}`)
	location := "https://api.contoso.example/hooks/7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
	events := []connector.Event{
		connector.CallbackReady{URL: "https://3f2a-203-0-113-7.ngrok-free.app/callback"},
		connector.Registered{Status: http.StatusCreated, Location: location},
		connector.FindingEvent{Finding: findings[0]},
		connector.Waiting{Count: 2, Timeout: "30s"},
		connector.Notification{Body: body, SchemaValid: &valid},
		connector.Notification{Body: body, SchemaValid: &invalid, SchemaErrors: []string{"/total/amount: expected integer, but got number (the schema says amounts are in cents)"}},
		connector.TimedOut{Count: 2, Received: 1},
		connector.Unregistered{Status: http.StatusNotFound, Location: location},
		connector.Kept{Location: location, Reason: "--keep was given: the webhook stays registered for the next run"},
	}
	golden.AssertLayouts(t,
		golden.Layout{Name: "lint", Whole: []string{"at " + findings[0].Pointer}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				if err := writeLintPretty(ios, []fileFindings{{file: "/x/apiDefinition.swagger.json", findings: findings}}); err != nil {
					return err
				}
				return writeLintPretty(ios, nil)
			})
		}},
		golden.Layout{Name: "triggers", Whole: []string{"/stores/{storeId}/regions/{regionId}/hooks"}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				if err := writeTriggersPretty(ios, triggers); err != nil {
					return err
				}
				return writeTriggersPretty(ios, nil)
			})
		}},
		golden.Layout{Name: "test", Whole: []string{location}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				ios.Warn("callback on " + "http://127.0.0.1:8080 is reachable only from this machine: a remote API cannot deliver to it; use --tunnel ngrok or --public-url")
				r := newTestRenderer(ios, false)
				for _, e := range events {
					r.event(e)
				}
				for _, res := range []connector.Result{{Errors: 1, Invalid: 1}, {TimedOut: true}, {Received: 2}} {
					if err := r.summary(res, false); err != nil {
						return err
					}
				}
				return nil
			})
		}},
		golden.Layout{Name: "fire", Whole: []string{"https://prod-12.westeurope.logic.azure.com/workflows/0f2c/invoke"}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				cs := ios.OutScheme()
				_, err := fmt.Fprintln(ios.Out, firedLines(cs, cs.SuccessIcon(), http.StatusAccepted,
					"https://prod-12.westeurope.logic.azure.com/workflows/0f2c/invoke?sig=REDACTED", body, width))
				return err
			})
		}},
	)
}
