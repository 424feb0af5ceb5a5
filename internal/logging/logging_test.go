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
