package idp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/idp"
)

func (f *fixture) deviceCode(clientID, scope string) (userCode, deviceCode string) {
	f.t.Helper()
	r := f.post("/"+tenantID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {clientID}, "scope": {scope}})
	if r.status != http.StatusOK {
		f.t.Fatalf("devicecode: %d %s", r.status, r.raw)
	}
	return r.str("user_code"), r.str("device_code")
}

func pollForm(clientID, deviceCode string) url.Values {
	return url.Values{"grant_type": {"device_code"}, "client_id": {clientID}, "device_code": {deviceCode}, "client_info": {"1"},
		"scope": {"Mail.Read openid offline_access profile"}}
}

func TestDeviceCodeAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *idp.Config) { c.DeviceCodeLifetime = 600 * time.Second })
	r := f.post("/common/oauth2/v2.0/devicecode", url.Values{"client_id": {publicID}, "scope": {"Mail.Read offline_access"}})
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	userCode := r.str("user_code")
	if len(userCode) != 9 || r.str("device_code") == "" || r.str("verification_uri") != f.srv.URL+"/devicelogin" ||
		r.json["expires_in"] != float64(600) || r.json["interval"] != float64(5) ||
		!strings.Contains(r.str("message"), userCode) || !strings.Contains(r.str("message"), f.srv.URL+"/devicelogin") {
		t.Fatalf("device code answer: %s", r.raw)
	}
}

func TestDeviceCodeRequestErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	path := "/" + tenantID + "/oauth2/v2.0/devicecode"
	tests := []struct {
		name   string
		form   url.Values
		status int
		err    string
		code   int
	}{
		{"no client", url.Values{"scope": {"Mail.Read"}}, 400, "invalid_request", 900144},
		{"unknown client", url.Values{"client_id": {"11111111-2222-3333-4444-555555555555"}, "scope": {"Mail.Read"}}, 400, "unauthorized_client", 700016},
		{"no scope", url.Values{"client_id": {publicID}}, 400, "invalid_request", 900144},
		{"another resource", url.Values{"client_id": {publicID}, "scope": {"api://other/read"}}, 400, "invalid_resource", 500011},
		{"bad scope", url.Values{"client_id": {publicID}, "scope": {"https://graph.microsoft.com/"}}, 400, "invalid_scope", 70011},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, f.post(path, tt.form), tt.status, tt.err, tt.code)
		})
	}
	wantError(t, f.get(path), http.StatusBadRequest, "invalid_request", 900561)
	wantError(t, f.post("/fabrikam.example/oauth2/v2.0/devicecode", url.Values{"client_id": {publicID}, "scope": {"Mail.Read"}}), 400, "invalid_request", 90002)
}

func TestDeviceCodeFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	userCode, deviceCode := f.deviceCode(publicID, "Mail.Read offline_access openid profile")

	wantError(t, f.token(pollForm(publicID, deviceCode)), http.StatusBadRequest, "authorization_pending", 70016)
	if err := f.idp.ApproveDeviceCode(strings.ToLower(userCode), megan); err != nil {
		t.Fatal(err)
	}
	r := f.token(pollForm(publicID, deviceCode))
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	for _, key := range []string{"access_token", "refresh_token", "id_token", "client_info", "scope", "token_type"} {
		if r.str(key) == "" {
			t.Errorf("answer lacks %s", key)
		}
	}
	if r.str("token_type") != "Bearer" || r.json["expires_in"] != float64(3599) {
		t.Errorf("answer: %s", r.raw)
	}
	at := claims(t, r.str("access_token"))
	if at["oid"] != "5bde3e51-d13b-4db1-9948-fe4b109d11a7" || at["upn"] != megan || at["scp"] != "Mail.Read openid profile" || at["appid"] != publicID ||
		at["aud"] != idp.GraphResource || at["iss"] != "https://sts.windows.net/"+tenantID+"/" || at["tid"] != tenantID || at["idtyp"] != "user" || at["appidacr"] != "0" {
		t.Errorf("access token claims: %v", at)
	}
	if exp, iat := at["exp"].(float64), at["iat"].(float64); exp-iat != 3599 {
		t.Errorf("lifetime %v", exp-iat)
	}
	id := claims(t, r.str("id_token"))
	if id["aud"] != publicID || id["preferred_username"] != megan || id["tid"] != tenantID || id["oid"] != at["oid"] ||
		id["iss"] != f.srv.URL+"/"+tenantID+"/v2.0" || id["ver"] != "2.0" || id["sub"] == "" || id["name"] != "Megan Bowen" {
		t.Errorf("id token claims: %v", id)
	}
	// The code is spent.
	wantError(t, f.token(pollForm(publicID, deviceCode)), http.StatusBadRequest, "invalid_grant", 70000)
}

