// Package subscribe implements `hookctl subscribe`: create a Graph
// subscription for an endpoint that is already up, and remember it.
package subscribe

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/enccert"
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
	// StateDir is where hookctl keeps the profile's own encryption key pair.
	StateDir func() (string, error)
	// Env reads the environment (--encryption-cert-password-env).
	Env func(string) (string, bool)

	// Resource is the argument: a short name (inbox, events, channel T/C, ...)
	// or a resource path.
	Resource        string
	ChangeTypes     []string
	NotificationURL string
	// LifecycleURL is empty for none (--lifecycle-url none).
	LifecycleURL string
	Expires      string
	ClientState  string
	Reveal       bool

	IncludeResourceData bool
	// EncryptionCert is a PEM or .pfx file; empty for hookctl's own key pair.
	EncryptionCert            string
	EncryptionCertPasswordEnv string
	TLSVersion                string
	NotificationURLAppID      string
	QueryOptions              string

	// EventHub, EventHubVault and TenantDomain deliver to a hub (eventhub.go).
	EventHub, EventHubVault, TenantDomain string
}

// noLifecycleURL is the --lifecycle-url value that sends none.
const noLifecycleURL = "none"

// tlsVersions are the values of latestSupportedTlsVersion.
var tlsVersions = []string{"v1_0", "v1_1", "v1_2", "v1_3"}

