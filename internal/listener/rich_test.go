package listener

import (
	"context"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// tokensThat is a TokenValidator with a fixed verdict per token.
type tokensThat map[string]error

func (v tokensThat) Validate(_ context.Context, tokens, _ []string) error {
	for _, token := range tokens {
		if err := v[token]; err != nil {
			return err
		}
	}
	return nil
}

func richBody(token, id string) string {
	return `{"value":[{"id":"` + id + `","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","clientState":"` + clientState +
		`","changeType":"created","resource":"teams('t')/channels('c')/messages('` + id + `')","tenantId":"tenant",` +
		`"encryptedContent":{"data":"AAAA","dataKey":"AAAA","dataSignature":"AAAA","encryptionCertificateId":"unknown-cert"}}],` +
		`"validationTokens":["` + token + `"]}`
}

// TestEnrichmentChecksTokensAndDecrypts: the verdict on the tokens, a
// one-line reason when decryption is impossible, and --require-valid-tokens
// dropping what fails, each with a warning that never quotes the token.
func TestEnrichmentChecksTokensAndDecrypts(t *testing.T) {
	t.Parallel()
	bad := &notification.TokenError{Check: notification.CheckAudience, Detail: "aud is wrong"}
	tokens := tokensThat{"good-token": nil, "bad-token": bad}

	r := start(t, Config{Decryptor: &notification.Decryptor{}, Tokens: tokens})
	postJSON(t, r.base+receiver.NotificationsPath, richBody("good-token", "a"))
	postJSON(t, r.base+receiver.NotificationsPath, richBody("bad-token", "b"))
	events := r.rec.waitFor(t, "two notifications", func(events []Event) bool { return count[Notification](events) == 2 })
	verdicts := map[string]bool{}
	for _, e := range events {
		if n, ok := e.(Notification); ok {
			if n.TokensValid == nil || n.Content != nil || !strings.Contains(n.DecryptError, "no private key") {
				t.Errorf("%s: %+v", n.Notification.ID, n)
			}
			verdicts[n.Notification.ID] = n.TokensValid != nil && *n.TokensValid
		}
	}
	if !verdicts["a"] || verdicts["b"] {
		t.Errorf("verdicts %v", verdicts)
	}
	var warnings []string
	for _, e := range r.rec.snapshot() {
		if w, ok := e.(Warning); ok {
			warnings = append(warnings, w.Text)
		}
	}
	joined := strings.Join(warnings, "\n")
	if !strings.Contains(joined, "aud check") || !strings.Contains(joined, "cannot decrypt") || strings.Contains(joined, "bad-token") {
		t.Errorf("warnings:\n%s", joined)
	}

	strict := start(t, Config{Tokens: tokens, RequireValidTokens: true})
	postJSON(t, strict.base+receiver.NotificationsPath, richBody("bad-token", "c"))
	postJSON(t, strict.base+receiver.NotificationsPath, richBody("good-token", "d"))
	events = strict.rec.waitFor(t, "one notification", func(events []Event) bool { return count[Notification](events) == 1 })
	n, _ := find[Notification](events)
	if n.Notification.ID != "d" {
		t.Errorf("kept %s, want d", n.Notification.ID)
	}
	if _, err := New(Config{RequireValidTokens: true}); err == nil || !strings.Contains(err.Error(), "needs Tokens") {
		t.Error("RequireValidTokens without Tokens was accepted")
	}
}
