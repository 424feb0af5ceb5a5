package listen

import (
	"strings"
	"testing"
)

func TestReplyEnvDropsSecrets(t *testing.T) {
	t.Parallel()
	got := strings.Join(replyEnv([]string{
		"PATH=/usr/bin", "HOME=/home/me", "HOOKCTL_OUTPUT=json", "HOOKCTL_TEAMS_SECRET=k",
		"HOOKCTL_LISTEN_CLIENT_STATE=s", "NGROK_AUTHTOKEN=n", "HOOKCTL_CERTIFICATE_PASSWORD=p", "APP_SECRET=mine",
	}), " ")
	if got != "PATH=/usr/bin HOME=/home/me HOOKCTL_OUTPUT=json APP_SECRET=mine" {
		t.Fatalf("replyEnv = %q", got)
	}
}