// NewCmdSubscribe builds `hookctl subscribe`; runF replaces subscribeRun in tests.
func NewCmdSubscribe(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO: f.IOStreams, Graph: f.GraphClient, Store: f.SubscriptionStore, Profile: shared.ActiveProfile(f),
		JSON: f.JSON, Secrets: f.Secrets, Now: time.Now, Env: f.Env,
		StateDir: func() (string, error) {
			cfg, err := f.Config()
			if err != nil {
				return "", err
			}
			return cfg.StateDir, nil
		},
	}
	cmd := &cobra.Command{
		Use:   "subscribe {SHORT-NAME | RESOURCE} --notification-url URL",
		Short: "Create a Graph subscription for an endpoint that is already up",
		Long: heredoc.Docf(`
			Ask Microsoft Graph to send change notifications for a resource to
			--notification-url, and remember the subscription (id, resource, clientState,
			expiry, URLs, profile) in hookctl's subscription store so that
			%[1]shookctl listen%[1]s can verify its notifications and %[1]shookctl subscriptions%[1]s
			can renew and delete it.

			The resource is a short name or a Graph resource path relative to the service
			root (%[1]sme/mailFolders('Archive')/messages%[1]s). Short names, with the Graph
			permission each needs (delegated / application):

			%[2]s
			Names marked * act on the signed-in user (%[1]sme/...%[1]s), or on the mailbox an
			app-only profile was signed in for (%[1]susers/{user}/...%[1]s).

			hookctl knows each resource's rules (see docs/subscriptions.md): its longest
			lifetime, the change types it supports (a drive root only %[1]supdated%[1]s; users
			and groups %[1]supdated,deleted%[1]s), whether it can include resource data, and
			whether it needs a lifecycle URL (Teams resources expiring more than an hour
			away). A request that breaks a rule is refused before it reaches Graph.
			--change-type defaults to created, or the resource's first change type. Paths
			hookctl does not know go to Graph as given.

			Graph validates the endpoint before it answers: it POSTs a validationToken to
			the notification URL (and to the lifecycle URL) and expects it back within
			10 seconds. %[1]shookctl listen%[1]s answers on /notifications and /lifecycle; to
			have hookctl run the endpoint, the tunnel and the subscription in one go, use
			%[1]shookctl listen --subscribe inbox%[1]s instead.

			--lifecycle-url defaults to the notification URL with a final /notifications
			replaced by /lifecycle (else the notification URL itself); none sends none.

			--include-resource-data asks for rich notifications: each carries the changed
			resource, encrypted with a certificate. hookctl uses a key pair of its own
			(RSA 2048, self-signed, created on first use for the profile, kept 0600 in
			the state directory) unless --encryption-cert names a PEM or .pfx file (its
			password in the environment variable --encryption-cert-password-env names).
			Outlook resources need a $select for rich notifications: short names get one.
			See docs/rich-notifications.md.

			--expires takes max (the default: the longest lifetime Graph allows for the
			resource, less a minute), a duration such as 90m or 72h, or days such as 3d.
			A longer lifetime than Graph allows is shortened to the maximum, with a notice.

			--client-state defaults to 32 random bytes (base64url). It is a secret that
			Graph echoes in every notification; it is kept in the store (0600) and never
			printed unless you pass --reveal (to configure a receiver that is
			not hookctl, for example).
		`, "`", shortNameHelp()),
		Example: heredoc.Doc(`
			  # an endpoint already reachable from Graph (hookctl listen behind your own tunnel)
			  $ hookctl subscribe inbox --notification-url https://example.ngrok.app/notifications

			  # any resource and change types, for one day
			  $ hookctl subscribe "me/mailFolders('Archive')/messages" --change-type created,updated,deleted \
			      --notification-url https://hooks.example.com/notifications --expires 1d

			  # print the clientState too, for a receiver of your own
			  $ hookctl subscribe inbox --notification-url https://hooks.example.com/graph --reveal -o json

			  # Deliver to an Azure Event Hubs hub instead (read it with listen --event-hub-env; docs/scale.md)
			  $ hookctl subscribe inbox --event-hub contoso-graph/notifications --tenant-domain contoso.onmicrosoft.com

			  # a Teams channel's messages, with the message in each notification (encrypted)
			  $ hookctl subscribe channel 8b081ef6-4792-4def-b2c9-c363a1bf41d5/19:general@thread.tacv2 \
			      --include-resource-data --notification-url https://example.ngrok.app/notifications

			  # changes to files in the signed-in user's OneDrive
			  $ hookctl subscribe drive --notification-url https://example.ngrok.app/notifications
		`),
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Resource = strings.Join(args, " ")
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
	fl.StringSliceVar(&opts.ChangeTypes, "change-type", nil, "change types to subscribe to: created, updated, deleted (comma list or repeated; default: created, or what the resource supports)")
	fl.StringVar(&opts.NotificationURL, "notification-url", "", "HTTPS endpoint Graph posts notifications to (required)")
	fl.StringVar(&opts.LifecycleURL, "lifecycle-url", "", "HTTPS endpoint for lifecycle notifications, or none (default: derived from --notification-url)")
	fl.StringVar(&opts.Expires, "expires", "max", "lifetime: max, a duration (90m, 72h) or days (3d)")
	fl.StringVar(&opts.ClientState, "client-state", "", "secret Graph echoes in each notification, at most 128 characters (default: 32 random bytes)")
	fl.BoolVar(&opts.Reveal, "reveal", false, "print the clientState (it is a secret: hidden by default)")
	fl.BoolVar(&opts.IncludeResourceData, "include-resource-data", false, "rich notifications: each carries the resource, encrypted with a certificate")
	fl.StringVar(&opts.EncryptionCert, "encryption-cert", "", "with --include-resource-data: a PEM or .pfx certificate to encrypt with (default: hookctl's own key pair)")
	fl.StringVar(&opts.EncryptionCertPasswordEnv, "encryption-cert-password-env", "", "environment variable holding the --encryption-cert .pfx password")
	fl.StringVar(&opts.TLSVersion, "tls", "", "latest TLS version the endpoint supports: v1_0, v1_1, v1_2 or v1_3 (Graph's default: v1_2)")
	fl.StringVar(&opts.NotificationURLAppID, "notification-url-app-id", "", "app id Graph issues validation tokens for (notificationUrlAppId)")
	addEventHubFlags(cmd, opts)
	fl.StringVar(&opts.QueryOptions, "query-options", "", "OData options Graph filters notifications with (notificationQueryOptions; Universal Print)")
	return cmd
}

