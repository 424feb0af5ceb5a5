package emulator

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// lifecycleEvents are the events Graph sends to a lifecycleNotificationUrl.
var lifecycleEvents = []string{graphsim.LifecycleReauthorizationRequired, graphsim.LifecycleSubscriptionRemoved, graphsim.LifecycleMissed}

// LifecycleOptions are every input of `hookctl emulator lifecycle`.
type LifecycleOptions struct {
	Control

	SubscriptionID string
	Event          string
}

// NewCmdLifecycle builds `hookctl emulator lifecycle`; runF replaces lifecycleRun in tests.
func NewCmdLifecycle(f *factory.Factory, runF func(*LifecycleOptions) error) *cobra.Command {
	opts := &LifecycleOptions{Control: newControl(f)}
	cmd := &cobra.Command{
		Use:   "lifecycle SUBSCRIPTION-ID EVENT",
		Short: "Make the emulator send a lifecycle event for a subscription",
		Long: heredoc.Docf(`
			Send a lifecycle notification to a subscription's lifecycleNotificationUrl on a
			running emulator, and apply what the event means:

			  reauthorizationRequired  renewals (PATCH) fail until the app calls
			                           POST /subscriptions/{id}/reauthorize (an
			                           emulator started with --renew-reauthorizes
			                           lets a renewal clear it, as Microsoft does)
			  subscriptionRemoved      the subscription is deleted
			  missed                   nothing changes; the receiver should resync

			A subscription without a lifecycleNotificationUrl still changes state, but
			nothing is sent (a warning says so). The emulator is found at --emulator-url
			(%[1]sHOOKCTL_EMULATOR_URL%[1]s), else from %[1]sHOOKCTL_GRAPH_URL%[1]s; its CA is trusted
			from %[1]sHOOKCTL_CA_FILE%[1]s. The lines %[1]shookctl emulator env%[1]s prints set both.
		`, "`"),
		Example: heredoc.Doc(`
			  $ hookctl emulator lifecycle 7f105c7d-2dc5-4530-97cd-4e7ae6534c07 reauthorizationRequired
			  $ hookctl emulator lifecycle 7f105c7d-2dc5-4530-97cd-4e7ae6534c07 missed -o json
		`),
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 1 {
				return lifecycleEvents, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.SubscriptionID = strings.TrimSpace(args[0])
			if opts.SubscriptionID == "" {
				return exitcode.Usagef("the subscription id is empty: GET /v1.0/subscriptions (or the emulator's GET /_emulator/subscriptions) lists them")
			}
			event, ok := canonicalEvent(args[1])
			if !ok {
				return exitcode.Usagef("unknown lifecycle event %q: use one of %s", args[1], strings.Join(lifecycleEvents, ", "))
			}
			opts.Event = event
			opts.EmulatorURL = emulatorURL(f, cmd, opts.EmulatorURL)
			if runF != nil {
				return runF(opts)
			}
			return lifecycleRun(cmd.Context(), opts)
		},
	}
	addEmulatorURLFlag(cmd, &opts.EmulatorURL)
	return cmd
}

// canonicalEvent accepts an event name in any letter case.
func canonicalEvent(name string) (string, bool) {
	for _, e := range lifecycleEvents {
		if strings.EqualFold(e, strings.TrimSpace(name)) {
			return e, true
		}
	}
	return "", false
}

func lifecycleRun(ctx context.Context, o *LifecycleOptions) error {
	var result graphsim.LifecycleResult
	path := "/subscriptions/" + url.PathEscape(o.SubscriptionID) + "/lifecycle"
	if err := o.call(ctx, path, map[string]string{"event": o.Event}, &result); err != nil {
		return err
	}
	if o.JSON() {
		return iostreams.WriteJSONLine(o.IO.Out, "lifecycle-sent", result)
	}
	if !result.Sent {
		o.IO.Warn(fmt.Sprintf("Subscription %s has no lifecycleNotificationUrl: %s applied, nothing sent", result.SubscriptionID, result.Event))
	}
	scheme := o.IO.OutScheme()
	verb := "Sent"
	if !result.Sent {
		verb = "Applied"
	}
	line := fmt.Sprintf("%s %s %s for subscription %s", scheme.SuccessIcon(), verb, result.Event, result.SubscriptionID)
	if result.Removed {
		line += " (subscription removed)"
	}
	_, err := fmt.Fprintln(o.IO.Out, o.IO.Wrap(line))
	return err
}
