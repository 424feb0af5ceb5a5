package emulator_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/pki"
	_ "github.com/hookctl/hookctl/internal/golden"
)

var mailScopes = []string{"Mail.Read", "offline_access"}

func startEmulator(t *testing.T, opts emulator.Options) *emulator.Emulator {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := emulator.Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

func publicClient(t *testing.T, e *emulator.Emulator) public.Client {
	t.Helper()
	client, err := public.New(e.PublicClientID,
		public.WithAuthority(e.Authority),
		public.WithInstanceDiscovery(false),
		public.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		t.Fatalf("public.New: %v", err)
	}
	return client
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestMSALDeviceCodeApproved(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{})
	ctx := testContext(t)
	client := publicClient(t, e)
	dc, err := client.AcquireTokenByDeviceCode(ctx, mailScopes)
	if err != nil {
		t.Fatalf("device code: %v", err)
	}
	if !strings.Contains(dc.Result.Message, dc.Result.UserCode) || dc.Result.VerificationURL != e.URL+"/devicelogin" {
		t.Fatalf("device code result: %+v", dc.Result)
	}
	megan := e.Users[1].UserPrincipalName
	if err := e.ApproveDeviceCode(dc.Result.UserCode, megan); err != nil {
		t.Fatalf("approve: %v", err)
	}
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	if res.Account.PreferredUsername != megan || res.Account.HomeAccountID != e.Users[1].ID+"."+e.TenantID {
		t.Fatalf("account: %+v", res.Account)
	}
	p, err := e.Identity.Authenticate(res.AccessToken)
	if err != nil {
		t.Fatalf("the access token does not verify: %v", err)
	}
	if !p.Delegated || p.UserID != e.Users[1].ID || !p.Has("Mail.Read") || p.AppID != e.PublicClientID {
		t.Fatalf("principal: %+v", p)
	}

	// Silent: the cached token is still valid for an hour.
	accounts, err := client.Accounts(ctx)
	if err != nil || len(accounts) != 1 {
		t.Fatalf("accounts: %v %v", accounts, err)
	}
	silent, err := client.AcquireTokenSilent(ctx, mailScopes, public.WithSilentAccount(accounts[0]))
	if err != nil || silent.AccessToken != res.AccessToken {
		t.Fatalf("silent from cache: %v (same token: %v)", err, silent.AccessToken == res.AccessToken)
	}
}

func TestMSALDeviceCodeDenied(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{})
	ctx := testContext(t)
	dc, err := publicClient(t, e).AcquireTokenByDeviceCode(ctx, mailScopes)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.DenyDeviceCode(dc.Result.UserCode); err != nil {
		t.Fatal(err)
	}
	_, err = dc.AuthenticationResult(ctx)
	if err == nil || !strings.Contains(err.Error(), "authorization_declined") {
		t.Fatalf("want authorization_declined, got %v", err)
	}
}

func TestMSALDeviceCodeExpired(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{DeviceCodeLifetime: time.Second})
	ctx := testContext(t)
	dc, err := publicClient(t, e).AcquireTokenByDeviceCode(ctx, mailScopes)
	if err != nil {
		t.Fatal(err)
	}
	if time.Until(dc.Result.ExpiresOn) > 2*time.Second {
		t.Fatalf("expires_in was not the configured 1 s: %v", dc.Result.ExpiresOn)
	}
	_, err = dc.AuthenticationResult(ctx)
	// MSAL stops polling at expires_in (a deadline) or on the server's expired_token.
	if err == nil || !(errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "expired_token")) {
		t.Fatalf("want an expiry error, got %v", err)
	}
}

