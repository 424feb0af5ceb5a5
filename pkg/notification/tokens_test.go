package notification

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testApp    = "11111111-2222-3333-4444-555555555555"
	testTenant = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

// authority is a real HTTP server publishing an openid-configuration and a
// JWKS whose keys a test can rotate.
type authority struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PrivateKey
	fetches int
}

func newAuthority(t testing.TB) *authority {
	t.Helper()
	a := &authority{keys: map[string]*rsa.PrivateKey{"k1": testKey()}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /common/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"jwks_uri": a.URL + "/common/discovery/v2.0/keys", "issuer": a.URL + "/{tenantid}/v2.0"})
	})
	mux.HandleFunc("GET /common/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.fetches++
		var keys []map[string]string
		for kid, key := range a.keys {
			keys = append(keys, map[string]string{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

func (a *authority) addKey(kid string, key *rsa.PrivateKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys[kid] = key
}

func sign(t testing.TB, kid string, key *rsa.PrivateKey, claims jwt.MapClaims) string {
	t.Helper()
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	token.Header["kid"] = kid
	signed, err := token.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{"aud": testApp, "iss": "https://sts.windows.net/" + testTenant + "/", "appid": ChangeNotificationPublisherID,
		"tid": testTenant, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func TestTokenValidator(t *testing.T) {
	t.Parallel()
	a := newAuthority(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	now := time.Now()
	v, err := NewTokenValidator(ctx, TokenValidatorConfig{AppID: testApp, Authority: a.URL + "/common", HTTPClient: a.Client(),
		Skew: time.Minute, RefreshUnknownKID: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := goodClaims(now)
		change(c)
		return c
	}
	good := sign(t, "k1", testKey(), goodClaims(now))
	parts := strings.Split(good, ".")
	tamperedPayload, _ := json.Marshal(with(func(c jwt.MapClaims) { c["aud"] = "someone-else" }))
	tests := []struct {
		name    string
		tokens  []string
		tenants []string
		want    string // a Check constant, "" for valid
	}{
		{"valid", []string{good}, []string{testTenant}, ""},
		{"azp instead of appid", []string{sign(t, "k1", testKey(), with(func(c jwt.MapClaims) { delete(c, "appid"); c["azp"] = ChangeNotificationPublisherID }))}, []string{testTenant}, ""},
		{"v2 issuer", []string{sign(t, "k1", testKey(), with(func(c jwt.MapClaims) { c["iss"] = "https://login.microsoftonline.com/" + testTenant + "/v2.0" }))}, []string{testTenant}, ""},
		{"the authority's issuer", []string{sign(t, "k1", testKey(), with(func(c jwt.MapClaims) { c["iss"] = a.URL + "/" + testTenant + "/v2.0" }))}, []string{testTenant}, ""},
		{"within the skew", []string{sign(t, "k1", testKey(), with(func(c jwt.MapClaims) { c["exp"] = now.Add(-30 * time.Second).Unix() }))}, []string{testTenant}, ""},
		{"tampered payload", []string{parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedPayload) + "." + parts[2]}, []string{testTenant}, CheckSignature},
		{"tampered signature", []string{parts[0] + "." + parts[1] + "." + flipped(parts[2])}, []string{testTenant}, CheckSignature},
		{"wrong key, known kid", []string{sign(t, "k1", stranger, goodClaims(now))}, []string{testTenant}, CheckSignature},
		{"unknown kid", []string{sign(t, "k-unknown", stranger, goodClaims(now))}, []string{testTenant}, CheckKeyID},
		{"expired", []string{sign(t, "k1", testKey(), with(func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() }))}, []string{testTenant}, CheckExpiry},
		{"no exp", []string{sign(t, "k1", testKey(), with(func(c jwt.MapClaims) { delete(c, "exp") }))}, []string{testTenant}, CheckMalformed},
		{"not yet valid", []string{sign(t, "k1", testKey(), with(func(c jwt.MapClaims) { c["nbf"] = now.Add(10 * time.Minute).Unix() }))}, []string{testTenant}, CheckNotBefore},
		{"wrong audience", []string{sign(t, "k1", testKey(), with(func(c jwt.MapClaims) { c["aud"] = "someone-else" }))}, []string{testTenant}, CheckAudience},
		{"wrong appid", []string{sign(t, "k1", testKey(), with(func(c jwt.MapClaims) { c["appid"] = testApp }))}, []string{testTenant}, CheckAppID},
		{"wrong issuer", []string{sign(t, "k1", testKey(), with(func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/" + testApp + "/" }))}, []string{testTenant}, CheckIssuer},
		{"other tenant", []string{good}, []string{testApp}, CheckIssuer},
		{"HS256", []string{hs256(t)}, []string{testTenant}, CheckSignature},
		{"not a JWT", []string{"nope"}, []string{testTenant}, CheckMalformed},
		{"no tokens", nil, []string{testTenant}, CheckMalformed},
		{"one bad among good", []string{good, sign(t, "k1", testKey(), with(func(c jwt.MapClaims) { c["aud"] = "x" }))}, []string{testTenant}, CheckAudience},
	}
	for _, tt := range tests {
		err := v.Validate(ctx, tt.tokens, tt.tenants)
		var tokenErr *TokenError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (!errors.As(err, &tokenErr) || tokenErr.Check != tt.want):
			t.Errorf("%s: %v, want the %s check to fail", tt.name, err, tt.want)
		case err != nil && len(tt.tokens) > 0 && len(tt.tokens[0]) > 20 && strings.Contains(err.Error(), tt.tokens[0][:20]):
			t.Errorf("%s: the error quotes the token: %v", tt.name, err)
		}
	}

	// Keys rotate: a token signed with a new key verifies once the JWKS
	// publishes it, through the refresh an unknown kid triggers.
	a.addKey("k2", stranger)
	before := a.fetchCount()
	if err := v.Validate(ctx, []string{sign(t, "k2", stranger, goodClaims(now))}, []string{testTenant}); err != nil {
		t.Errorf("after rotation: %v", err)
	}
	if a.fetchCount() != before+1 {
		t.Errorf("JWKS fetched %d times for the new kid, want 1", a.fetchCount()-before)
	}
	if err := v.Validate(ctx, []string{good}, []string{testTenant}); err != nil || a.fetchCount() != before+1 {
		t.Errorf("a known kid must come from the cache: %v, %d fetches", err, a.fetchCount()-before)
	}
}

func TestItemsCarryTheirCollectionsTokens(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`{"value":[{"subscriptionId":"a"},{"subscriptionId":"b"}],"validationTokens":["t1","t2"]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Value {
		if strings.Join(n.ValidationTokens, ",") != "t1,t2" {
			t.Errorf("%s: tokens %v", n.SubscriptionID, n.ValidationTokens)
		}
	}
	plain, _ := Parse([]byte(`{"value":[{"subscriptionId":"a"}]}`))
	if plain.Value[0].ValidationTokens != nil {
		t.Error("an item of a collection without tokens has some")
	}
}

func (a *authority) fetchCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fetches
}

func flipped(segment string) string {
	b, _ := base64.RawURLEncoding.DecodeString(segment)
	b[0] ^= 0xff
	return base64.RawURLEncoding.EncodeToString(b)
}

func hs256(t *testing.T) string {
	t.Helper()
	token := jwt.NewWithClaims(jwt.SigningMethodHS256, goodClaims(time.Now()))
	token.Header["kid"] = "k1"
	signed, err := token.SignedString([]byte("a shared secret anyone could know"))
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestNewTokenValidatorErrors(t *testing.T) {
	t.Parallel()
	a := newAuthority(t)
	ctx := t.Context()
	if _, err := NewTokenValidator(ctx, TokenValidatorConfig{Authority: a.URL + "/common"}); err == nil {
		t.Error("no app id accepted")
	}
	if _, err := NewTokenValidator(ctx, TokenValidatorConfig{AppID: testApp, Authority: a.URL + "/nowhere", HTTPClient: a.Client()}); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("missing discovery: %v", err)
	}
	if _, err := NewTokenValidator(ctx, TokenValidatorConfig{AppID: testApp, JWKSURL: a.URL + "/nokeys", HTTPClient: a.Client()}); err == nil {
		t.Error("unreadable JWKS accepted")
	}
}

// BenchmarkValidateToken measures checking one validation token with the
// keys cached (the usual case: a refresh happens once an hour).
//
//	go test -run '^$' -bench BenchmarkValidateToken ./pkg/notification/
func BenchmarkValidateToken(b *testing.B) {
	a := newAuthority(b)
	v, err := NewTokenValidator(b.Context(), TokenValidatorConfig{AppID: testApp, Authority: a.URL + "/common", HTTPClient: a.Client()})
	if err != nil {
		b.Fatal(err)
	}
	token := sign(b, "k1", testKey(), goodClaims(time.Now()))
	tenants := []string{testTenant}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := v.Validate(b.Context(), []string{token}, tenants); err != nil {
			b.Fatal(err)
		}
	}
}