// check validates the command line before anything touches the network,
// including the resource's rules (the resource is expanded for "me": the
// rules are the same for users/{user}).
func (o *Options) check(cmd *cobra.Command) error {
	if strings.TrimSpace(o.Resource) == "" {
		return exitcode.Usagef("the resource is empty: use a short name such as inbox or a Graph resource path such as me/messages")
	}
	resource, err := shared.ExpandResource(o.Resource, nil)
	if err != nil {
		return err
	}
	if !graph.IsAlias(o.Resource) {
		o.Resource = resource
	}
	resource = o.withSelect(resource)
	if cmd.Flags().Changed("change-type") {
		changeTypes, err := shared.ParseChangeTypes(o.ChangeTypes)
		if err != nil {
			return err
		}
		o.ChangeTypes = changeTypes
	} else {
		o.ChangeTypes = graph.DefaultChangeTypes(resource)
	}
	if err := o.eventHub(cmd); err != nil {
		return err
	}
	if o.NotificationURL == "" {
		return exitcode.Usagef("--notification-url is required: the HTTPS endpoint Graph will call\n  To run the endpoint, a tunnel and the subscription together, use `hookctl listen --subscribe %s`", o.Resource)
	}
	if err := checkNotificationURL(o.NotificationURL); err != nil {
		return err
	}
	switch {
	case strings.EqualFold(o.LifecycleURL, noLifecycleURL):
		o.LifecycleURL = ""
	case !cmd.Flags().Changed("lifecycle-url") || o.LifecycleURL == "":
		o.LifecycleURL = DeriveLifecycleURL(o.NotificationURL)
	default:
		if err := shared.CheckURL("lifecycle-url", o.LifecycleURL); err != nil {
			return err
		}
	}
	want, err := shared.ParseExpires(o.Expires)
	if err != nil {
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
	if !o.IncludeResourceData && (o.EncryptionCert != "" || o.EncryptionCertPasswordEnv != "") {
		return exitcode.Usagef("--encryption-cert and --encryption-cert-password-env go with --include-resource-data")
	}
	if o.TLSVersion != "" && !slices.Contains(tlsVersions, o.TLSVersion) {
		return exitcode.Usagef("invalid --tls %q: use %s", o.TLSVersion, strings.Join(tlsVersions, ", "))
	}
	now := o.Now()
	expiry, _ := shared.Expiry(resource, o.IncludeResourceData, want, now)
	return ruleError(graph.CheckSubscription(graph.SubscriptionRequest{
		Resource: resource, ChangeTypes: o.ChangeTypes, IncludeResourceData: o.IncludeResourceData,
		HasEncryptionCert: true, HasLifecycleURL: o.LifecycleURL != "", Lifetime: expiry.Sub(now),
	}))
}

// withSelect adds the $select a short name's rich Outlook subscription needs
// (a path the user wrote is sent as written).
func (o *Options) withSelect(resource string) string {
	if o.IncludeResourceData && graph.IsAlias(o.Resource) {
		return graph.WithDefaultSelect(resource)
	}
	return resource
}

// ruleError turns a broken resource rule into a usage error that says what to do.
func ruleError(err error) error {
	var rule *graph.RuleError
	if !errors.As(err, &rule) {
		return err
	}
	next := ""
	switch rule.Rule {
	case "changeType":
		next = "\n  Pass --change-type with the types listed"
	case "lifecycleNotificationUrl":
		next = "\n  Leave --lifecycle-url out (hookctl derives one), or pass --expires 1h or less"
	}
	return exitcode.Usagef("%s%s", rule.Message, next)
}

// shortNameHelp lists the short names for --help, one a line.
func shortNameHelp() string {
	var b strings.Builder
	for _, short := range graph.ShortNames {
		marker := " "
		if short.PerUser {
			marker = "*"
		}
		fmt.Fprintf(&b, "  %-28s %s %s (%s / %s)\n", short.Usage, marker, short.Description, short.Delegated, short.Application)
	}
	return b.String()
}

// permissionHint names the permissions a resource's short name needs, or says
// where to look.
func permissionHint(resource string) string {
	kind := graph.LookupResource(resource)
	if kind == nil {
		return "see the resource's page in Graph's documentation"
	}
	for _, short := range graph.ShortNames {
		if short.Kind() == kind {
			return fmt.Sprintf("%s: %s delegated, %s application", kind.Name, short.Delegated, short.Application)
		}
	}
	return "see the " + kind.Name + " page in Graph's documentation"
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
	resource, err := shared.ResolveResource(profile, o.Resource)
	if err != nil {
		return err
	}
	resource = o.withSelect(resource)
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
	expiry, notice := shared.Expiry(resource, o.IncludeResourceData, want, o.Now())
	if notice != "" {
		o.IO.Warn(notice)
	}
	request := graph.Subscription{
		Resource: resource, ChangeType: strings.Join(o.ChangeTypes, ","), NotificationURL: o.NotificationURL,
		LifecycleNotificationURL: o.LifecycleURL, ExpirationDateTime: expiry, ClientState: clientState,
		IncludeResourceData: o.IncludeResourceData, LatestSupportedTLSVersion: o.TLSVersion,
		NotificationURLAppID: o.NotificationURLAppID, NotificationQueryOptions: o.QueryOptions,
	}
	var cert *enccert.Pair
	if o.IncludeResourceData {
		if cert, err = o.encryptionCert(ctx, profile); err != nil {
			return err
		}
		request.EncryptionCertificate, request.EncryptionCertificateID = cert.Encoded(), cert.ID
	}
	created, err := client.CreateSubscription(ctx, request)
	if err != nil {
		return explainCreateError(err, resource)
	}
	rec := substore.Record{
		ID: created.ID, Resource: created.Resource, ChangeType: created.ChangeType, ClientState: clientState,
		Expiry: created.ExpirationDateTime, NotificationURL: created.NotificationURL,
		LifecycleURL: firstNonEmpty(created.LifecycleNotificationURL, o.LifecycleURL), Profile: profile.Name,
		IncludeResourceData: o.IncludeResourceData,
	}
	if cert != nil {
		rec.EncryptionCertificateID = cert.ID
		if o.EncryptionCert != "" {
			rec.EncryptionCertificateFile = cert.Path
		}
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
	return shared.WriteBlock(o.IO, subscribedTitle(o.IO.OutScheme(), view, o.IO.TerminalWidth()), view, o.Now())
}

// subscribedTitle heads the block of the new subscription, the resource cut
// with "…" to keep the title on one line of width columns.
func subscribedTitle(cs *iostreams.ColorScheme, view shared.View, width int) string {
	room := width - len("✓ Subscribed to  ()") - len(view.ChangeType)
	return fmt.Sprintf("%s Subscribed to %s (%s)", cs.SuccessIcon(), cs.Bold(iostreams.Truncate(view.Resource, max(room, len("me/…")))), view.ChangeType)
}

// noPrivateKey warns that --encryption-cert cannot decrypt what it encrypts.
func noPrivateKey(cert string) string {
	return fmt.Sprintf("%s holds no private key: hookctl cannot decrypt these notifications with it", cert)
}

// createdKeyPair says where the profile's new encryption key pair is.
func createdKeyPair(profile, id, path string) string {
	return fmt.Sprintf("Created an encryption key pair for profile %q (certificate %s, key in %s)", profile, id, path)
}

// encryptionCert is the certificate a rich subscription is encrypted with:
// --encryption-cert, or the profile's own key pair (made on first use).
func (o *Options) encryptionCert(ctx context.Context, profile auth.Profile) (*enccert.Pair, error) {
	if o.EncryptionCert != "" {
		password := ""
		if o.EncryptionCertPasswordEnv != "" {
			value, ok := o.Env(o.EncryptionCertPasswordEnv)
			if !ok {
				return nil, exitcode.Usagef("environment variable %s (the --encryption-cert password) is not set", o.EncryptionCertPasswordEnv)
			}
			password = value
			o.Secrets.Add(password)
		}
		path, err := filepath.Abs(o.EncryptionCert)
		if err != nil {
			return nil, err
		}
		pair, err := enccert.Load(path, password)
		if err != nil {
			return nil, exitcode.Usagef("--encryption-cert: %v", err)
		}
		if pair.Key == nil {
			o.IO.Warn(noPrivateKey(o.EncryptionCert))
		}
		return pair, nil
	}
	stateDir, err := o.StateDir()
	if err != nil {
		return nil, err
	}
	pair, created, err := enccert.ForProfile(ctx, stateDir, profile.Name)
	if err != nil {
		return nil, fmt.Errorf("preparing hookctl's encryption key pair: %w", err)
	}
	if created {
		o.IO.Note(createdKeyPair(profile.Name, pair.ID, pair.Path))
	}
	return pair, nil
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
		return fmt.Errorf("subscribing to %s: %w\n  The profile lacks a permission for this resource (%s), or an app-only profile may not read it", resource, err, permissionHint(resource))
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