func TestDeviceCodeErrors(t *testing.T) {
	t.Parallel()
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		userCode, deviceCode := f.deviceCode(publicID, "Mail.Read")
		f.clock.Advance(idp.DefaultDeviceCodeLifetime)
		wantError(t, f.token(pollForm(publicID, deviceCode)), http.StatusBadRequest, "expired_token", 70019)
		if err := f.idp.ApproveDeviceCode(userCode, adele); err != idp.ErrCodeExpired {
			t.Errorf("approving an expired code: %v", err)
		}
	})
	t.Run("denied", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		userCode, deviceCode := f.deviceCode(publicID, "Mail.Read")
		if err := f.idp.DenyDeviceCode(userCode); err != nil {
			t.Fatal(err)
		}
		wantError(t, f.token(pollForm(publicID, deviceCode)), http.StatusBadRequest, "authorization_declined", 70000)
	})
	t.Run("slow down", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, func(c *idp.Config) { c.DeviceCodePollMinimum = 5 * time.Second })
		_, deviceCode := f.deviceCode(publicID, "Mail.Read")
		wantError(t, f.token(pollForm(publicID, deviceCode)), http.StatusBadRequest, "authorization_pending", 70016)
		wantError(t, f.token(pollForm(publicID, deviceCode)), http.StatusBadRequest, "slow_down", 70016)
		f.clock.Advance(5 * time.Second)
		wantError(t, f.token(pollForm(publicID, deviceCode)), http.StatusBadRequest, "authorization_pending", 70016)
	})
	t.Run("unknown code", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		wantError(t, f.token(pollForm(publicID, "DAQABnope")), http.StatusBadRequest, "invalid_grant", 9002313)
		form := pollForm(publicID, "")
		wantError(t, f.token(form), http.StatusBadRequest, "invalid_request", 900144)
	})
	t.Run("another client's code", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, func(c *idp.Config) {
			c.Tenant.Apps = append(c.Tenant.Apps, c.Tenant.Apps[0])
			c.Tenant.Apps[2].ClientID = "22222222-2222-2222-2222-222222222222"
		})
		_, deviceCode := f.deviceCode(publicID, "Mail.Read")
		wantError(t, f.token(pollForm("22222222-2222-2222-2222-222222222222", deviceCode)), http.StatusBadRequest, "invalid_grant", 9002313)
	})
	t.Run("consent missing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		userCode, deviceCode := f.deviceCode(publicID, "Calendars.Read")
		if err := f.idp.ApproveDeviceCode(userCode, adele); err != nil {
			t.Fatal(err)
		}
		form := pollForm(publicID, deviceCode)
		form.Set("scope", "Calendars.Read openid offline_access profile")
		r := f.token(form)
		wantError(t, r, http.StatusBadRequest, "invalid_grant", 65001)
		if r.str("suberror") != "consent_required" {
			t.Errorf("suberror: %s", r.raw)
		}
	})
	t.Run("confidential app without credential", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		_, deviceCode := f.deviceCode(confidentialID, "Mail.Read")
		wantError(t, f.token(pollForm(confidentialID, deviceCode)), http.StatusUnauthorized, "invalid_client", 7000218)
	})
	t.Run("RFC 8628 grant name and auto-approve", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, func(c *idp.Config) { c.AutoApprove = true })
		_, deviceCode := f.deviceCode(publicID, "Mail.Read")
		form := pollForm(publicID, deviceCode)
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:device_code")
		r := f.token(form)
		if r.status != http.StatusOK || claims(t, r.str("access_token"))["upn"] != adele {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
}

func TestDeviceLoginPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	userCode, deviceCode := f.deviceCode(publicID, "Mail.Read")
	page := f.get("/devicelogin")
	if page.status != http.StatusOK || !strings.Contains(page.raw, megan) || !strings.Contains(page.raw, `name="otc"`) {
		t.Fatalf("%d %s", page.status, page.raw)
	}
	if r := f.post("/devicelogin", url.Values{"otc": {"NOPE"}, "user": {megan}, "action": {"approve"}}); r.status != http.StatusBadRequest {
		t.Fatalf("unknown code: %d", r.status)
	}
	r := f.post("/devicelogin", url.Values{"otc": {userCode}, "user": {megan}, "action": {"approve"}})
	if r.status != http.StatusOK || !strings.Contains(r.raw, "You have signed in") {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	tok := f.token(pollForm(publicID, deviceCode))
	if tok.status != http.StatusOK || claims(t, tok.str("access_token"))["upn"] != megan {
		t.Fatalf("%d %s", tok.status, tok.raw)
	}
}
