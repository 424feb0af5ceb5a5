package logging

import (
	"bytes"
	"strings"
	"testing"

	_ "github.com/hookctl/hookctl/internal/golden"
)

func TestNewScrubsSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	secrets := &Secrets{}
	secrets.Add("s3cr3t-value", "ab") // "ab" is too short to scrub safely
	log := New(&buf, true, secrets)
	log.Debug("sending s3cr3t-value upstream", "url", "https://x/?k=s3cr3t-value", "clientState", "anything", "n", 3)
	out := buf.String()
	if strings.Contains(out, "s3cr3t-value") || strings.Contains(out, "anything") {
		t.Fatalf("secret leaked: %s", out)
	}
	for _, want := range []string{"sending [REDACTED] upstream", `url="https://x/?k=[REDACTED]"`, "clientState=[REDACTED]", "n=3"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in %s", want, out)
		}
	}
}

func TestDisabledWritesNothing(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(&buf, false, &Secrets{}).Debug("hello")
	if buf.Len() != 0 {
		t.Fatalf("disabled logger wrote %q", buf.String())
	}
}

func TestSecretName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"client-state": true, "HOOKCTL_LISTEN_CLIENT_STATE": true, "clientState": true, "teams-secret": true,
		"NGROK_AUTHTOKEN": true, "certificate-password-env": true, "Authorization": true, "TEAMS_KEY": true,
		"client_assertion": true, "keep": false, "output": false, "state": false, "HOOKCTL_OUTPUT": false, "reveal": false,
		// Longer than the stack buffer, and beyond ASCII (U+212A, the Kelvin
		// sign, folds to "k").
		"X-A-Very-Long-Header-Name-That-Goes-On-And-On-Past-Sixty-Four-Bytes-Token": true,
		"X-A-Very-Long-Header-Name-That-Goes-On-And-On-Past-Sixty-Four-Bytes-Plain": false,
		"api-Key": true, "café": false,
	} {
		if got := SecretName(name); got != want {
			t.Errorf("SecretName(%q) = %v, want %v", name, got, want)
		}
	}
}
