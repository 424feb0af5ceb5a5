package idp_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hookctl/hookctl/internal/emulator/idp"
	"github.com/hookctl/hookctl/internal/emulator/pki"
	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

// forge signs claims like an issued Graph token, with edits.
func forge(t *testing.T, kp *pki.KeyPair, now time.Time, edit func(jwt.MapClaims)) string {
	t.Helper()
	c := jwt.MapClaims{
		"aud": idp.GraphResource, "iss": "https://sts.windows.net/" + tenantID + "/", "tid": tenantID,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"appid": publicID, "idtyp": "user", "oid": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "upn": adele, "scp": "Mail.Read",
	}
	if edit != nil {
		edit(c)
	}
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	token.Header["kid"] = kp.X5t()
	signed, err := token.SignedString(kp.Key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	signing, _, other := testKeys(t)
	now := f.clock.Now()

	p, err := f.idp.Authenticate(forge(t, signing, now, nil))
	if err != nil || !p.Delegated || p.UPN != adele || p.UserID != "87d349ed-44d7-43e1-9a83-5f2406dee5bd" || !p.Has("mail.read") || p.Has("Mail.Send") {
		t.Fatalf("principal %+v, %v", p, err)
	}
	if _, err := f.idp.Authenticate(forge(t, signing, now, func(c jwt.MapClaims) { c["aud"] = idp.GraphAppID })); err != nil {
		t.Errorf("GUID audience refused: %v", err)
	}

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"garbage", "not-a-token", idp.ErrTokenMalformed},
		{"bad base64", "a.b.c", idp.ErrTokenMalformed},
		{"another key", forge(t, other, now, func(jwt.MapClaims) {}), idp.ErrTokenSignature},
		{"expired", forge(t, signing, now.Add(-2*time.Hour), nil), idp.ErrTokenExpired},
		{"not yet valid", forge(t, signing, now, func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), idp.ErrTokenNotYet},
		{"no expiry", forge(t, signing, now, func(c jwt.MapClaims) { delete(c, "exp") }), idp.ErrTokenNoExpiry},
		{"audience", forge(t, signing, now, func(c jwt.MapClaims) { c["aud"] = "api://other" }), idp.ErrTokenAudience},
		{"issuer", forge(t, signing, now, func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/00000000-0000-0000-0000-000000000000/" }), idp.ErrTokenIssuer},
		{"tenant", forge(t, signing, now, func(c jwt.MapClaims) { c["tid"] = "00000000-0000-0000-0000-000000000000" }), idp.ErrTokenTenant},
		{"alg none", jwtNone(t), idp.ErrTokenSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.idp.Authenticate(tt.token); !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
		})
	}

	// An issued token expires with the fake clock.
	token, _ := f.idp.MintAppToken(confidentialID, []string{"Mail.Send"})
	if p, err := f.idp.Authenticate(token); err != nil || p.Delegated || !p.Has("Mail.Send") || p.Has("Mail.Read") {
		t.Fatalf("app principal %+v, %v", p, err)
	}
	f.clock.Advance(idp.DefaultAccessTokenLifetime + time.Second)
	if _, err := f.idp.Authenticate(token); !errors.Is(err, idp.ErrTokenExpired) {
		t.Fatalf("want expiry, got %v", err)
	}
}

func jwtNone(t *testing.T) string {
	t.Helper()
	token := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"aud": idp.GraphResource, "exp": time.Now().Add(time.Hour).Unix()})
	s, err := token.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidationToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	token, err := f.idp.ValidationToken(confidentialID)
	if err != nil {
		t.Fatal(err)
	}
	c := claims(t, token)
	if c["aud"] != confidentialID || c["appid"] != idp.ChangeNotificationPublisherID || c["iss"] != "https://sts.windows.net/"+tenantID+"/" {
		t.Fatalf("validation token claims: %v", c)
	}
}

func TestControlAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	userCode, deviceCode := f.deviceCode(publicID, "Mail.Read")

	list := f.get("/_emulator/devicecode")
	codes, _ := list.json["value"].([]any)
	if list.status != http.StatusOK || len(codes) != 1 || codes[0].(map[string]any)["userCode"] != userCode || codes[0].(map[string]any)["status"] != "pending" {
		t.Fatalf("list: %d %s", list.status, list.raw)
	}

	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"not JSON", `{`, 400, "BadRequest"},
		{"unknown field", `{"userCode":"` + userCode + `","usr":"x"}`, 400, "BadRequest"},
		{"no user code", `{"user":"` + adele + `"}`, 400, "BadRequest"},
		{"unknown user code", `{"userCode":"ZZZZZZZZZ","user":"` + adele + `"}`, 404, "NotFound"},
		{"unknown user", `{"userCode":"` + userCode + `","user":"nobody@contoso.example"}`, 404, "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.postJSON("/_emulator/devicecode/approve", tt.body)
			errObj, _ := r.json["error"].(map[string]any)
			if r.status != tt.status || errObj["code"] != tt.code {
				t.Fatalf("want %d %s, got %d %s", tt.status, tt.code, r.status, r.raw)
			}
		})
	}

	r := f.postJSON("/_emulator/devicecode/approve", `{"userCode":"`+userCode+`","user":"`+megan+`"}`)
	if r.status != http.StatusOK || r.str("status") != "approved" || r.str("user") != megan {
		t.Fatalf("approve: %d %s", r.status, r.raw)
	}
	if r := f.postJSON("/_emulator/devicecode/approve", `{"userCode":"`+userCode+`","deny":true}`); r.status != http.StatusConflict ||
		r.json["error"].(map[string]any)["code"] != "Conflict" || !strings.Contains(r.raw, "already approved or denied") {
		t.Fatalf("second decision: %d %s", r.status, r.raw)
	}
	if tok := f.token(pollForm(publicID, deviceCode)); tok.status != http.StatusOK || claims(t, tok.str("access_token"))["upn"] != megan {
		t.Fatalf("token after control approval: %d %s", tok.status, tok.raw)
	}

	// Without "user" the first user signs in; "deny" declines.
	userCode, _ = f.deviceCode(publicID, "Mail.Read")
	if r := f.postJSON("/_emulator/devicecode/approve", `{"userCode":"`+userCode+`"}`); r.str("user") != adele {
		t.Fatalf("default user: %s", r.raw)
	}
	userCode, deviceCode = f.deviceCode(publicID, "Mail.Read")
	if r := f.postJSON("/_emulator/devicecode/approve", `{"userCode":"`+userCode+`","deny":true}`); r.str("status") != "denied" {
		t.Fatalf("deny: %s", r.raw)
	}
	wantError(t, f.token(pollForm(publicID, deviceCode)), http.StatusBadRequest, "authorization_declined", 70000)

	mint := f.postJSON("/_emulator/tokens", `{"clientId":"`+publicID+`","user":"`+megan+`","scopes":["Mail.Read"]}`)
	if p, err := f.idp.Authenticate(mint.str("access_token")); err != nil || p.UPN != megan {
		t.Fatalf("minted user token: %s %v", mint.raw, err)
	}
	mint = f.postJSON("/_emulator/tokens", `{"clientId":"`+confidentialID+`"}`)
	if p, err := f.idp.Authenticate(mint.str("access_token")); err != nil || p.Delegated || len(p.Roles) != len(tenant.Default().Apps[1].AppRoles) {
		t.Fatalf("minted app token: %s %v", mint.raw, err)
	}
	for body, status := range map[string]int{
		`{}`: 400, `{"clientId":"` + publicID + `","user":"` + megan + `"}`: 400,
		`{"clientId":"11111111-2222-3333-4444-555555555555"}`: 404, `[`: 400,
	} {
		if r := f.postJSON("/_emulator/tokens", body); r.status != status || !strings.Contains(r.raw, `"error"`) {
			t.Errorf("mint %s: want %d, got %d %s", body, status, r.status, r.raw)
		}
	}
}
