package auth_test

// End-to-end tests: the real MSAL library against the in-process emulator of
// the identity platform, over HTTPS with the emulator's CA.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/golang-jwt/jwt/v5"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/exitcode"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/logging"
)

func startEmulator(t *testing.T, opts emulator.Options) *emulator.Emulator {
	t.Helper()
	// Without a StateDir the emulator reuses the process's throw-away keys: fast.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	em, err := emulator.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting the emulator: %v", err)
	}
	t.Cleanup(func() { em.Close() })
	return em
}

// harness is one "machine": a state directory and an environment, shared by
// the managers (processes) built on it.
type harness struct {
	t        *testing.T
	em       *emulator.Emulator
	stateDir string
	env      map[string]string
	notices  *syncBuffer
	secrets  *logging.Secrets
	keyring  auth.BlobStore // nil: no keyring, as before it existed
}

func newHarness(t *testing.T, em *emulator.Emulator) *harness {
	return &harness{t: t, em: em, stateDir: t.TempDir(), env: map[string]string{}, notices: &syncBuffer{}, secrets: &logging.Secrets{}}
}

// manager is a fresh Manager, as a new hookctl process would build.
func (h *harness) manager() *auth.Manager {
	env := make(map[string]string, len(h.env))
	for k, v := range h.env {
		env[k] = v
	}
	return &auth.Manager{
		StateDir:   h.stateDir,
		Env:        func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		HTTPClient: h.em.HTTPClient(),
		Secrets:    h.secrets,
		Notices:    h.notices,
		Keyring:    h.keyring,
	}
}

