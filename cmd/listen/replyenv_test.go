package listen

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/exitcode"
)

func TestReplyEnvDropsSecrets(t *testing.T) {
	t.Parallel()
	got := strings.Join(replyEnv([]string{
		"PATH=/usr/bin", "HOME=/home/me", "HOOKCTL_OUTPUT=json", "HOOKCTL_TEAMS_SECRET=k",
		"HOOKCTL_LISTEN_CLIENT_STATE=s", "NGROK_AUTHTOKEN=n", "HOOKCTL_CERTIFICATE_PASSWORD=p", "APP_SECRET=mine",
	}, nil, nil), " ")
	if got != "PATH=/usr/bin HOME=/home/me HOOKCTL_OUTPUT=json APP_SECRET=mine" {
		t.Fatalf("replyEnv = %q", got)
	}
	// The Teams key never reaches the command, whatever variable holds it.
	got = strings.Join(replyEnv([]string{
		"PATH=/usr/bin", "TEAMS_KEY=QUJDREVGR0g=", "WEBHOOK=ops:c2VjcmV0a2V5", "NAMED_BY_FLAG=anything", "OTHER=fine",
	}, []string{"NAMED_BY_FLAG"}, []string{"QUJDREVGR0g=", "ops:c2VjcmV0a2V5"}), " ")
	if got != "PATH=/usr/bin OTHER=fine" {
		t.Fatalf("replyEnv with keys = %q", got)
	}
}

func TestCheckReplyCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script, plain := filepath.Join(dir, "reply.sh"), filepath.Join(dir, "notes.txt")
	os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o700)
	os.WriteFile(plain, []byte("x"), 0o600)
	for command, ok := range map[string]bool{
		"echo hi": true, "cat": true, script + " --flag": true, "LANG=C " + script: true, "cd / && ls": true,
		"no-such-command-hookctl": false, filepath.Join(dir, "missing.sh"): false, plain: false, dir: false, "  ": false,
	} {
		err := checkReplyCommand(command)
		if ok != (err == nil) || err != nil && exitcode.Code(err) != exitcode.Usage {
			t.Errorf("checkReplyCommand(%q) = %v", command, err)
		}
	}
}

func TestPrefixWriter(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	w := &prefixWriter{w: &b, prefix: "cmd: "}
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\nthree"))
	if b.String() != "cmd: one\ncmd: two\ncmd: three" {
		t.Errorf("%q", b.String())
	}
}
