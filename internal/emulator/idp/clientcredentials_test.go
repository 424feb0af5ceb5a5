package idp_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hookctl/hookctl/internal/emulator/pki"
	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

func secretForm(edit func(url.Values)) url.Values {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {confidentialID}, "client_secret": {secret},
		"scope": {"https://graph.microsoft.com/.default openid offline_access profile"}}
	if edit != nil {
		edit(form)
	}
	return form
}

func assertionForm(assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {confidentialID},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion},
		"scope": {"https://graph.microsoft.com/.default openid offline_access profile"}, "client_info": {"1"}}
}

func TestClientCredentialsSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := f.token(secretForm(nil))
	if r.status != http.StatusOK || r.str("scope") != "https://graph.microsoft.com/.default" || r.str("refresh_token") != "" || r.str("id_token") != "" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	at := claims(t, r.str("access_token"))
	roles, _ := at["roles"].([]any)
	if at["idtyp"] != "app" || at["appidacr"] != "1" || at["appid"] != confidentialID || len(roles) != len(tenant.Default().Apps[1].AppRoles) || at["scp"] != nil || at["upn"] != nil {
		t.Fatalf("app token claims: %v", at)
	}
	p, err := f.idp.Authenticate(r.str("access_token"))
	if err != nil || p.Delegated || !p.Has("Mail.Read") {
		t.Fatalf("principal %+v, %v", p, err)
	}
	// client_secret_basic works too.
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/"+tenantID+"/oauth2/v2.0/token",
		stringsReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(confidentialID, url.QueryEscape(secret))
	if r := f.do(req); r.status != http.StatusOK {
		t.Fatalf("basic auth: %d %s", r.status, r.raw)
	}
	// The GUID form of Graph's resource is accepted.
	if r := f.token(secretForm(func(v url.Values) { v.Set("scope", "00000003-0000-0000-c000-000000000000/.default") })); r.status != http.StatusOK {
		t.Fatalf("GUID resource: %d %s", r.status, r.raw)
	}
}

func TestClientCredentialsErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		name   string
		path   string
		form   url.Values
		status int
		err    string
		aadsts int
	}{
		{"wrong secret", "", secretForm(func(v url.Values) { v.Set("client_secret", "nope") }), 401, "invalid_client", 7000215},
		{"no credential", "", secretForm(func(v url.Values) { v.Del("client_secret") }), 401, "invalid_client", 7000218},
		{"unknown client", "", secretForm(func(v url.Values) { v.Set("client_id", "11111111-2222-3333-4444-555555555555") }), 400, "unauthorized_client", 700016},
		{"no client id", "", secretForm(func(v url.Values) { v.Del("client_id") }), 400, "invalid_request", 900144},
		{"public client with secret", "", secretForm(func(v url.Values) { v.Set("client_id", publicID) }), 401, "invalid_client", 700025},
		{"public client without secret", "", secretForm(func(v url.Values) { v.Set("client_id", publicID); v.Del("client_secret") }), 401, "invalid_client", 7000218},
		{"delegated scope", "", secretForm(func(v url.Values) { v.Set("scope", "Mail.Read") }), 400, "invalid_scope", 1002012},
		{"two resources", "", secretForm(func(v url.Values) { v.Set("scope", "https://graph.microsoft.com/.default api://x/.default") }), 400, "invalid_scope", 1002012},
		{"no scope", "", secretForm(func(v url.Values) { v.Del("scope") }), 400, "invalid_request", 900144},
		{"other resource", "", secretForm(func(v url.Values) { v.Set("scope", "api://other/.default") }), 400, "invalid_resource", 500011},
		{"common authority", "/common/oauth2/v2.0/token", secretForm(nil), 400, "invalid_request", 50059},
		{"unknown tenant", "/fabrikam.example/oauth2/v2.0/token", secretForm(nil), 400, "invalid_request", 90002},
		{"no grant type", "", secretForm(func(v url.Values) { v.Del("grant_type") }), 400, "invalid_request", 900144},
		{"unsupported grant", "", secretForm(func(v url.Values) { v.Set("grant_type", "password") }), 400, "unsupported_grant_type", 70003},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/" + tenantID + "/oauth2/v2.0/token"
			}
			wantError(t, f.post(path, tt.form), tt.status, tt.err, tt.aadsts)
		})
	}
	wantError(t, f.get("/"+tenantID+"/oauth2/v2.0/token"), http.StatusBadRequest, "invalid_request", 900561)

	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/"+tenantID+"/oauth2/v2.0/token", stringsReader(secretForm(func(v url.Values) { v.Set("client_secret", "nope") }).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("client-request-id", "0f5e0f43-8e1c-4f8e-9c43-9d5a2c7f1e11")
	if r := f.do(req); r.str("correlation_id") != "0f5e0f43-8e1c-4f8e-9c43-9d5a2c7f1e11" {
		t.Errorf("correlation id not echoed: %s", r.raw)
	}
}

