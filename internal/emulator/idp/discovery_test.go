package idp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

func TestOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		segment, pathTenant, issuerTenant string
	}{
		{tenantID, tenantID, tenantID},
		{"contoso.example", tenantID, tenantID},
		{"common", "common", "{tenantid}"},
		{"organizations", "organizations", "{tenantid}"},
	}
	required := []string{
		"authorization_endpoint", "token_endpoint", "issuer", "jwks_uri", "device_authorization_endpoint",
		"end_session_endpoint", "userinfo_endpoint", "response_types_supported", "scopes_supported",
		"subject_types_supported", "id_token_signing_alg_values_supported", "token_endpoint_auth_methods_supported",
		"claims_supported", "tenant_region_scope", "response_modes_supported",
	}
	for _, tt := range tests {
		t.Run(tt.segment, func(t *testing.T) {
			r := f.get("/" + tt.segment + "/v2.0/.well-known/openid-configuration")
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			for _, key := range required {
				if _, ok := r.json[key]; !ok {
					t.Errorf("missing %s", key)
				}
			}
			base := f.srv.URL + "/" + tt.pathTenant
			want := map[string]string{
				"issuer":                        f.srv.URL + "/" + tt.issuerTenant + "/v2.0",
				"token_endpoint":                base + "/oauth2/v2.0/token",
				"authorization_endpoint":        base + "/oauth2/v2.0/authorize",
				"device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
				"jwks_uri":                      base + "/discovery/v2.0/keys",
			}
			for key, value := range want {
				if r.str(key) != value {
					t.Errorf("%s = %q, want %q", key, r.str(key), value)
				}
			}
			// MSAL derives the device-code URL by replacing every "token".
			if got := strings.ReplaceAll(r.str("token_endpoint"), "token", "devicecode"); got != r.str("device_authorization_endpoint") {
				t.Errorf("token endpoint %q holds another \"token\"", r.str("token_endpoint"))
			}
			issuer, _ := url.Parse(r.str("issuer"))
			if issuer.Scheme != "https" || issuer.Host != strings.TrimPrefix(f.srv.URL, "https://") {
				t.Errorf("issuer %q is not on the authority's scheme and host", r.str("issuer"))
			}
		})
	}
}

func TestDiscoveryErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	wantError(t, f.get("/fabrikam.example/v2.0/.well-known/openid-configuration"), http.StatusBadRequest, "invalid_tenant", 90002)
	wantError(t, f.get("/fabrikam.example/discovery/v2.0/keys"), http.StatusBadRequest, "invalid_tenant", 90002)
	wantError(t, f.get("/common/discovery/instance?api-version=1.1&authorization_endpoint="+url.QueryEscape("https://login.microsoftonline.com/common/oauth2/v2.0/authorize")),
		http.StatusBadRequest, "invalid_instance", 50049)
	if r := f.get("/nothing/here"); r.status != http.StatusNotFound {
		t.Errorf("unknown path: %d", r.status)
	}
}

func TestInstanceDiscovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	host := strings.TrimPrefix(f.srv.URL, "https://")
	r := f.get("/common/discovery/instance?api-version=1.1&authorization_endpoint=" + url.QueryEscape(f.srv.URL+"/"+tenantID+"/oauth2/v2.0/authorize"))
	if r.status != http.StatusOK || r.str("tenant_discovery_endpoint") != f.srv.URL+"/"+tenantID+"/v2.0/.well-known/openid-configuration" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	meta := r.json["metadata"].([]any)[0].(map[string]any)
	if meta["preferred_network"] != host || meta["aliases"].([]any)[0] != host {
		t.Fatalf("metadata: %v", meta)
	}
}

// TestJWKSVerifiesTokens checks the published keys with a third-party JWKS
// client, the way a resource server would.
func TestJWKSVerifiesTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := f.get("/common/discovery/v2.0/keys")
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	key := r.json["keys"].([]any)[0].(map[string]any)
	for _, field := range []string{"kty", "use", "kid", "x5t", "n", "e", "x5c", "issuer"} {
		if _, ok := key[field]; !ok {
			t.Errorf("JWK lacks %s", field)
		}
	}
	kf, err := keyfunc.NewJWKSetJSON(json.RawMessage(r.raw))
	if err != nil {
		t.Fatal(err)
	}
	token, err := f.idp.MintUserToken(publicID, adele, []string{"Mail.Read"})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.Parse(token, kf.Keyfunc, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(f.clock.Now))
	if err != nil || !parsed.Valid {
		t.Fatalf("the JWKS does not verify an issued token: %v", err)
	}
}

func TestUserInfo(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	token, _ := f.idp.MintUserToken(publicID, megan, []string{"openid", "profile"})
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/oidc/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	r := f.do(req)
	if r.status != http.StatusOK || r.str("name") != "Megan Bowen" || r.str("email") != megan || r.str("sub") == "" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	req, _ = http.NewRequest(http.MethodGet, f.srv.URL+"/oidc/userinfo", nil)
	if r := f.do(req); r.status != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", r.status)
	}
	appToken, _ := f.idp.MintAppToken(confidentialID, nil)
	req.Header.Set("Authorization", "Bearer "+appToken)
	if r := f.do(req); r.status != http.StatusUnauthorized {
		t.Fatalf("with an app token: %d", r.status)
	}
}