func TestMSALDeviceCodeAutoApprove(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{AutoApprove: true, AccessTokenLifetime: time.Minute})
	ctx := testContext(t)
	client := publicClient(t, e)
	res := signInAutoApproved(ctx, t, client)
	if res.Account.PreferredUsername != e.Users[0].UserPrincipalName {
		t.Fatalf("auto-approve signed in %s", res.Account.PreferredUsername)
	}
	// A one-minute token is inside MSAL's five-minute refresh margin, so the
	// silent call redeems the refresh token.
	silent, err := client.AcquireTokenSilent(ctx, mailScopes, public.WithSilentAccount(res.Account))
	if err != nil {
		t.Fatalf("silent refresh: %v", err)
	}
	if silent.AccessToken == res.AccessToken {
		t.Fatal("silent call returned the cached token instead of refreshing")
	}
	if _, err := e.Identity.Authenticate(silent.AccessToken); err != nil {
		t.Fatal(err)
	}
}

// driveAuthorize follows the authorize URL as a browser without JavaScript
// would: it returns the form_post fields or the query redirect's parameters.
func driveAuthorize(t *testing.T, client *http.Client, authURL string) url.Values {
	t.Helper()
	noRedirect := *client
	noRedirect.Jar, _ = cookiejar.New(nil)
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusFound {
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return loc.Query()
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	return parseFormPost(t, string(body))
}

func TestMSALAuthCodeQueryMode(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{})
	ctx := testContext(t)
	client := publicClient(t, e)
	const redirect = "http://localhost:8400"
	authURL, err := client.AuthCodeURL(ctx, e.PublicClientID, redirect, mailScopes, public.WithLoginHint(e.Users[1].UserPrincipalName))
	if err != nil {
		t.Fatal(err)
	}
	params := driveAuthorize(t, e.HTTPClient(), authURL)
	if params.Get("code") == "" {
		t.Fatalf("no code in %v", params)
	}
	res, err := client.AcquireTokenByAuthCode(ctx, params.Get("code"), redirect, mailScopes)
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode: %v", err)
	}
	if res.Account.PreferredUsername != e.Users[1].UserPrincipalName {
		t.Fatalf("signed in %s", res.Account.PreferredUsername)
	}
}

func TestMSALInteractive(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{})
	ctx := testContext(t)
	client := publicClient(t, e)
	browser := e.HTTPClient()
	openURL := func(authURL string) error {
		go func() {
			u, _ := url.Parse(authURL)
			if u.Query().Get("response_mode") != "form_post" || u.Query().Get("code_challenge_method") != "S256" {
				t.Errorf("MSAL's authorize request: %s", u.RawQuery)
			}
			fields := driveAuthorize(t, browser, authURL)
			// The "browser" submits the form to MSAL's loopback listener.
			resp, err := http.PostForm(u.Query().Get("redirect_uri"), fields)
			if err != nil {
				t.Errorf("posting to the redirect URI: %v", err)
				return
			}
			resp.Body.Close()
		}()
		return nil
	}
	res, err := client.AcquireTokenInteractive(ctx, mailScopes, public.WithOpenURL(openURL))
	if err != nil {
		t.Fatalf("AcquireTokenInteractive: %v", err)
	}
	if res.Account.PreferredUsername != e.Users[0].UserPrincipalName {
		t.Fatalf("signed in %s", res.Account.PreferredUsername)
	}
	if _, err := e.Identity.Authenticate(res.AccessToken); err != nil {
		t.Fatal(err)
	}
}

// appToken acquires an app-only Graph token with MSAL's confidential client.
func appToken(t *testing.T, e *emulator.Emulator, cred confidential.Credential) (string, error) {
	t.Helper()
	client, err := confidential.New(e.Authority, e.ConfidentialClientID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.AcquireTokenByCredential(testContext(t), []string{"https://graph.microsoft.com/.default"})
	return res.AccessToken, err
}

func TestMSALConfidentialSecret(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{})
	cred, err := confidential.NewCredFromSecret(e.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	token, err := appToken(t, e, cred)
	if err != nil {
		t.Fatalf("AcquireTokenByCredential: %v", err)
	}
	p, err := e.Identity.Authenticate(token)
	if err != nil {
		t.Fatal(err)
	}
	if p.Delegated || p.AppID != e.ConfidentialClientID || !p.Has("Mail.Read") {
		t.Fatalf("principal: %+v", p)
	}

	wrong, _ := confidential.NewCredFromSecret("not-the-secret")
	if _, err := appToken(t, e, wrong); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("wrong secret: want AADSTS7000215, got %v", err)
	}
}