func TestClientAssertion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, app, other := testKeys(t)
	r := f.token(assertionForm(f.assertion(app, nil)))
	if r.status != http.StatusOK || claims(t, r.str("access_token"))["appidacr"] != "2" {
		t.Fatalf("MSAL-shaped assertion: %d %s", r.status, r.raw)
	}
	// RS256 with a SHA-1 x5t (ADFS style, older SDKs) is accepted too, and so
	// is an assertion without client_id (the client is its subject).
	rs := f.assertion(app, func(_ jwt.MapClaims, h map[string]any) {
		h["alg"] = "RS256"
		delete(h, "x5t#S256")
		h["x5t"] = base64.RawURLEncoding.EncodeToString(pki.SHA1(app.Cert))
	})
	form := assertionForm(rs)
	form.Del("client_id")
	if r := f.token(form); r.status != http.StatusOK {
		t.Fatalf("RS256 assertion: %d %s", r.status, r.raw)
	}
	// The v1 token endpoint as audience is accepted.
	v1 := f.assertion(app, func(c jwt.MapClaims, _ map[string]any) { c["aud"] = f.srv.URL + "/" + tenantID + "/oauth2/token" })
	if r := f.token(assertionForm(v1)); r.status != http.StatusOK {
		t.Fatalf("v1 audience: %d %s", r.status, r.raw)
	}

	tests := []struct {
		name      string
		assertion string
		aadsts    int
	}{
		{"signed with another key", f.assertion(other, nil), 700027},
		{"another key, thumbprint of the registered one", f.assertion(other, func(_ jwt.MapClaims, h map[string]any) {
			h["x5t#S256"] = base64.StdEncoding.EncodeToString(pki.SHA256(app.Cert))
		}), 700027},
		{"expired", f.assertion(app, func(c jwt.MapClaims, _ map[string]any) { c["exp"] = f.clock.Now().Add(-time.Minute).Unix() }), 700024},
		{"not yet valid", f.assertion(app, func(c jwt.MapClaims, _ map[string]any) { c["nbf"] = f.clock.Now().Add(time.Hour).Unix() }), 700024},
		{"no exp", f.assertion(app, func(c jwt.MapClaims, _ map[string]any) { delete(c, "exp") }), 700024},
		{"wrong audience", f.assertion(app, func(c jwt.MapClaims, _ map[string]any) {
			c["aud"] = "https://login.microsoftonline.com/" + tenantID + "/oauth2/v2.0/token"
		}), 700027},
		{"wrong issuer", f.assertion(app, func(c jwt.MapClaims, _ map[string]any) { c["iss"] = publicID }), 700021},
		{"malformed", "not.a.jwt", 50027},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, f.token(assertionForm(tt.assertion)), http.StatusUnauthorized, "invalid_client", tt.aadsts)
		})
	}
	form = assertionForm(f.assertion(app, nil))
	form.Del("client_assertion_type")
	wantError(t, f.token(form), http.StatusBadRequest, "invalid_request", 900144)
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
	wantError(t, f.token(form), http.StatusBadRequest, "invalid_request", 700023)
}
