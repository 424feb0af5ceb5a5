package auth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/httpclient"
	"github.com/hookctl/hookctl/pkg/graph"
)

// TestTokensGoOnlyWhereTheProfileSignedIn is item 15 of issue 9: a profile
// remembers the Graph root and CA of the cloud it signed in to; in a fresh
// shell its tokens go there (not to graph.microsoft.com), and a
// HOOKCTL_GRAPH_URL naming another root is an error naming both and the fix.
func TestTokensGoOnlyWhereTheProfileSignedIn(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	h.env[auth.GraphURLEnv] = em.GraphURL
	h.env[httpclient.CAFileEnv] = em.CAFile
	h.loginUser("default", em.Users[0].UserPrincipalName)

	// A fresh shell: none of the emulator's variables.
	clear(h.env)
	endpoint, err := h.manager().GraphEndpoint("default")
	if err != nil {
		t.Fatal(err)
	}
	if endpoint.GraphURL != em.GraphURL || endpoint.CAFile != em.CAFile {
		t.Errorf("fresh shell: endpoint %+v, want the emulator's %s with %s", endpoint, em.GraphURL, em.CAFile)
	}
	// And a real request with the profile's token and CA reaches the emulator.
	client, err := httpclient.New(endpoint.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.manager().Acquire(context.Background(), "default", nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, endpoint.GraphURL+"/me/messages", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Value)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /me/messages at the recorded Graph: %d", resp.StatusCode)
	}

	// A shell pointing at another Graph: refused, both named, the fix said.
	h.env[auth.GraphURLEnv] = graph.DefaultBaseURL
	_, err = h.manager().GraphEndpoint("default")
	if err == nil {
		t.Fatal("an emulator profile's token may go to graph.microsoft.com")
	}
	for _, want := range []string{em.GraphURL, graph.DefaultBaseURL, "Unset HOOKCTL_GRAPH_URL", "hookctl login --profile"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("mismatch error lacks %q: %v", want, err)
		}
	}
	// The same root spelled differently is the same root.
	h.env[auth.GraphURLEnv] = strings.ToUpper(em.GraphURL[:8]) + em.GraphURL[8:] + "/"
	if _, err := h.manager().GraphEndpoint("default"); err != nil {
		t.Errorf("same root, other spelling: %v", err)
	}
}

// TestMicrosoftProfileNeverSendsToAnotherGraph: the reverse direction, and
// profiles saved before the Graph root was recorded.
func TestMicrosoftProfileNeverSendsToAnotherGraph(t *testing.T) {
	t.Parallel()
	h := &struct{ env map[string]string }{env: map[string]string{}}
	m := &auth.Manager{StateDir: t.TempDir(), Env: func(k string) (string, bool) { v, ok := h.env[k]; return v, ok }}
	ctx := context.Background()
	real := auth.Profile{Name: "work", Kind: auth.KindUser, Authority: "https://login.microsoftonline.com/organizations", ClientID: "c", Scopes: []string{"Mail.Read"}, GraphURL: graph.DefaultBaseURL}
	legacyReal := real
	legacyReal.Name, legacyReal.GraphURL = "old-work", ""
	legacyEmulator := auth.Profile{Name: "old-emu", Kind: auth.KindUser, Authority: "https://127.0.0.1:8443/tenant", ClientID: "c", Scopes: []string{"Mail.Read"}}
	for _, p := range []auth.Profile{real, legacyReal, legacyEmulator} {
		if err := m.Store().Put(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	h.env[auth.GraphURLEnv] = "https://127.0.0.1:8443/v1.0"
	for _, name := range []string{"work", "old-work"} {
		if _, err := m.GraphEndpoint(name); err == nil || !strings.Contains(err.Error(), "https://127.0.0.1:8443/v1.0") || !strings.Contains(err.Error(), graph.DefaultBaseURL) {
			t.Errorf("%s with HOOKCTL_GRAPH_URL at the emulator: %v", name, err)
		}
	}
	if e, err := m.GraphEndpoint("old-emu"); err != nil || e.GraphURL != "https://127.0.0.1:8443/v1.0" {
		t.Errorf("old emulator profile with HOOKCTL_GRAPH_URL: %+v %v", e, err)
	}
	clear(h.env)
	if _, err := m.GraphEndpoint("old-emu"); err == nil || !strings.Contains(err.Error(), "does not record which Graph") {
		t.Errorf("old emulator profile in a fresh shell must not default to graph.microsoft.com: %v", err)
	}
	if e, err := m.GraphEndpoint("old-work"); err != nil || e.GraphURL != graph.DefaultBaseURL {
		t.Errorf("old Microsoft profile: %+v %v", e, err)
	}
}