func TestMSALConfidentialCertificate(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{})
	pemData, err := os.ReadFile(e.CertificateFile)
	if err != nil {
		t.Fatal(err)
	}
	certs, key, err := confidential.CertFromPEM(pemData, "")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := confidential.NewCredFromCert(certs, key)
	if err != nil {
		t.Fatal(err)
	}
	token, err := appToken(t, e, cred)
	if err != nil {
		t.Fatalf("AcquireTokenByCredential: %v", err)
	}
	p, err := e.Identity.Authenticate(token)
	if err != nil || p.Delegated {
		t.Fatalf("principal %+v, %v", p, err)
	}
	if c := jwtClaims(t, token); c["appidacr"] != "2" {
		t.Fatalf("appidacr %v: the certificate was not what authenticated", c["appidacr"])
	}

	// A certificate the app does not have is refused.
	other, err := pki.NewKeyPair("not registered")
	if err != nil {
		t.Fatal(err)
	}
	certs, key, _ = confidential.CertFromPEM(other.PEM, "")
	wrongCred, _ := confidential.NewCredFromCert(certs, key)
	if _, err := appToken(t, e, wrongCred); err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Fatalf("unregistered certificate: want AADSTS700027, got %v", err)
	}
}

// TestMSALOrganizationsAuthority signs in through /organizations, hookctl
// login's default, and refreshes silently.
func TestMSALOrganizationsAuthority(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{AutoApprove: true, AccessTokenLifetime: time.Minute})
	ctx := testContext(t)
	client, err := public.New(e.PublicClientID,
		public.WithAuthority(e.URL+"/organizations"),
		public.WithInstanceDiscovery(false),
		public.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	res := signInAutoApproved(ctx, t, client)
	if res.Account.HomeAccountID != e.Users[0].ID+"."+e.TenantID {
		t.Fatalf("home account %q", res.Account.HomeAccountID)
	}
	silent, err := client.AcquireTokenSilent(ctx, mailScopes, public.WithSilentAccount(res.Account))
	if err != nil {
		t.Fatalf("silent refresh through organizations: %v", err)
	}
	if silent.AccessToken == res.AccessToken {
		t.Fatal("expected a refreshed token")
	}
}

// TestMSALSilentAfterRevocation: once a user's sessions are revoked, MSAL's
// silent refresh fails with the service's error, so the app must sign in again.
func TestMSALSilentAfterRevocation(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{AutoApprove: true, AccessTokenLifetime: time.Minute})
	ctx := testContext(t)
	client := publicClient(t, e)
	res := signInAutoApproved(ctx, t, client)
	req, _ := http.NewRequest(http.MethodPost, e.ControlURL+"/users/"+e.Users[0].UserPrincipalName+"/revokeSignInSessions", nil)
	var revoked struct{ Revoked int }
	getJSON(t, e.HTTPClient(), req, http.StatusOK, &revoked)
	if revoked.Revoked != 1 {
		t.Fatalf("revoked %d refresh tokens", revoked.Revoked)
	}
	_, err := client.AcquireTokenSilent(ctx, mailScopes, public.WithSilentAccount(res.Account))
	if err == nil || !strings.Contains(err.Error(), "AADSTS50173") {
		t.Fatalf("want AADSTS50173, got %v", err)
	}
}

// signInAutoApproved runs MSAL's device-code flow against an emulator started
// with AutoApprove and returns the result.
func signInAutoApproved(ctx context.Context, t *testing.T, client public.Client) public.AuthResult {
	t.Helper()
	dc, err := client.AcquireTokenByDeviceCode(ctx, mailScopes)
	if err != nil {
		t.Fatal(err)
	}
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
