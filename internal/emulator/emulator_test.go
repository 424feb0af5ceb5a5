package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/tenant"
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

func TestLoadSeed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	yamlSeed := write("seed.yaml", `
domain: fabrikam.example
users:
  - userPrincipalName: lee@fabrikam.example
    displayName: Lee Gu
apps:
  - clientId: 6731de76-14a6-49ae-97bc-6eba6914391e
    displayName: my daemon
    clientSecret: my-own-secret
    appRoles: [Mail.Read]
  - clientId: 04b07795-8ddb-461a-bbee-02f9e1bf7b46
    displayName: replaced public client
    public: true
    delegatedConsent: [Mail.Read, offline_access]
`)
	seed, err := emulator.LoadSeed(yamlSeed)
	if err != nil {
		t.Fatal(err)
	}
	if seed.Domain != "fabrikam.example" || len(seed.Users) != 3 || len(seed.Apps) != 3 {
		t.Fatalf("seed: %+v", seed)
	}
	lee := seed.Users[2]
	if lee.ID == "" || lee.Mail != "lee@fabrikam.example" || lee.DisplayName != "Lee Gu" {
		t.Fatalf("user defaults: %+v", lee)
	}
	if again, _ := emulator.LoadSeed(yamlSeed); again.Users[2].ID != lee.ID {
		t.Error("a derived user id is not stable")
	}
	if seed.Apps[0].DisplayName != "replaced public client" {
		t.Errorf("the default public client was not replaced: %+v", seed.Apps[0])
	}

	e := startEmulator(t, emulator.Options{Seed: seed})
	daemon, _ := e.Tenant.App("6731de76-14a6-49ae-97bc-6eba6914391e")
	if daemon.Secret != "my-own-secret" || e.ConfidentialClientID != tenantDefaultConfidential {
		t.Fatalf("seeded app: %+v (confidential %s)", daemon, e.ConfidentialClientID)
	}
	if _, err := e.Identity.MintUserToken(e.PublicClientID, "lee@fabrikam.example", []string{"Mail.Read"}); err != nil {
		t.Fatal(err)
	}

	jsonSeed := write("seed.json", `{"users":[{"id":"0d5f3a3e-0000-4000-8000-000000000001","userPrincipalName":"kim@contoso.example"}]}`)
	if seed, err := emulator.LoadSeed(jsonSeed); err != nil || seed.Users[2].ID != "0d5f3a3e-0000-4000-8000-000000000001" {
		t.Fatalf("JSON seed: %v", err)
	}
	// JSON as tools write it: indented with tabs, "\/" escapes, a byte-order mark.
	tabbed := write("tabbed.json", "\ufeff{\n\t\"domain\": \"fabrikam.example\",\n\t\"apps\": [{\"clientId\": \"6731de76-14a6-49ae-97bc-6eba6914391e\", \"displayName\": \"ops\\/ci\", \"appRoles\": [\"Mail.Read\"]}]\n}\n")
	if seed, err := emulator.LoadSeed(tabbed); err != nil || seed.Domain != "fabrikam.example" || seed.Apps[2].DisplayName != "ops/ci" {
		t.Fatalf("tab-indented JSON seed: %+v, %v", seed, err)
	}

	for name, content := range map[string]string{
		"unknown field":       "userz: []\n",
		"bad tenant id":       "tenantId: contoso\n",
		"duplicate user":      "users:\n  - userPrincipalName: adele@contoso.example\n",
		"bad client id":       "apps:\n  - clientId: my-app\n",
		"bad cert":            "apps:\n  - clientId: 6731de76-14a6-49ae-97bc-6eba6914391e\n    certificatePem: nope\n",
		"not yaml":            "users: [\n",
		"json trailing comma": `{"users":[],}`,
		"json unknown key":    `{"userz":[]}`,
		"two json values":     `{} {}`,
	} {
		if _, err := emulator.LoadSeed(write(strings.ReplaceAll(name, " ", "-")+".yaml", content)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := emulator.LoadSeed(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing seed file was accepted")
	}
}

const tenantDefaultConfidential = "1950a258-227b-4e31-a9cf-717495945fc2"

func TestRefreshTokenSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := startEmulator(t, emulator.Options{StateDir: dir, AutoApprove: true})
	client := first.HTTPClient()
	post := func(e *emulator.Emulator, path string, form url.Values) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		var out map[string]any
		getJSON(t, client, req, http.StatusOK, &out)
		return out
	}
	dc := post(first, "/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {first.PublicClientID}, "scope": {"Mail.Read offline_access"}})
	tok := post(first, "/organizations/oauth2/v2.0/token", url.Values{"grant_type": {"device_code"}, "client_id": {first.PublicClientID}, "device_code": {dc["device_code"].(string)}})
	refresh := tok["refresh_token"].(string)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mustRead(t, filepath.Join(dir, "state.json")), refresh) {
		t.Fatal("the state file holds the refresh token in clear")
	}
	second := startEmulator(t, emulator.Options{StateDir: dir})
	again := post(second, "/"+second.TenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {second.PublicClientID}, "refresh_token": {refresh}})
	if _, err := second.Identity.Authenticate(again["access_token"].(string)); err != nil {
		t.Fatalf("token after restart: %v", err)
	}
}

