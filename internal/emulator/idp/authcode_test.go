package idp_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/emulator/idp"
)

const (
	redirect = "http://localhost:53219"
	verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-dBjftJeZ4CVP"
)

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeQuery(edit func(url.Values)) string {
	q := url.Values{
		"client_id": {publicID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"Mail.Read openid offline_access profile"}, "state": {"st-123"},
		"code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}, "nonce": {"n-0S6"},
	}
	if edit != nil {
		edit(q)
	}
	return "/" + tenantID + "/oauth2/v2.0/authorize?" + q.Encode()
}

// redirectParams reads the parameters a query-mode answer redirects with.
func redirectParams(t testing.TB, r reply) url.Values {
	t.Helper()
	if r.status != http.StatusFound {
		t.Fatalf("want a redirect, got %d: %s", r.status, r.raw)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("redirect to %q", r.header.Get("Location"))
	}
	return loc.Query()
}

func (f *fixture) authCode(edit func(url.Values)) string {
	f.t.Helper()
	params := redirectParams(f.t, f.get(authorizeQuery(edit)))
	if params.Get("code") == "" || params.Get("state") != "st-123" {
		f.t.Fatalf("authorize answered %v", params)
	}
	return params.Get("code")
}

func redeemForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {publicID}, "code": {code},
		"redirect_uri": {redirect}, "code_verifier": {verifier}, "scope": {"Mail.Read openid offline_access profile"}, "client_info": {"1"}}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.authCode(func(q url.Values) { q.Set("login_hint", megan) })
	r := f.token(redeemForm(code))
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	id := claims(t, r.str("id_token"))
	if id["preferred_username"] != megan || id["nonce"] != "n-0S6" || id["aud"] != publicID {
		t.Errorf("id token: %v", id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(r.str("client_info"))
	if err != nil {
		t.Fatalf("client_info is not unpadded base64url: %v", err)
	}
	var info map[string]string
	if err := json.Unmarshal(raw, &info); err != nil || info["uid"] != "5bde3e51-d13b-4db1-9948-fe4b109d11a7" || info["utid"] != tenantID {
		t.Errorf("client_info %s", raw)
	}
	if r.str("scope") != "Mail.Read openid offline_access profile" {
		t.Errorf("scope %q", r.str("scope"))
	}
	wantError(t, f.token(redeemForm(code)), http.StatusBadRequest, "invalid_grant", 54005)
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"/>`)

func TestAuthorizeResponseModes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	page := f.get(authorizeQuery(func(q url.Values) { q.Set("response_mode", "form_post") }))
	if page.status != http.StatusOK || !strings.Contains(page.raw, `<form method="POST" name="hiddenform" action="`+redirect+`">`) ||
		!strings.Contains(page.raw, "document.forms[0].submit()") {
		t.Fatalf("form_post page: %d %s", page.status, page.raw)
	}
	fields := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page.raw, -1) {
		fields.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if fields.Get("code") == "" || fields.Get("state") != "st-123" {
		t.Fatalf("form fields %v", fields)
	}
	if r := f.token(redeemForm(fields.Get("code"))); r.status != http.StatusOK {
		t.Fatalf("redeeming the posted code: %d %s", r.status, r.raw)
	}

	frag := f.get(authorizeQuery(func(q url.Values) { q.Set("response_mode", "fragment") }))
	if frag.status != http.StatusFound || !strings.HasPrefix(frag.header.Get("Location"), redirect+"#code=") {
		t.Fatalf("fragment: %d %s", frag.status, frag.header.Get("Location"))
	}
	// POST to authorize works too (as with form-encoded requests).
	post := f.post("/"+tenantID+"/oauth2/v2.0/authorize", mustQuery(authorizeQuery(nil)))
	if redirectParams(t, post).Get("code") == "" {
		t.Fatal("POST authorize gave no code")
	}
}

func mustQuery(pathAndQuery string) url.Values {
	u, _ := url.Parse(pathAndQuery)
	return u.Query()
}

func TestAuthorizeErrorPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		name   string
		edit   func(url.Values)
		path   string
		aadsts string
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "11111111-2222-3333-4444-555555555555") }, "", "AADSTS700016"},
		{"no client", func(q url.Values) { q.Del("client_id") }, "", "AADSTS900144"},
		{"no redirect", func(q url.Values) { q.Del("redirect_uri") }, "", "AADSTS900144"},
		{"unregistered redirect", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }, "", "AADSTS50011"},
		{"redirect path differs", func(q url.Values) { q.Set("redirect_uri", "http://localhost:53219/other") }, "", "AADSTS50011"},
		{"unsupported response mode", func(q url.Values) { q.Set("response_mode", "web_message") }, "", "AADSTS90008"},
		{"unknown tenant", nil, "/fabrikam.example/oauth2/v2.0/authorize?client_id=" + publicID, "AADSTS90002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = authorizeQuery(tt.edit)
			}
			r := f.get(path)
			if r.status != http.StatusBadRequest || !strings.Contains(r.raw, tt.aadsts) || r.header.Get("Location") != "" {
				t.Fatalf("want an error page with %s, got %d %s", tt.aadsts, r.status, r.raw)
			}
		})
	}
}

func TestAuthorizeRedirectedErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		name, err, code string
		edit            func(url.Values)
	}{
		{"response type", "unsupported_response_type", "700054", func(q url.Values) { q.Set("response_type", "token") }},
		{"no response type", "invalid_request", "900144", func(q url.Values) { q.Del("response_type") }},
		{"no scope", "invalid_request", "900144", func(q url.Values) { q.Del("scope") }},
		{"consent", "consent_required", "65001", func(q url.Values) { q.Set("scope", "Sites.FullControl.All") }},
		{"unknown user", "invalid_request", "50034", func(q url.Values) { q.Set("login_hint", "nobody@contoso.example") }},
		{"challenge method", "invalid_request", "501491", func(q url.Values) { q.Set("code_challenge_method", "S512") }},
		{"challenge size", "invalid_request", "501491", func(q url.Values) { q.Set("code_challenge", "short") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := redirectParams(t, f.get(authorizeQuery(tt.edit)))
			if params.Get("error") != tt.err || params.Get("error_codes") != tt.code ||
				!strings.HasPrefix(params.Get("error_description"), "AADSTS"+tt.code+": ") || params.Get("state") != "st-123" || params.Get("code") != "" {
				t.Fatalf("want %s/%s, got %v", tt.err, tt.code, params)
			}
		})
	}
}

func TestAuthCodeRedeemErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		name   string
		edit   func(url.Values)
		status int
		err    string
		aadsts int
	}{
		{"wrong verifier", func(v url.Values) { v.Set("code_verifier", verifier+"x") }, 400, "invalid_grant", 501481},
		{"no verifier", func(v url.Values) { v.Del("code_verifier") }, 400, "invalid_grant", 501481},
		{"other redirect", func(v url.Values) { v.Set("redirect_uri", "http://localhost:1") }, 400, "invalid_grant", 70000},
		{"no redirect", func(v url.Values) { v.Del("redirect_uri") }, 400, "invalid_request", 900144},
		{"no code", func(v url.Values) { v.Del("code") }, 400, "invalid_request", 900144},
		{"unknown code", func(v url.Values) { v.Set("code", "1.AQnope") }, 400, "invalid_grant", 9002313},
		{"secret from a public client", func(v url.Values) { v.Set("client_secret", "x") }, 401, "invalid_client", 700025},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := redeemForm(f.authCode(nil))
			tt.edit(form)
			wantError(t, f.token(form), tt.status, tt.err, tt.aadsts)
		})
	}
	t.Run("expired", func(t *testing.T) {
		f := newFixture(t, nil)
		code := f.authCode(nil)
		f.clock.Advance(idp.DefaultAuthCodeLifetime)
		wantError(t, f.token(redeemForm(code)), http.StatusBadRequest, "invalid_grant", 70008)
	})
	t.Run("plain challenge", func(t *testing.T) {
		f := newFixture(t, nil)
		code := f.authCode(func(q url.Values) { q.Set("code_challenge", verifier); q.Set("code_challenge_method", "plain") })
		if r := f.token(redeemForm(code)); r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
	t.Run("confidential client redeems with its secret", func(t *testing.T) {
		f := newFixture(t, func(c *idp.Config) { c.Tenant.Apps[1].DelegatedConsent = []string{"Mail.Read", "offline_access"} })
		code := f.authCode(func(q url.Values) { q.Set("client_id", confidentialID) })
		form := redeemForm(code)
		form.Set("client_id", confidentialID)
		wantError(t, f.token(form), http.StatusUnauthorized, "invalid_client", 7000218)
		code = f.authCode(func(q url.Values) { q.Set("client_id", confidentialID) })
		form = redeemForm(code)
		form.Set("client_id", confidentialID)
		form.Set("client_secret", secret)
		r := f.token(form)
		if r.status != http.StatusOK || claims(t, r.str("access_token"))["appidacr"] != "1" {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
}
