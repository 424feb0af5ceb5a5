package idp_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hookctl/hookctl/internal/emulator/idp"
	"github.com/hookctl/hookctl/internal/emulator/pki"
	"github.com/hookctl/hookctl/internal/emulator/tenant"
	_ "github.com/hookctl/hookctl/internal/golden"
)

const (
	publicID       = tenant.DefaultPublicClientID
	confidentialID = tenant.DefaultConfidentialClientID
	tenantID       = tenant.DefaultTenantID
	secret         = "abc8Q~test-secret-value-0123456789abcdef"
	adele          = "adele@contoso.example"
	megan          = "megan@contoso.example"
)

// keys are generated once: RSA key generation is the slow part of a test.
var keys struct {
	once                sync.Once
	signing, app, other *pki.KeyPair
}

func testKeys(t testing.TB) (signing, app, other *pki.KeyPair) {
	t.Helper()
	keys.once.Do(func() {
		var err error
		for _, kp := range []**pki.KeyPair{&keys.signing, &keys.app, &keys.other} {
			if *kp, err = pki.NewKeyPair("test"); err != nil {
				panic(err)
			}
		}
	})
	return keys.signing, keys.app, keys.other
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is an identity platform behind a real TLS server, on a fake clock.
type fixture struct {
	t      testing.TB
	idp    *idp.Server
	srv    *httptest.Server
	clock  *clock
	client *http.Client
	tenant *tenant.Tenant
}

func newFixture(t testing.TB, mutate func(*idp.Config)) *fixture {
	t.Helper()
	signing, app, _ := testKeys(t)
	tn := tenant.Default()
	for i := range tn.Apps {
		if !tn.Apps[i].Public {
			tn.Apps[i].Secret = secret
			tn.Apps[i].CertificatePEM = string(app.CertPEM)
		}
	}
	c := &clock{now: time.Now().Truncate(time.Second)}
	cfg := idp.Config{Tenant: tn, SigningKey: signing, Now: c.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	server, err := idp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/_emulator/", server.ControlHandler())
	mux.Handle("/", server.Handler())
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &fixture{t: t, idp: server, srv: srv, clock: c, client: client, tenant: tn}
}

// reply is a decoded answer.
type reply struct {
	status int
	header http.Header
	raw    string
	json   map[string]any
}

func (r reply) str(key string) string { s, _ := r.json[key].(string); return s }

func (f *fixture) do(req *http.Request) reply {
	f.t.Helper()
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(body)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &r.json); err != nil {
			f.t.Fatalf("%s: invalid JSON: %v: %s", req.URL.Path, err, body)
		}
	}
	return r
}

func (f *fixture) get(path string) reply {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	return f.do(req)
}

func (f *fixture) post(path string, form url.Values) reply {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.do(req)
}

func (f *fixture) postJSON(path, body string) reply {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return f.do(req)
}

func (f *fixture) token(form url.Values) reply {
	f.t.Helper()
	return f.post("/"+tenantID+"/oauth2/v2.0/token", form)
}

var descriptionShape = regexp.MustCompile(`^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)

// wantError asserts an identity-platform error answer: status, error, AADSTS code.
func wantError(t *testing.T, r reply, status int, oauthErr string, aadsts int) {
	t.Helper()
	if r.status != status || r.str("error") != oauthErr {
		t.Fatalf("want %d %s (AADSTS%d), got %d: %s", status, oauthErr, aadsts, r.status, r.raw)
	}
	codes, _ := r.json["error_codes"].([]any)
	if len(codes) != 1 || int(codes[0].(float64)) != aadsts {
		t.Fatalf("want error_codes [%d], got %v", aadsts, r.json["error_codes"])
	}
	m := descriptionShape.FindStringSubmatch(r.str("error_description"))
	if m == nil || m[1] != itoa(aadsts) {
		t.Fatalf("error_description not in the service's shape: %q", r.str("error_description"))
	}
	if r.str("error_uri") != "https://login.microsoftonline.com/error?code="+itoa(aadsts) {
		t.Fatalf("error_uri %q", r.str("error_uri"))
	}
	if r.header.Get("Cache-Control") != "no-store, no-cache" || r.header.Get("x-ms-request-id") != r.str("trace_id") {
		t.Fatalf("headers %v", r.header)
	}
	for _, key := range []string{"timestamp", "trace_id", "correlation_id"} {
		if r.str(key) == "" {
			t.Fatalf("error body lacks %s: %s", key, r.raw)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// claims decodes a JWT's payload without verifying it.
func claims(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// assertion builds a client assertion as MSAL does (PS256, x5t#S256), with edits.
func (f *fixture) assertion(kp *pki.KeyPair, edit func(jwt.MapClaims, map[string]any)) string {
	f.t.Helper()
	now := f.clock.Now()
	c := jwt.MapClaims{
		"aud": f.srv.URL + "/" + tenantID + "/oauth2/v2.0/token",
		"exp": now.Add(10 * time.Minute).Unix(),
		"iss": confidentialID,
		"jti": "6c2d0c2a-5f0e-4b67-9a38-8f0c4a1b2c3d",
		"nbf": now.Unix(),
		"sub": confidentialID,
	}
	token := jwt.NewWithClaims(jwt.SigningMethodPS256, c)
	token.Header = map[string]any{"alg": "PS256", "typ": "JWT", "x5t#S256": base64.StdEncoding.EncodeToString(pki.SHA256(kp.Cert))}
	if edit != nil {
		edit(c, token.Header)
	}
	method := jwt.GetSigningMethod(token.Header["alg"].(string))
	token.Method = method
	signed, err := token.SignedString(kp.Key)
	if err != nil {
		f.t.Fatal(err)
	}
	return signed
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