func TestRoutingAndHostNames(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{})
	client := e.HTTPClient()
	port := e.URL[strings.LastIndex(e.URL, ":")+1:]

	// Any loopback name the certificate covers works, and discovery follows it.
	req, _ := http.NewRequest(http.MethodGet, "https://localhost:"+port+"/common/v2.0/.well-known/openid-configuration", nil)
	var doc map[string]any
	getJSON(t, client, req, http.StatusOK, &doc)
	if doc["token_endpoint"] != "https://localhost:"+port+"/common/oauth2/v2.0/token" {
		t.Fatalf("discovery via localhost: %v", doc["token_endpoint"])
	}

	var settings emulator.Settings
	req, _ = http.NewRequest(http.MethodGet, e.ControlURL+"/settings", nil)
	getJSON(t, client, req, http.StatusOK, &settings)
	if settings.Authority != e.Authority || settings.ConfidentialClient.ClientSecret != e.ClientSecret || len(settings.Users) != 2 {
		t.Fatalf("settings: %+v", settings)
	}
	// Graph's own control endpoints are reachable next to the identity ones.
	req, _ = http.NewRequest(http.MethodGet, e.ControlURL+"/subscriptions", nil)
	getJSON(t, client, req, http.StatusOK, nil)
	req, _ = http.NewRequest(http.MethodGet, e.ControlURL+"/nothing", nil)
	getJSON(t, client, req, http.StatusNotFound, nil)
	req, _ = http.NewRequest(http.MethodGet, e.GraphURL+"/me", nil)
	getJSON(t, client, req, http.StatusUnauthorized, nil)

	// Plain HTTP is not served.
	if resp, err := http.Get("http://" + strings.TrimPrefix(e.URL, "https://") + "/common/v2.0/.well-known/openid-configuration"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("answered over plain HTTP")
		}
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{})
	addr := strings.TrimPrefix(e.URL, "https://")
	if _, err := emulator.Start(context.Background(), emulator.Options{Addr: addr}); err == nil || !strings.Contains(err.Error(), "pick another --addr") {
		t.Fatalf("port in use: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := emulator.Start(context.Background(), emulator.Options{StateDir: dir}); err == nil || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("corrupt state file: %v", err)
	}
	bad := tenant.Default()
	bad.ID = "not-a-guid"
	if _, err := emulator.Start(context.Background(), emulator.Options{Seed: bad}); err == nil {
		t.Fatal("a bad seed was accepted")
	}
}

// TestOneEmulatorPerStateDirectory is item 12 of issue 9: a second emulator
// on a state directory in use refuses with a message that says what to do,
// and the directory is free again once the first stops.
func TestOneEmulatorPerStateDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	first, err := emulator.Start(context.Background(), emulator.Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, emulator.DefaultStateFile))
	_, err = emulator.Start(context.Background(), emulator.Options{StateDir: dir})
	if err == nil || !strings.Contains(err.Error(), "another hookctl emulator is running on the state directory "+dir) || !strings.Contains(err.Error(), "hookctl emulator stop") {
		t.Fatalf("second emulator on %s: %v", dir, err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, emulator.DefaultStateFile)); string(after) != string(before) {
		t.Error("the refused emulator touched the state file")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := emulator.Start(context.Background(), emulator.Options{StateDir: dir})
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	again.Close()
}
