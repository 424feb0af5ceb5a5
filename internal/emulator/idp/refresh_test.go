package idp_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/idp"
)

// signIn runs the device code flow for user and returns the token answer.
func (f *fixture) signIn(user, scope string) reply {
	f.t.Helper()
	userCode, deviceCode := f.deviceCode(publicID, scope)
	if err := f.idp.ApproveDeviceCode(userCode, user); err != nil {
		f.t.Fatal(err)
	}
	form := pollForm(publicID, deviceCode)
	form.Set("scope", scope)
	r := f.token(form)
	if r.status != http.StatusOK {
		f.t.Fatalf("sign-in: %d %s", r.status, r.raw)
	}
	return r
}

func refreshForm(token string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {publicID}, "refresh_token": {token},
		"scope": {"Mail.Read openid offline_access profile"}, "client_info": {"1"}}
}

func TestRefreshRotates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	first := f.signIn(adele, "Mail.Read openid offline_access profile").str("refresh_token")
	r := f.token(refreshForm(first))
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	second := r.str("refresh_token")
	if second == "" || second == first || r.str("id_token") == "" || claims(t, r.str("access_token"))["upn"] != adele {
		t.Fatalf("refresh answer: %s", r.raw)
	}
	wantError(t, f.token(refreshForm(first)), http.StatusBadRequest, "invalid_grant", 70000)
	if r := f.token(refreshForm(second)); r.status != http.StatusOK {
		t.Fatalf("the rotated token does not work: %s", r.raw)
	}
}

func TestRefreshErrors(t *testing.T) {
	t.Parallel()
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, func(c *idp.Config) { c.RefreshTokenLifetime = time.Hour })
		rt := f.signIn(adele, "Mail.Read offline_access").str("refresh_token")
		f.clock.Advance(time.Hour)
		wantError(t, f.token(refreshForm(rt)), http.StatusBadRequest, "invalid_grant", 700082)
	})
	t.Run("revoked", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		rt := f.signIn(megan, "Mail.Read offline_access").str("refresh_token")
		other := f.signIn(adele, "Mail.Read offline_access").str("refresh_token")
		r := f.postJSON("/_emulator/users/"+megan+"/revokeSignInSessions", "")
		if r.status != http.StatusOK || r.json["revoked"] != float64(1) {
			t.Fatalf("revoke: %d %s", r.status, r.raw)
		}
		wantError(t, f.token(refreshForm(rt)), http.StatusBadRequest, "invalid_grant", 50173)
		if r := f.token(refreshForm(other)); r.status != http.StatusOK {
			t.Fatalf("another user's token was revoked too: %s", r.raw)
		}
		if r := f.postJSON("/_emulator/users/nobody@contoso.example/revokeSignInSessions", ""); r.status != http.StatusNotFound {
			t.Fatalf("unknown user: %d", r.status)
		}
	})
	t.Run("malformed and missing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		wantError(t, f.token(refreshForm("not-a-refresh-token")), http.StatusBadRequest, "invalid_grant", 9002313)
		wantError(t, f.token(refreshForm("")), http.StatusBadRequest, "invalid_request", 900144)
	})
	t.Run("another client", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		rt := f.signIn(adele, "Mail.Read offline_access").str("refresh_token")
		form := refreshForm(rt)
		form.Set("client_id", confidentialID)
		form.Set("client_secret", secret)
		wantError(t, f.token(form), http.StatusBadRequest, "invalid_grant", 70000)
	})
	t.Run("unconsented scope keeps the token", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		rt := f.signIn(adele, "Mail.Read offline_access").str("refresh_token")
		form := refreshForm(rt)
		form.Set("scope", "Files.ReadWrite.All offline_access")
		wantError(t, f.token(form), http.StatusBadRequest, "invalid_grant", 65001)
		if r := f.token(refreshForm(rt)); r.status != http.StatusOK {
			t.Fatalf("a refused refresh spent the token: %s", r.raw)
		}
	})
	t.Run("no offline_access, no refresh token", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		if r := f.signIn(adele, "Mail.Read"); r.str("refresh_token") != "" || r.str("id_token") != "" {
			t.Fatalf("without offline_access/openid: %s", r.raw)
		}
	})
}

func TestRefreshTokensSurviveSnapshot(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	rt := f.signIn(adele, "Mail.Read offline_access").str("refresh_token")
	state := f.idp.Snapshot()
	if len(state.RefreshTokens) != 1 {
		t.Fatalf("snapshot: %+v", state)
	}
	for hash := range state.RefreshTokens {
		if hash == rt {
			t.Fatal("the snapshot holds the token itself")
		}
	}
	g := newFixture(t, nil)
	g.idp.Restore(state)
	if r := g.token(refreshForm(rt)); r.status != http.StatusOK {
		t.Fatalf("restored refresh token: %d %s", r.status, r.raw)
	}
}
