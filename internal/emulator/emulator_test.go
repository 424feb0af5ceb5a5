package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/emulator"
)

func getJSON(t *testing.T, client *http.Client, req *http.Request, wantStatus int, into any) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, wantStatus, body)
	}
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("%s %s: %v: %s", req.Method, req.URL.Path, err, body)
		}
	}
}

func TestGraphAcceptsIssuedTokens(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{})
	client := e.HTTPClient()
	token, err := e.UserToken(e.Users[0].UserPrincipalName, "Mail.Read")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.GraphURL+"/me/mailFolders('Inbox')/messages", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	getJSON(t, client, req, http.StatusOK, &page)

	req, _ = http.NewRequest(http.MethodGet, e.GraphURL+"/me/messages", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	getJSON(t, client, req, http.StatusUnauthorized, nil)

	appToken, err := e.AppToken()
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodGet, e.GraphURL+"/users/"+e.Users[1].UserPrincipalName+"/messages", nil)
	req.Header.Set("Authorization", "Bearer "+appToken)
	getJSON(t, client, req, http.StatusOK, nil)
}

func TestStatePersistsAcrossRestarts(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "emulator")
	first := startEmulator(t, emulator.Options{StateDir: dir})
	secret, authority := first.ClientSecret, first.Authority
	caPEM, _ := os.ReadFile(first.CAFile)
	if _, err := first.Graph.SendMail(first.Users[0].UserPrincipalName, first.Users[1].UserPrincipalName, "kept", "body"); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ca-key.pem", "tls.pem", "signing.pem", "app.pem", "state.json"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, info.Mode().Perm())
		}
	}
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o700 {
		t.Errorf("state dir has mode %v, want 0700", info.Mode().Perm())
	}

	second := startEmulator(t, emulator.Options{StateDir: dir})
	if second.ClientSecret != secret {
		t.Error("the client secret changed across restarts")
	}
	if caAgain, _ := os.ReadFile(second.CAFile); string(caAgain) != string(caPEM) {
		t.Error("the CA changed across restarts")
	}
	if second.Authority == authority {
		t.Log("same port reused (fine)")
	}
	msgs, err := second.Graph.Messages(second.Users[1].UserPrincipalName, "inbox")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("mail did not persist: %v %v", msgs, err)
	}
	if strings.Contains(mustRead(t, filepath.Join(dir, "state.json")), "1.AQ0A") {
		t.Error("the state file holds a refresh token in clear")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