func (h *harness) loginUser(profile, upn string) auth.Token {
	h.t.Helper()
	tok, err := h.manager().LoginUser(context.Background(), auth.UserLogin{
		Profile: profile, Authority: h.em.Authority, ClientID: h.em.PublicClientID,
		ShowDeviceCode: func(dc auth.DeviceCode) {
			if err := h.em.ApproveDeviceCode(dc.UserCode, upn); err != nil {
				h.t.Errorf("approving %s: %v", dc.UserCode, err)
			}
		},
	})
	if err != nil {
		h.t.Fatalf("device code login as %s: %v", upn, err)
	}
	return tok
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestDeviceCodeApproved(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	adele := em.Users[0]
	var shown auth.DeviceCode
	tok, err := h.manager().LoginUser(context.Background(), auth.UserLogin{
		Profile: "default", Authority: em.Authority, ClientID: em.PublicClientID,
		ShowDeviceCode: func(dc auth.DeviceCode) {
			shown = dc
			if err := em.ApproveDeviceCode(dc.UserCode, adele.UserPrincipalName); err != nil {
				t.Error(err)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if shown.UserCode == "" || !strings.Contains(shown.Message, shown.UserCode) || !strings.HasPrefix(shown.VerificationURL, "https://") {
		t.Errorf("device code prompt = %+v", shown)
	}
	p := tok.Profile
	if p.Username != adele.UserPrincipalName || p.TenantID != em.TenantID || p.HomeAccountID != adele.ID+"."+em.TenantID || p.Kind != auth.KindUser {
		t.Errorf("profile = %+v", p)
	}
	if tok.Value == "" || !tok.ExpiresOn.After(time.Now()) {
		t.Errorf("token expires %v", tok.ExpiresOn)
	}

	// The profile and cache are on disk with private modes, and the notice was shown once.
	cache := filepath.Join(h.stateDir, "auth", "cache", "default.json")
	assertMode(t, cache, 0o600)
	assertMode(t, filepath.Dir(cache), 0o700)
	assertMode(t, filepath.Join(h.stateDir, "auth", "profiles.json"), 0o600)
	if n := strings.Count(h.notices.String(), "not encrypted"); n != 1 {
		t.Errorf("plaintext notice shown %d times: %q", n, h.notices.String())
	}
	profiles, _ := os.ReadFile(filepath.Join(h.stateDir, "auth", "profiles.json"))
	if bytes.Contains(profiles, []byte(tok.Value)) || bytes.Contains(profiles, []byte("refresh")) {
		t.Error("profiles.json holds a token")
	}

	// A new process gets the cached token silently.
	again, err := h.manager().Acquire(context.Background(), "default", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !again.FromCache || again.Value != tok.Value {
		t.Errorf("second acquisition: fromCache=%v same=%v", again.FromCache, again.Value == tok.Value)
	}
	h.loginUser("default", adele.UserPrincipalName) // signing in again does not repeat the notice
	if n := strings.Count(h.notices.String(), "not encrypted"); n != 1 {
		t.Errorf("plaintext notice shown %d times", n)
	}

	// A damaged cache asks for a new sign-in (exit 3), and that sign-in works.
	if err := os.WriteFile(cache, []byte("{damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = h.manager().Acquire(context.Background(), "default", nil)
	assertAuthError(t, err, exitcode.SignIn, "is unreadable")
	h.loginUser("default", adele.UserPrincipalName)
	if _, err := h.manager().Acquire(context.Background(), "default", nil); err != nil {
		t.Errorf("after signing in over a damaged cache: %v", err)
	}
}

func TestDeviceCodeDeclined(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	_, err := h.manager().LoginUser(context.Background(), auth.UserLogin{
		Profile: "default", Authority: em.Authority, ClientID: em.PublicClientID,
		ShowDeviceCode: func(dc auth.DeviceCode) {
			if err := em.DenyDeviceCode(dc.UserCode); err != nil {
				t.Error(err)
			}
		},
	})
	assertAuthError(t, err, exitcode.Error, "declined")
	if _, err := h.manager().Acquire(context.Background(), "default", nil); exitcode.Code(err) != exitcode.SignIn {
		t.Errorf("after a declined login: %v", err)
	}
}

func TestDeviceCodeExpired(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{DeviceCodeLifetime: time.Second})
	h := newHarness(t, em)
	start := time.Now()
	_, err := h.manager().LoginUser(context.Background(), auth.UserLogin{
		Profile: "default", Authority: em.Authority, ClientID: em.PublicClientID,
		ShowDeviceCode: func(auth.DeviceCode) {}, // nobody enters the code
	})
	assertAuthError(t, err, exitcode.Error, "device code expired")
	if time.Since(start) > 20*time.Second {
		t.Errorf("took %v to notice the expiry", time.Since(start))
	}
}

func TestLoginTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := h.manager().LoginUser(ctx, auth.UserLogin{Profile: "default", Authority: em.Authority, ClientID: em.PublicClientID})
	if exitcode.Code(err) != exitcode.Timeout {
		t.Errorf("timeout: code %d, %v", exitcode.Code(err), err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	_, err = h.manager().LoginUser(ctx, auth.UserLogin{Profile: "default", Authority: em.Authority, ClientID: em.PublicClientID,
		ShowDeviceCode: func(auth.DeviceCode) { cancel() }})
	if err == nil || !strings.Contains(err.Error(), "cancelled") || exitcode.Code(err) != exitcode.Error {
		t.Errorf("cancel: %v", err)
	}
}

// driveAuthorize plays the browser: it fetches the authorize URL from the
// emulator and posts the form it answers with to MSAL's localhost listener.
func driveAuthorize(t *testing.T, client *http.Client, loginHint string) func(string) error {
	action := regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	input := regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"/>`)
	return func(authorizeURL string) error {
		u, err := url.Parse(authorizeURL)
		if err != nil {
			return err
		}
		q := u.Query()
		if q.Get("response_mode") != "form_post" || q.Get("code_challenge_method") != "S256" || !strings.HasPrefix(q.Get("redirect_uri"), "http://localhost:") {
			t.Errorf("authorize URL: %s", authorizeURL)
		}
		if loginHint != "" {
			q.Set("login_hint", loginHint)
			u.RawQuery = q.Encode()
		}
		resp, err := client.Get(u.String())
		if err != nil {
			return err
		}
		page := new(bytes.Buffer)
		_, _ = page.ReadFrom(resp.Body)
		resp.Body.Close()
		m := action.FindStringSubmatch(page.String())
		if m == nil {
			return fmt.Errorf("authorize answered %d without a form: %s", resp.StatusCode, page)
		}
		form := url.Values{}
		for _, in := range input.FindAllStringSubmatch(page.String(), -1) {
			form.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
		}
		post, err := http.PostForm(html.UnescapeString(m[1]), form)
		if err != nil {
			return err
		}
		post.Body.Close()
		if post.StatusCode != http.StatusOK {
			return fmt.Errorf("redirect listener answered %d", post.StatusCode)
		}
		return nil
	}
}

func TestBrowserFlow(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	megan := em.Users[1]
	tok, err := h.manager().LoginUser(context.Background(), auth.UserLogin{
		Profile: "default", Authority: em.Authority, ClientID: em.PublicClientID, Browser: true,
		OpenURL: driveAuthorize(t, em.HTTPClient(), megan.UserPrincipalName),
	})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Profile.Username != megan.UserPrincipalName {
		t.Errorf("signed in as %q, want %q", tok.Profile.Username, megan.UserPrincipalName)
	}
	if _, err := h.manager().Acquire(context.Background(), "default", nil); err != nil {
		t.Errorf("silent after browser login: %v", err)
	}
}

func TestBrowserFlowUnknownClient(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	// The authorize endpoint refuses an unknown client with an error page, so
	// the browser never comes back; the person gives up (Ctrl-C).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var page string
	_, err := h.manager().LoginUser(ctx, auth.UserLogin{
		Profile: "default", Authority: em.Authority, ClientID: "00000000-0000-0000-0000-00000000dead", Browser: true,
		OpenURL: func(u string) error {
			defer cancel()
			resp, err := em.HTTPClient().Get(u)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b := new(bytes.Buffer)
			_, _ = b.ReadFrom(resp.Body)
			page = b.String()
			return nil
		},
	})
	if err == nil || !strings.Contains(err.Error(), "sign-in cancelled") || !strings.Contains(page, "700016") {
		t.Errorf("err = %v, page = %.200s", err, page)
	}
}

func TestUnknownClientDeviceCode(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	_, err := h.manager().LoginUser(context.Background(), auth.UserLogin{
		Profile: "default", Authority: em.Authority, ClientID: "00000000-0000-0000-0000-00000000dead"})
	assertAuthError(t, err, exitcode.Error, "does not know this client id")

	_, err = h.manager().LoginUser(context.Background(), auth.UserLogin{
		Profile: "default", Authority: em.URL + "/no-such-tenant.example", ClientID: em.PublicClientID})
	assertAuthError(t, err, exitcode.Error, "wrong tenant")

	// The emulated public app has no consent for calendars: the person signs
	// in and the token request is refused (AADSTS65001).
	_, err = h.manager().LoginUser(context.Background(), auth.UserLogin{
		Profile: "default", Authority: em.Authority, ClientID: em.PublicClientID, Scopes: []string{"Calendars.Read"},
		ShowDeviceCode: func(dc auth.DeviceCode) {
			if err := em.ApproveDeviceCode(dc.UserCode, em.Users[0].UserPrincipalName); err != nil {
				t.Error(err)
			}
		}})
	assertAuthError(t, err, exitcode.Error, "lacks consent")
	if !strings.Contains(err.Error(), "Grant admin consent") {
		t.Errorf("no next step for consent: %v", err)
	}
}

func TestSilentRefreshAfterExpiry(t *testing.T) {
	t.Parallel()
	// MSAL treats a token within 5 minutes of expiry as expired, so a
	// one-minute lifetime makes every silent call redeem the refresh token.
	em := startEmulator(t, emulator.Options{AccessTokenLifetime: time.Minute})
	h := newHarness(t, em)
	first := h.loginUser("default", em.Users[0].UserPrincipalName)
	third := h.refreshTwice("default", first)
	principal, err := em.Identity.Authenticate(third.Value)
	if err != nil || principal.UPN != em.Users[0].UserPrincipalName || !principal.Has("Mail.Read") {
		t.Errorf("refreshed token: %+v %v", principal, err)
	}
}

func TestRefreshTokenRejected(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{AccessTokenLifetime: time.Minute})
	h := newHarness(t, em)
	upn := em.Users[0].UserPrincipalName
	h.loginUser("default", upn)
	if _, err := em.Identity.RevokeRefreshTokens(upn); err != nil {
		t.Fatal(err)
	}
	_, err := h.manager().Acquire(context.Background(), "default", nil)
	assertAuthError(t, err, exitcode.SignIn, "no longer accepted")
	if !strings.Contains(err.Error(), "hookctl login") {
		t.Errorf("no next step: %v", err)
	}
}

func TestAppOnlySecret(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	h.env["CI_GRAPH_SECRET"] = em.ClientSecret
	mailbox := em.Users[1].UserPrincipalName
	tok, err := h.manager().LoginApp(context.Background(), auth.AppLogin{
		Profile: "ci", Authority: em.Authority, ClientID: em.ConfidentialClientID,
		ClientSecretEnv: "CI_GRAPH_SECRET", User: mailbox})
	if err != nil {
		t.Fatal(err)
	}
	p := tok.Profile
	if p.Kind != auth.KindApp || p.ClientSecretEnv != "CI_GRAPH_SECRET" || p.Mailbox() != "users/"+mailbox || p.TenantID != em.TenantID {
		t.Errorf("profile = %+v", p)
	}
	principal, err := em.Identity.Authenticate(tok.Value)
	if err != nil || principal.Delegated || !principal.Has("Mail.Read") {
		t.Errorf("app token: %+v %v", principal, err)
	}
	raw, _ := os.ReadFile(filepath.Join(h.stateDir, "auth", "profiles.json"))
	if bytes.Contains(raw, []byte(em.ClientSecret)) {
		t.Fatal("the client secret was written to profiles.json")
	}

	// A later step without the variable still has the cached token ...
	delete(h.env, "CI_GRAPH_SECRET")
	cached, err := h.manager().Acquire(context.Background(), "ci", nil)
	if err != nil || !cached.FromCache || cached.Value != tok.Value {
		t.Fatalf("cached app token: %v", err)
	}
	// ... and a wrong secret is named as such.
	h.env["CI_GRAPH_SECRET"] = "not-the-secret"
	_, err = h.manager().LoginApp(context.Background(), auth.AppLogin{
		Profile: "ci", Authority: em.Authority, ClientID: em.ConfidentialClientID, ClientSecretEnv: "CI_GRAPH_SECRET"})
	assertAuthError(t, err, exitcode.Error, "client secret was rejected")
	if !strings.Contains(err.Error(), "--client-secret-env") {
		t.Errorf("next step should name --client-secret-env: %v", err)
	}
	// A wrong secret piped in is sent back to stdin, not to a variable.
	_, err = h.manager().LoginApp(context.Background(), auth.AppLogin{
		Profile: "ci", Authority: em.Authority, ClientID: em.ConfidentialClientID, ClientSecret: "not-the-secret"})
	assertAuthError(t, err, exitcode.Error, "client secret was rejected")
	if !strings.Contains(err.Error(), "--client-secret-stdin") || strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("stdin secret rejected: %v", err)
	}
}

func TestAppOnlySecretMissingLater(t *testing.T) {
	t.Parallel()
	// Tokens that expire at once force a new client-credentials request on
	// every call, which needs the secret from the environment again.
	em := startEmulator(t, emulator.Options{AccessTokenLifetime: time.Minute})
	h := newHarness(t, em)
	h.env["CI_GRAPH_SECRET"] = em.ClientSecret
	if _, err := h.manager().LoginApp(context.Background(), auth.AppLogin{
		Profile: "ci", Authority: em.Authority, ClientID: em.ConfidentialClientID, ClientSecretEnv: "CI_GRAPH_SECRET"}); err != nil {
		t.Fatal(err)
	}
	if tok, err := h.manager().Acquire(context.Background(), "ci", nil); err != nil || tok.FromCache {
		t.Fatalf("re-acquisition with the variable set: %v", err)
	}
	delete(h.env, "CI_GRAPH_SECRET")
	_, err := h.manager().Acquire(context.Background(), "ci", nil)
	assertAuthError(t, err, exitcode.SignIn, "CI_GRAPH_SECRET")

	// A secret read from stdin is not kept at all.
	if _, err := h.manager().LoginApp(context.Background(), auth.AppLogin{
		Profile: "stdin", Authority: em.Authority, ClientID: em.ConfidentialClientID, ClientSecret: em.ClientSecret}); err != nil {
		t.Fatal(err)
	}
	_, err = h.manager().Acquire(context.Background(), "stdin", nil)
	assertAuthError(t, err, exitcode.SignIn, "not available")
}

func TestAppOnlyCertificate(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	tok, err := h.manager().LoginApp(context.Background(), auth.AppLogin{
		Profile: "cert", Authority: em.Authority, ClientID: em.ConfidentialClientID, CertificateFile: em.CertificateFile})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := em.Identity.Authenticate(tok.Value); err != nil || p.Delegated {
		t.Errorf("certificate app token: %+v %v", p, err)
	}

	// A relative path is remembered absolute, for commands run elsewhere.
	rel, err := filepath.Rel(mustGetwd(t), em.CertificateFile)
	if err != nil {
		t.Fatal(err)
	}
	tok, err = h.manager().LoginApp(context.Background(), auth.AppLogin{
		Profile: "cert", Authority: em.Authority, ClientID: em.ConfidentialClientID, CertificateFile: rel})
	if err != nil || tok.Profile.CertificateFile != em.CertificateFile {
		t.Errorf("relative certificate path: %q, %v", tok.Profile.CertificateFile, err)
	}

	// The same certificate as a password-protected .pfx.
	pfx := writePFX(t, em.CertificateFile, "pfx-pass")
	h.env["PFX_PASSWORD"] = "pfx-pass"
	if _, err := h.manager().LoginApp(context.Background(), auth.AppLogin{
		Profile: "pfx", Authority: em.Authority, ClientID: em.ConfidentialClientID,
		CertificateFile: pfx, CertificatePasswordEnv: "PFX_PASSWORD"}); err != nil {
		t.Fatalf("pfx: %v", err)
	}
	h.env["PFX_PASSWORD"] = "wrong"
	_, err = h.manager().LoginApp(context.Background(), auth.AppLogin{
		Profile: "pfx", Authority: em.Authority, ClientID: em.ConfidentialClientID,
		CertificateFile: pfx, CertificatePasswordEnv: "PFX_PASSWORD"})
	if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "--certificate-password-env") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong pfx password: %v", err)
	}

	// The certificate file goes away after login: the cached token still
	// serves; once a new one is needed, exit 3 says what to do.
	pemData, err := os.ReadFile(em.CertificateFile)
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(t.TempDir(), "moved.pem")
	if err := os.WriteFile(moved, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.manager().LoginApp(context.Background(), auth.AppLogin{
		Profile: "moved", Authority: em.Authority, ClientID: em.ConfidentialClientID, CertificateFile: moved}); err != nil {
		t.Fatal(err)
	}
	os.Remove(moved)
	if tok, err := h.manager().Acquire(context.Background(), "moved", nil); err != nil || !tok.FromCache {
		t.Fatalf("cached token without the certificate file: %v", err)
	}
	os.Remove(filepath.Join(h.stateDir, "auth", "cache", "moved.json"))
	_, err = h.manager().Acquire(context.Background(), "moved", nil)
	assertAuthError(t, err, exitcode.SignIn, "unusable")
	if !strings.Contains(err.Error(), "hookctl login --profile moved --certificate") {
		t.Errorf("no next step: %v", err)
	}

	// A certificate the app never registered is rejected by the identity platform.
	other := startEmulator(t, emulator.Options{StateDir: t.TempDir()}) // fresh keys
	_, err = h.manager().LoginApp(context.Background(), auth.AppLogin{
		Profile: "other", Authority: em.Authority, ClientID: em.ConfidentialClientID, CertificateFile: other.CertificateFile})
	assertAuthError(t, err, exitcode.Error, "certificate or assertion was rejected")
}

func TestAppOnlyFederatedTokenFile(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	// The emulator trusts no OIDC issuer, but it accepts a client assertion
	// signed with the app's certificate, which is what MSAL sends from the
	// federated token file. That exercises the whole path: the file is read
	// at request time, its content is the assertion, and it never shows.
	file := filepath.Join(t.TempDir(), "oidc.jwt")
	login := func() (auth.Token, error) {
		return h.manager().LoginApp(context.Background(), auth.AppLogin{
			Profile: "gha", Authority: em.Authority, ClientID: em.ConfidentialClientID, FederatedTokenFile: file})
	}

	expired := signAssertion(t, em, time.Now().Add(-time.Hour))
	if err := os.WriteFile(file, []byte(expired+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := login()
	assertAuthError(t, err, exitcode.Error, "outside its valid time range")
	if strings.Contains(err.Error(), expired) || h.secrets.Scrub(expired) == expired {
		t.Errorf("the assertion leaked or was not registered as a secret: %v", err)
	}

	// The CI step refreshes the file; the next request reads the new one.
	if err := os.WriteFile(file, []byte(signAssertion(t, em, time.Now())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := login()
	if err != nil {
		t.Fatalf("federated login: %v", err)
	}
	if p, err := em.Identity.Authenticate(tok.Value); err != nil || p.Delegated {
		t.Errorf("federated app token: %+v %v", p, err)
	}
	if tok.Profile.FederatedTokenFile != file || tok.Profile.Credential() != "federated token file "+file {
		t.Errorf("profile = %+v", tok.Profile)
	}

	os.Remove(file)
	_, err = login()
	assertAuthError(t, err, exitcode.SignIn, "cannot read the federated token file")
}

// signAssertion makes the client assertion a federated token file would hold,
// signed with the emulated app's certificate, valid for 10 minutes from notBefore.
func signAssertion(t *testing.T, em *emulator.Emulator, notBefore time.Time) string {
	t.Helper()
	data, err := os.ReadFile(em.CertificateFile)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := confidential.CertFromPEM(data, "")
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.RegisteredClaims{
		Issuer: em.ConfidentialClientID, Subject: em.ConfidentialClientID,
		Audience:  jwt.ClaimStrings{em.Authority + "/oauth2/v2.0/token"},
		NotBefore: jwt.NewNumericDate(notBefore), IssuedAt: jwt.NewNumericDate(notBefore),
		ExpiresAt: jwt.NewNumericDate(notBefore.Add(10 * time.Minute)), ID: fmt.Sprint(notBefore.UnixNano()),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// refreshTwice acquires two tokens silently in new managers, each of which
// must be a refresh (the emulator must issue short-lived access tokens), and
// returns the last. The emulator rotates refresh tokens: the second refresh
// only works if the cache kept the first one's new refresh token.
func (h *harness) refreshTwice(profile string, first auth.Token) auth.Token {
	h.t.Helper()
	second, err := h.manager().Acquire(context.Background(), profile, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if second.FromCache || second.Value == first.Value {
		h.t.Errorf("expected a refreshed token: fromCache=%v same=%v", second.FromCache, second.Value == first.Value)
	}
	third, err := h.manager().Acquire(context.Background(), profile, nil)
	if err != nil || third.Value == second.Value {
		h.t.Fatalf("third acquisition: %v", err)
	}
	return third
}

func TestTwoProfilesAndLogout(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	adele, megan := em.Users[0].UserPrincipalName, em.Users[1].UserPrincipalName
	h.loginUser("work", adele)
	h.loginUser("home", megan)
	for profile, upn := range map[string]string{"work": adele, "home": megan} {
		tok, err := h.manager().Acquire(context.Background(), profile, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := em.Identity.Authenticate(tok.Value); err != nil || p.UPN != upn {
			t.Errorf("profile %s token is for %+v (%v), want %s", profile, p, err, upn)
		}
	}
	m := h.manager()
	if err := m.Logout(context.Background(), "work"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(h.stateDir, "auth", "cache", "work.json")); !os.IsNotExist(err) {
		t.Errorf("work cache still there: %v", err)
	}
	_, err := h.manager().Acquire(context.Background(), "work", nil)
	assertAuthError(t, err, exitcode.SignIn, `not signed in (profile "work")`)
	if !strings.Contains(err.Error(), "hookctl login --profile work") {
		t.Errorf("next step should name the profile: %v", err)
	}
	if _, err := h.manager().Acquire(context.Background(), "home", nil); err != nil {
		t.Fatalf("home after logging work out: %v", err)
	}
	names, err := m.LogoutAll(context.Background())
	if err != nil || len(names) != 1 || names[0] != "home" {
		t.Fatalf("LogoutAll = %v, %v", names, err)
	}
	left, _ := filepath.Glob(filepath.Join(h.stateDir, "auth", "cache", "*.json"))
	if len(left) != 0 {
		t.Errorf("caches left after logout --all: %v", left)
	}
}

// TestConcurrentRefreshSharesOneCache runs silent acquisitions from several
// managers (separate MSAL clients and lock file descriptions, as separate
// processes have) on one profile. The emulator rotates refresh tokens, so
// without the cross-process lock two of them would redeem the same refresh
// token and one would be refused.
func TestConcurrentRefreshSharesOneCache(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{AccessTokenLifetime: time.Minute})
	h := newHarness(t, em)
	h.loginUser("default", em.Users[0].UserPrincipalName)
	const workers, rounds = 3, 4
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := h.manager()
			for range rounds {
				if _, err := m.Acquire(context.Background(), "default", nil); err != nil {
					t.Errorf("concurrent acquisition: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	raw, err := os.ReadFile(filepath.Join(h.stateDir, "auth", "cache", "default.json"))
	if err != nil || !json.Valid(raw) {
		t.Fatalf("cache after concurrent refreshes is not valid JSON: %v", err)
	}
	if _, err := h.manager().Acquire(context.Background(), "default", nil); err != nil {
		t.Fatalf("after concurrent refreshes: %v", err)
	}
}

func TestTLSFailureNamesHost(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	m := h.manager()
	m.HTTPClient = &http.Client{Timeout: 5 * time.Second} // system roots only: the emulator's CA is unknown
	_, err := m.LoginUser(context.Background(), auth.UserLogin{Profile: "default", Authority: em.Authority, ClientID: em.PublicClientID})
	host := strings.TrimPrefix(em.URL, "https://")
	assertAuthError(t, err, exitcode.Error, "TLS to "+host+" failed")
	if !strings.Contains(err.Error(), "HOOKCTL_CA_FILE") {
		t.Errorf("no hint about HOOKCTL_CA_FILE: %v", err)
	}
}

func assertAuthError(t *testing.T, err error, code int, cause string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got none", cause)
	}
	if exitcode.Code(err) != code {
		t.Errorf("exit code %d, want %d (%v)", exitcode.Code(err), code, err)
	}
	if !strings.Contains(err.Error(), cause) {
		t.Errorf("error %q does not contain %q", err, cause)
	}
	var e *auth.Error
	if errors.As(err, &e) && (strings.Contains(err.Error(), "http call") || strings.Count(err.Error(), "\n") > 1) {
		t.Errorf("error is not one or two clean lines: %q", err)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s mode = %o, want %o", path, got, want)
	}
}

// writePFX re-encodes a PEM certificate and key as a password-protected PKCS#12 file.
func writePFX(t *testing.T, pemFile, password string) string {
	t.Helper()
	data, err := os.ReadFile(pemFile)
	if err != nil {
		t.Fatal(err)
	}
	var cert *x509.Certificate
	var key any
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		switch block.Type {
		case "CERTIFICATE":
			cert, err = x509.ParseCertificate(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	pfx, err := pkcs12.Modern.Encode(key, cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "app.pfx")
	if err := os.WriteFile(path, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSilentNewScopeNeedsConsent(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	h.loginUser("default", em.Users[0].UserPrincipalName)
	// The emulated public app has no consent for calendars.
	_, err := h.manager().Acquire(context.Background(), "default", []string{"Calendars.Read"})
	assertAuthError(t, err, exitcode.SignIn, "hookctl login --scopes Calendars.Read")
	// A consented scope the login did not ask for is granted silently.
	tok, err := h.manager().Acquire(context.Background(), "default", []string{"User.Read"})
	if err != nil {
		t.Fatalf("User.Read: %v", err)
	}
	if p, err := em.Identity.Authenticate(tok.Value); err != nil || !p.Has("User.Read") {
		t.Errorf("User.Read token: %+v %v", p, err)
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}
