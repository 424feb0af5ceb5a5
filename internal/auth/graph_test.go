package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/pkg/graph"
)

// The profile's Source is what pkg/graph takes.
var _ graph.TokenSource = (*auth.Source)(nil)

func TestGraphClientWithProfileTokens(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	h.loginUser("default", em.Users[0].UserPrincipalName)
	m := h.manager()
	client := &graph.Client{BaseURL: em.GraphURL, HTTP: em.HTTPClient(), Tokens: m.TokenSource("default")}
	if _, err := client.ListSubscriptions(context.Background()); err != nil {
		t.Fatalf("Graph with the profile's token: %v", err)
	}
	if err := m.Logout(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	_, err := client.ListSubscriptions(context.Background())
	if exitcode.Code(err) != exitcode.SignIn || !strings.Contains(err.Error(), "hookctl login") {
		t.Errorf("after logout: exit %d, %v", exitcode.Code(err), err)
	}
}
