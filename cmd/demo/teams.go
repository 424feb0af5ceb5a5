package demo

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hookctl/hookctl/cmd/listen"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/enccert"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/pkg/notification"
)

// demoScopes are the demo's sign-in: hookctl's default mail scopes and the
// Teams ones its channel part needs.
var demoScopes = []string{"Mail.Read", "Mail.Send", "ChannelMessage.Read.All", "ChannelMessage.Send", "offline_access"}

// teams is the demo's Teams part: `hookctl listen --subscribe "channel T/C"
// --include-resource-data` in this process; a channel message posted through
// Graph arrives as a rich notification and is shown decrypted, its validation
// tokens checked.
func (r *run) teams(ctx context.Context) error {
	channel := graphsim.SeedTeamID + "/" + graphsim.SeedChannelID
	client, err := r.factory.GraphClient()
	if err != nil {
		return err
	}
	store, err := r.factory.SubscriptionStore()
	if err != nil {
		return err
	}
	stateDir := r.env["HOOKCTL_STATE_DIR"]
	pair, _, err := enccert.ForProfile(ctx, stateDir, "default")
	if err != nil {
		return err
	}
	decryptor := &notification.Decryptor{}
	decryptor.Add(pair.ID, pair.Cert, pair.Key)
	httpClient, err := r.factory.HTTPClient()
	if err != nil {
		return err
	}
	listenCtx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	tokens, err := notification.NewTokenValidator(listenCtx, notification.TokenValidatorConfig{
		AppID: r.em.PublicClientID, Authority: r.em.Authority, HTTPClient: httpClient})
	if err != nil {
		return fmt.Errorf("reading the identity platform's signing keys: %w", err)
	}
	watched := make(chan submanager.Event, 64)
	messages := make(chan listener.Notification, 64)
	l, err := listener.New(listener.Config{
		Addr:        "127.0.0.1:0",
		JournalPath: filepath.Join(stateDir, "demo-teams.journal"),
		Store:       store,
		Graph:       client,
		Decryptor:   decryptor,
		Tokens:      tokens,
		Subscribe: &listener.Subscriptions{Resources: []string{"teams/" + graphsim.SeedTeamID + "/channels/" + graphsim.SeedChannelID + "/messages"},
			ChangeTypes: []string{"created"}, Profile: "default",
			IncludeResourceData: true, EncryptionCertificate: pair.Encoded(), EncryptionCertificateID: pair.ID},
		Consumers: []listener.Consumer{listen.NewRenderer(r.opts.IO, r.factory.JSON(), nil), listener.ConsumerFunc(func(e listener.Event) error {
			switch e := e.(type) {
			case listener.Notification:
				offer(messages, e)
			case submanager.Event:
				offer(watched, e)
			}
			return nil
		})},
		Secrets: r.factory.Secrets,
	})
	if err != nil {
		return fmt.Errorf("preparing the Teams listener: %w", err)
	}
	r.say(startingTeamsListener(channel))
	listened := make(chan error, 1)
	go func() { listened <- l.Run(listenCtx) }()
	if _, err := waitFor[submanager.Subscribed](ctx, watched, "the channel subscription"); err != nil {
		return r.stop(stopListening, listened, err)
	}
	r.say("Subscribed to the channel with rich notifications, encrypted with hookctl's own key pair. Posting a message with Graph…")
	if _, err := client.PostChannelMessage(ctx, graphsim.SeedTeamID, graphsim.SeedChannelID, "Deploy finished: version 2.4 is live."); err != nil {
		return r.stop(stopListening, listened, fmt.Errorf("posting the channel message: %w", err))
	}
	n, err := receive(ctx, messages, "the channel message's notification")
	if err != nil {
		return r.stop(stopListening, listened, err)
	}
	if n.Content == nil || n.TokensValid == nil || !*n.TokensValid {
		return r.stop(stopListening, listened, fmt.Errorf("the channel message was not decrypted and verified: %s %s", n.DecryptError, n.TokenError))
	}
	r.say("The message arrived inside the notification: hookctl checked its validation tokens and decrypted it.")
	return r.stop(stopListening, listened, nil)
}

// startingTeamsListener narrates the listener of the Teams part. Its
// command is wider than 80 columns, so it may break, but only between its
// arguments.
func startingTeamsListener(channel string) string {
	return "Starting " + iostreams.Unbroken("hookctl listen --subscribe") + " " + iostreams.Unbroken(`"channel `+channel+`"`) + " " +
		iostreams.Unbroken("--include-resource-data --tunnel none") + "…"
}
