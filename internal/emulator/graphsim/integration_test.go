package graphsim_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// startFullEmulator runs the whole emulator (HTTPS, identity platform, Graph)
// with delivery timers shortened for tests.
func startFullEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	e, err := emulator.Start(context.Background(), emulator.Options{Graph: graphsim.Config{
		BatchWindow: 20 * time.Millisecond, RetryBase: 10 * time.Millisecond, MaxAttempts: 3,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// graphClient is hookctl's own Graph client pointed at the emulator with a token.
func graphClient(e *emulator.Emulator, token string) *graph.Client {
	return &graph.Client{
		BaseURL: e.GraphURL,
		HTTP:    e.HTTPClient(),
		Tokens:  graph.TokenFunc(func(context.Context) (string, error) { return token, nil }),
	}
}

// listenReceiver is pkg/receiver (what `hookctl listen` serves) on loopback
// HTTP, reporting its events on a channel.
func listenReceiver(t *testing.T, clientState string) (*httptest.Server, chan receiver.Event) {
	t.Helper()
	events := make(chan receiver.Event, 100)
	rcv, err := receiver.New(receiver.Options{
		ClientStates: notification.NewClientStates(clientState),
		Reporter:     receiver.ReporterFunc(func(ev receiver.Event) error { events <- ev; return nil }),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rcv)
	t.Cleanup(func() {
		srv.Close()
		_ = rcv.Close(context.Background())
	})
	return srv, events
}

// next waits for the next event of type T, skipping handshakes.
func next[T receiver.Event](t *testing.T, events chan receiver.Event) T {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if want, ok := ev.(T); ok {
				return want
			}
			if _, handshake := ev.(receiver.HandshakeEvent); !handshake {
				t.Fatalf("unexpected event %T: %+v", ev, ev)
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T within 10s", zero)
		}
	}
}

// TestFullEmulatorWithRealTokens drives Graph over HTTPS with tokens the
// emulated identity platform issued, through hookctl's Graph client, and
// delivers to hookctl's receiver: validation, mail notifications, reading the
// message, delta, lifecycle events and renewal rules.
func TestFullEmulatorWithRealTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := startFullEmulator(t)
	adele, megan := e.Users[0], e.Users[1]
	adeleToken, err := e.UserToken(adele.UserPrincipalName, "Mail.Read", "Mail.Send")
	if err != nil {
		t.Fatal(err)
	}
	meganToken, err := e.UserToken(megan.UserPrincipalName, "Mail.Read", "Mail.Send")
	if err != nil {
		t.Fatal(err)
	}
	asAdele, asMegan := graphClient(e, adeleToken), graphClient(e, meganToken)

	srv, events := listenReceiver(t, "integration-state")
	sub, err := asAdele.CreateSubscription(ctx, graph.Subscription{
		Resource: "me/mailFolders('Inbox')/messages", ChangeType: "created",
		NotificationURL: srv.URL + receiver.NotificationsPath, LifecycleNotificationURL: srv.URL + receiver.LifecyclePath,
		ExpirationDateTime: time.Now().Add(time.Hour), ClientState: "integration-state",
	})
	if err != nil {
		t.Fatal(err)
	}
	if sub.ApplicationID != e.PublicClientID || sub.CreatorID != adele.ID {
		t.Errorf("subscription = %+v", sub)
	}

	if err := asMegan.SendMail(ctx, "me", graph.Message{
		Subject: "From Megan", Body: &graph.ItemBody{ContentType: "text", Content: "hello"},
		ToRecipients: []graph.Recipient{{EmailAddress: graph.EmailAddress{Address: adele.UserPrincipalName}}},
	}, true); err != nil {
		t.Fatal(err)
	}
	got := next[receiver.NotificationEvent](t, events)
	if got.Notification.SubscriptionID != sub.ID || got.Notification.ChangeType != "created" || got.Notification.TenantID != e.TenantID {
		t.Errorf("notification = %+v", got.Notification)
	}
	msg, err := asAdele.GetMessage(ctx, got.Notification.Resource)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "From Megan" || msg.From.EmailAddress.Address != megan.UserPrincipalName {
		t.Errorf("message = %+v", msg)
	}

	// Delta with hookctl's client: one message, then nothing new.
	round, err := asAdele.MessagesDelta(ctx, graph.DeltaQuery{Collection: "me/mailFolders('Inbox')/messages", MaxPageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(round.Messages) != 1 || round.DeltaLink == "" {
		t.Fatalf("delta = %+v", round)
	}
	if again, err := asAdele.MessagesDelta(ctx, graph.DeltaQuery{DeltaLink: round.DeltaLink}); err != nil || len(again.Messages) != 0 {
		t.Errorf("second delta = %+v, %v", again, err)
	}

	// reauthorizationRequired over the control API: renewal refused until reauthorized.
	if err := e.Graph.Lifecycle(sub.ID, graphsim.LifecycleReauthorizationRequired); err != nil {
		t.Fatal(err)
	}
	life := next[receiver.LifecycleEvent](t, events)
	if life.Notification.LifecycleEvent != "reauthorizationRequired" || life.Notification.SubscriptionID != sub.ID {
		t.Errorf("lifecycle = %+v", life.Notification)
	}
	_, err = asAdele.RenewSubscription(ctx, sub.ID, time.Now().Add(2*time.Hour))
	var graphErr *graph.Error
	if !errors.As(err, &graphErr) || graphErr.StatusCode != 403 || graphErr.Code != "ExtensionError" {
		t.Fatalf("renew while reauthorization is required: %v", err)
	}
	if err := asAdele.ReauthorizeSubscription(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := asAdele.RenewSubscription(ctx, sub.ID, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := asAdele.DeleteSubscription(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := asAdele.GetSubscription(ctx, sub.ID); !graph.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
}

// TestFullEmulatorEnforcement checks, with real tokens over HTTPS, the answers
// for tokens that lack permissions or are of the wrong kind.
func TestFullEmulatorEnforcement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := startFullEmulator(t)
	adele := e.Users[0]
	readOnly, err := e.UserToken(adele.UserPrincipalName, "Mail.Read")
	if err != nil {
		t.Fatal(err)
	}
	appToken, err := e.AppToken()
	if err != nil {
		t.Fatal(err)
	}
	noRoles, err := e.Identity.MintAppToken(e.ConfidentialClientID, []string{})
	if err != nil {
		t.Fatal(err)
	}
	mail := graph.Message{Subject: "x", ToRecipients: []graph.Recipient{{EmailAddress: graph.EmailAddress{Address: adele.UserPrincipalName}}}}
	for _, tc := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"sendMail without Mail.Send", func() error { return graphClient(e, readOnly).SendMail(ctx, "me", mail, false) }, 403, "ErrorAccessDenied"},
		{"app token on /me", func() error {
			_, err := graphClient(e, appToken).GetMessage(ctx, "me/messages/AAMkAx")
			return err
		}, 400, "BadRequest"},
		{"app without roles", func() error {
			_, err := graphClient(e, noRoles).GetMessage(ctx, "users/"+adele.ID+"/messages/AAMkAx")
			return err
		}, 403, "ErrorAccessDenied"},
		{"app subscription without roles", func() error {
			_, err := graphClient(e, noRoles).CreateSubscription(ctx, graph.Subscription{
				Resource: "users/" + adele.ID + "/messages", ChangeType: "created", NotificationURL: "https://127.0.0.1:1/hook",
				ExpirationDateTime: time.Now().Add(time.Hour), ClientState: "x",
			})
			return err
		}, 403, "ExtensionError"},
		{"forged token", func() error {
			_, err := graphClient(e, strings.Repeat("a", 20)+"."+strings.Repeat("b", 20)+"."+strings.Repeat("c", 20)).ListSubscriptions(ctx)
			return err
		}, 401, "InvalidAuthenticationToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var graphErr *graph.Error
			if !errors.As(err, &graphErr) || graphErr.StatusCode != tc.status || graphErr.Code != tc.code {
				t.Fatalf("err = %v, want %d %s", err, tc.status, tc.code)
			}
		})
	}

	// The app token reads any mailbox; the control API sends mail without a token.
	client := e.HTTPClient()
	resp, err := client.Post(e.ControlURL+"/mail", "application/json", strings.NewReader(`{"to":"`+adele.UserPrincipalName+`","subject":"control"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("control mail = %d", resp.StatusCode)
	}
	round, err := graphClient(e, appToken).MessagesDelta(ctx, graph.DeltaQuery{Collection: "users/" + adele.ID + "/mailFolders/inbox/messages"})
	if err != nil || len(round.Messages) != 1 || round.Messages[0].Subject != "control" {
		t.Fatalf("app delta = %+v, %v", round, err)
	}
}

// TestFullEmulatorRichNotifications checks that rich notifications carry a
// validation token issued by the emulated identity platform for the app.
func TestFullEmulatorRichNotifications(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := startFullEmulator(t)
	token, err := e.UserToken(e.Users[0].UserPrincipalName, "Mail.Read")
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	posts := make(chan map[string]any, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("validationToken"); v != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(v))
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		posts <- body
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	if _, err := graphClient(e, token).CreateSubscription(ctx, graph.Subscription{
		Resource: "me/mailFolders('Inbox')/messages?$select=subject,body", ChangeType: "created", NotificationURL: srv.URL,
		ExpirationDateTime: time.Now().Add(time.Hour), ClientState: "rich",
		IncludeResourceData: true, EncryptionCertificate: base64.StdEncoding.EncodeToString(der), EncryptionCertificateID: "k1",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Graph.SendMail("", e.Users[0].ID, "rich", "x"); err != nil {
		t.Fatal(err)
	}
	var post map[string]any
	select {
	case post = <-posts:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}
	tokens, _ := post["validationTokens"].([]any)
	if len(tokens) != 1 {
		t.Fatalf("validationTokens = %v", post["validationTokens"])
	}
	parts := strings.Split(tokens[0].(string), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	if claims["aud"] != e.PublicClientID || claims["appid"] != "0bf30f3b-4a52-48df-9a82-234910c4a086" || claims["tid"] != e.TenantID {
		t.Errorf("validation token claims = %v", claims)
	}
	if _, err := e.Identity.Authenticate(tokens[0].(string)); err == nil {
		t.Error("a validation token was accepted as a Graph access token")
	}
}

// BenchmarkFullCreateValidatedSubscription measures creating a subscription
// through the whole emulator: HTTPS, token verification, the validation
// handshake against hookctl's receiver, and the 201.
//
//	go test -run '^$' -bench BenchmarkFullCreateValidatedSubscription ./internal/emulator/graphsim/
func BenchmarkFullCreateValidatedSubscription(b *testing.B) {
	e, err := emulator.Start(context.Background(), emulator.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	token, err := e.UserToken(e.Users[0].UserPrincipalName, "Mail.Read")
	if err != nil {
		b.Fatal(err)
	}
	rcv, err := receiver.New(receiver.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(rcv)
	b.Cleanup(func() {
		srv.Close()
		_ = rcv.Close(context.Background())
	})
	client := graphClient(e, token)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := client.CreateSubscription(ctx, graph.Subscription{
			Resource: "me/mailFolders('Inbox')/messages", ChangeType: "created",
			NotificationURL: srv.URL + receiver.NotificationsPath, LifecycleNotificationURL: srv.URL + receiver.LifecyclePath,
			ExpirationDateTime: time.Now().Add(time.Hour), ClientState: "bench",
		}); err != nil {
			b.Fatal(err)
		}
	}
}
