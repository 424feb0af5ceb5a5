// Package subscribe implements `hookctl subscribe`: create a Graph
// subscription for an endpoint that is already up, and remember it.
package subscribe

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// Options are every input of `hookctl subscribe`.
type Options struct {
	IO      *iostreams.IOStreams
	Graph   func() (*graph.Client, error)
	Store   func() (*substore.Store, error)
	Profile func() (auth.Profile, error)
	JSON    func() bool
	Secrets *logging.Secrets
	Now     func() time.Time

	// Resource is the argument: "inbox" or a resource path.
	Resource        string
	ChangeTypes     []string
	NotificationURL string
	LifecycleURL    string
	Expires         string
	ClientState     string
	Reveal          bool
}

// NewCmdSubscribe builds `hookctl subscribe`; runF replaces subscribeRun in tests.
func NewCmdSubscribe(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO: f.IOStreams, Graph: f.GraphClient, Store: f.SubscriptionStore, Profile: shared.ActiveProfile(f),
		JSON: f.JSON, Secrets: f.Secrets, Now: time.Now,
	}
	cmd := &cobra.Command{
		Use:   "subscribe {inbox | RESOURCE} --notification-url URL",
		Short: "Create a Graph subscription for an endpoint that is already up",
		Long: heredoc.Docf(`
			Ask Microsoft Graph to send change notifications for a resource to
			--notification-url, and remember the subscription (id, resource, clientState,
			expiry, URLs, profile) in hookctl's subscription store so that
			%[1]shookctl listen%[1]s can verify its notifications and %[1]shookctl subscriptions%[1]s
			can renew and delete it.

			%[1]sinbox%[1]s means the signed-in user's Inbox messages
			(%[1]sme/mailFolders('Inbox')/messages%[1]s), or the mailbox an app-only profile
			was signed in for (%[1]susers/{user}/mailFolders('Inbox')/messages%[1]s). Any
			other argument is a Graph resource path relative to the service root.

			Graph validates the endpoint before it answers: it POSTs a validationToken to
			the notification URL (and to the lifecycle URL) and expects it back within
			10 seconds. %[1]shookctl listen%[1]s answers on /notifications and /lifecycle; to
			have hookctl run the endpoint, the tunnel and the subscription in one go, use
			%[1]shookctl listen --subscribe inbox%[1]s instead.

			--lifecycle-url defaults to the notification URL with a final /notifications
			replaced by /lifecycle (else the notification URL itself).

			--expires takes max (the default: the longest lifetime Graph allows for the
			resource, less a minute), a duration such as 90m or 72h, or days such as 3d.
			A longer lifetime than Graph allows is shortened to the maximum, with a notice.

			--client-state defaults to 32 random bytes (base64url). It is a secret that
			Graph echoes in every notification; it is kept in the store (0600) and never
			printed unless you pass --reveal (to configure a receiver that is
			not hookctl, for example).
		`, "`"),
		Example: heredoc.Doc(`
			  # an endpoint already reachable from Graph (hookctl listen behind your own tunnel)
			  $ hookctl subscribe inbox --notification-url https://example.ngrok.app/notifications

			  # any resource and change types, for one day
			  $ hookctl subscribe "me/mailFolders('Archive')/messages" --change-type created,updated,deleted \
			      --notification-url https://hooks.example.com/notifications --expires 1d

			  # print the clientState too, for a receiver of your own
			  $ hookctl subscribe inbox --notification-url https://hooks.example.com/graph --reveal -o json
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Resource = args[0]
			if err := opts.check(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return subscribeRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.ChangeTypes, "change-type", []string{"created"}, "change types to subscribe to: created, updated, deleted (comma list or repeated)")
	fl.StringVar(&opts.NotificationURL, "notification-url", "", "HTTPS endpoint Graph posts notifications to (required)")
	fl.StringVar(&opts.LifecycleURL, "lifecycle-url", "", "HTTPS endpoint for lifecycle notifications (default: derived from --notification-url)")
	fl.StringVar(&opts.Expires, "expires", "max", "lifetime: max, a duration (90m, 72h) or days (3d)")
	fl.StringVar(&opts.ClientState, "client-state", "", "secret Graph echoes in each notification, at most 128 characters (default: 32 random bytes)")
	fl.BoolVar(&opts.Reveal, "reveal", false, "print the clientState (it is a secret: hidden by default)")
	return cmd
}

// check validates the command line before anything touches the network.
func (o *Options) check(cmd *cobra.Command) error {
	if strings.TrimSpace(o.Resource) == "" {
		return exitcode.Usagef("the resource is empty: use inbox or a Graph resource path such as me/messages")
	}
	if strings.Contains(o.Resource, "://") {
		return exitcode.Usagef("invalid resource %q: give the path relative to the Graph service root, e.g. me/mailFolders('Inbox')/messages", o.Resource)
	}
	o.Resource = strings.TrimLeft(strings.TrimSpace(o.Resource), "/")
	changeTypes, err := shared.ParseChangeTypes(o.ChangeTypes)
	if err != nil {
		return err
	}
	o.ChangeTypes = changeTypes
	if o.NotificationURL == "" {
		return exitcode.Usagef("--notification-url is required: the HTTPS endpoint Graph will call\n  To run the endpoint, a tunnel and the subscription together, use `hookctl listen --subscribe %s`", o.Resource)
	}
	if err := shared.CheckURL("notification-url", o.NotificationURL); err != nil {
		return err
	}
	if !cmd.Flags().Changed("lifecycle-url") || o.LifecycleURL == "" {
		o.LifecycleURL = DeriveLifecycleURL(o.NotificationURL)
	} else if err := shared.CheckURL("lifecycle-url", o.LifecycleURL); err != nil {
		return err
	}
	if _, err := shared.ParseExpires(o.Expires); err != nil {
		return err
	}
	if cmd.Flags().Changed("client-state") {
		if o.ClientState == "" {
			return exitcode.Usagef("--client-state is empty: leave the flag out to have one generated")
		}
		if len(o.ClientState) > graph.MaxClientStateLength {
			return exitcode.Usagef("--client-state is %d characters long: Graph accepts at most %d", len(o.ClientState), graph.MaxClientStateLength)
		}
	}
	return nil
}

// DeriveLifecycleURL is the lifecycle URL that goes with a notification URL:
// a final /notifications path segment becomes /lifecycle (hookctl listen's
// routes); any other URL serves both.
func DeriveLifecycleURL(notificationURL string) string {
	u, err := url.Parse(notificationURL)
	if err != nil {
		return notificationURL
	}
	if prefix, ok := strings.CutSuffix(u.Path, "/notifications"); ok {
		u.Path = prefix + "/lifecycle"
		u.RawPath = ""
		return u.String()
	}
	return notificationURL
}

func subscribeRun(ctx context.Context, o *Options) error {
	profile, err := o.Profile()
	if err != nil {
		return err
	}
	resource := o.Resource
	if resource, err = shared.ResolveResource(profile, resource); err != nil {
		return err
	}
	want, err := shared.ParseExpires(o.Expires)
	if err != nil {
		return err
	}
	clientState := o.ClientState
	if clientState == "" {
		if clientState, err = notification.NewClientState(); err != nil {
			return err
		}
	}
	o.Secrets.Add(clientState)
	client, err := o.Graph()
	if err != nil {
		return err
	}
	store, err := o.Store()
	if err != nil {
		return err
	}
	// A store that cannot be read now could not be written after Graph
	// creates the subscription either: fail before, not with an orphan.
	if _, err := store.List(ctx); err != nil {
		return err
	}
	expiry, notice := shared.Expiry(resource, want, o.Now())
	if notice != "" {
		fmt.Fprintf(o.IO.ErrOut, "%s %s\n", o.IO.ErrScheme().WarningIcon(), notice)
	}
	created, err := client.CreateSubscription(ctx, graph.Subscription{
		Resource: resource, ChangeType: strings.Join(o.ChangeTypes, ","), NotificationURL: o.NotificationURL,
		LifecycleNotificationURL: o.LifecycleURL, ExpirationDateTime: expiry, ClientState: clientState,
	})
	if err != nil {
		return explainCreateError(err, resource)
	}
	rec := substore.Record{
		ID: created.ID, Resource: created.Resource, ChangeType: created.ChangeType, ClientState: clientState,
		Expiry: created.ExpirationDateTime, NotificationURL: created.NotificationURL,
		LifecycleURL: firstNonEmpty(created.LifecycleNotificationURL, o.LifecycleURL), Profile: profile.Name,
	}
	if rec.Resource == "" {
		rec.Resource = resource
	}
	if err := store.Put(ctx, rec); err != nil {
		return fmt.Errorf("subscription %s was created but not saved, so hookctl cannot verify its notifications: %w\n  Delete it with `hookctl subscriptions delete %s` and try again", created.ID, err, created.ID)
	}
	view := shared.Merge(created, &rec, o.Now())
	view.Action = "created"
	if o.Reveal {
		view.ClientState = clientState
	}
	if o.JSON() {
		return shared.WriteJSON(o.IO.Out, view)
	}
	cs := o.IO.OutScheme()
	title := fmt.Sprintf("%s Subscribed to %s (%s)", cs.SuccessIcon(), cs.Bold(view.Resource), view.ChangeType)
	return shared.WriteBlock(o.IO.Out, cs, title, view, o.Now())
}

// validationCauses are the usual reasons Graph cannot validate an endpoint.
var validationCauses = []string{
	"Graph cannot reach the URL: it must be public HTTPS. For a local listener use a tunnel (`hookctl listen --subscribe` opens one).",
	"Wrong path: `hookctl listen` answers on /notifications and /lifecycle.",
	"The endpoint did not answer within 10 seconds with 200, text/plain and the decoded validationToken.",
}

// explainCreateError adds what to do next to Graph's refusal.
func explainCreateError(err error, resource string) error {
	switch {
	case graph.IsValidationFailure(err):
		var b strings.Builder
		fmt.Fprintf(&b, "Graph could not validate the endpoint, so no subscription was created: %v\n  Usual causes:", err)
		for _, cause := range validationCauses {
			fmt.Fprintf(&b, "\n  - %s", cause)
		}
		return fmt.Errorf("%s", b.String())
	case graph.IsForbidden(err):
		return fmt.Errorf("subscribing to %s: %w\n  The profile lacks a permission for this resource (for mail: Mail.Read), or an app-only profile may not read this mailbox", resource, err)
	case graph.IsUnauthorized(err):
		return exitcode.SignInNeeded(fmt.Errorf("subscribing to %s: %w\n  Run `hookctl login` again", resource, err))
	}
	return fmt.Errorf("subscribing to %s: %w", resource, err)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
