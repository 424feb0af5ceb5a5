// Package auth signs hookctl in to the Microsoft identity platform through MSAL
// and hands out access tokens for the saved sign-in profiles.
package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/logging"
)

// Defaults for a sign-in.
const (
	DefaultAuthorityHost = "https://login.microsoftonline.com"
	DefaultTenant        = "organizations"
	// GraphDefaultScope asks for every application permission an admin granted.
	GraphDefaultScope = "https://graph.microsoft.com/.default"
)

// DefaultScopes are the delegated scopes a person signs in with: read mail,
// send mail (`hookctl trigger`) and a refresh token.
var DefaultScopes = []string{"Mail.Read", "Mail.Send", "offline_access"}

// reservedScopes are added by MSAL to every sign-in and never appear on an
// access token, so they are left out of silent requests (which match cached
// access tokens by scope).
var reservedScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true}

// microsoftHosts are the identity platform's own hosts, for which MSAL's
// instance discovery works; any other host (the emulator) turns it off.
var microsoftHosts = map[string]bool{
	"login.microsoftonline.com":        true,
	"login.microsoft.com":              true,
	"login.windows.net":                true,
	"sts.windows.net":                  true,
	"login.microsoftonline.us":         true,
	"login.usgovcloudapi.net":          true,
	"login.chinacloudapi.cn":           true,
	"login.partner.microsoftonline.cn": true,
	"login.microsoftonline.de":         true,
}

// Manager signs profiles in and out and acquires their tokens. Its zero value
// is not usable: set StateDir and HTTPClient at least.
type Manager struct {
	// StateDir holds auth/profiles.json and auth/cache/<profile>.json.
	StateDir string
	// Env reads environment variables named by app profiles (client secrets,
	// certificate passwords); os.LookupEnv outside tests.
	Env func(string) (string, bool)
	// HTTPClient talks to the authority (system roots plus HOOKCTL_CA_FILE).
	HTTPClient *http.Client
	// Secrets receives every token and secret this package handles.
	Secrets *logging.Secrets
	// Logger is the --debug logger (may be nil).
	Logger *slog.Logger
	// Notices receives the one-time note that the token cache is a plain file (stderr).
	Notices io.Writer
	// Keyring is the OS keyring (OSKeyring(StateDir) in the binary). When nil, token
	// caches are only ever files.
	Keyring BlobStore

	probeOnce    sync.Once
	probeErr     error
	probeTimeout time.Duration // keyringProbeTimeout when zero
}

// Token is an access token with what is known about it.
type Token struct {
	Value     string
	ExpiresOn time.Time
	Scopes    []string
	FromCache bool
	Profile   Profile
}

func (m *Manager) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

func (m *Manager) addSecret(values ...string) {
	if m.Secrets != nil {
		m.Secrets.Add(values...)
	}
}

func (m *Manager) env(name string) string {
	if m.Env == nil {
		return ""
	}
	v, _ := m.Env(name)
	return v
}

func (m *Manager) authDir() string { return filepath.Join(m.StateDir, "auth") }

// Store is the profiles file.
func (m *Manager) Store() *Store { return &Store{Path: filepath.Join(m.authDir(), "profiles.json")} }

// ResolveAuthority joins an authority host and a tenant into an authority URL.
// authority may already name the tenant (https://host/{tenant}); tenant is then
// optional and must agree. Only https:// authorities are accepted (MSAL
// refuses anything else).
func ResolveAuthority(authority, tenant string) (string, error) {
	if authority == "" {
		authority = DefaultAuthorityHost
	}
	u, err := url.Parse(authority)
	if err != nil || u.Host == "" {
		return "", exitcode.Usagef("invalid --authority %q: want an https:// URL such as %s", authority, DefaultAuthorityHost)
	}
	if u.Scheme != "https" {
		return "", exitcode.Usagef("invalid --authority %q: the identity platform is only reached over https://", authority)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", exitcode.Usagef("invalid --authority %q: no query or fragment allowed", authority)
	}
	path := strings.Trim(u.Path, "/")
	switch {
	case path != "" && tenant != "" && !strings.EqualFold(path, tenant):
		return "", exitcode.Usagef("--authority names tenant %q but --tenant is %q: drop one of them", path, tenant)
	case path == "" && tenant == "":
		path = DefaultTenant
	case path == "":
		path = tenant
	}
	if strings.ContainsAny(path, "/?#") {
		return "", exitcode.Usagef("invalid tenant %q: use a tenant id, a domain, organizations or common", path)
	}
	return u.Scheme + "://" + u.Host + "/" + path, nil
}

// authorityHost is the host of an authority URL, for messages and discovery.
func authorityHost(authority string) string {
	if u, err := url.Parse(authority); err == nil {
		return u.Host
	}
	return ""
}

// tenantOf is the tenant segment of an authority URL.
func tenantOf(authority string) string {
	if u, err := url.Parse(authority); err == nil {
		return strings.Trim(u.Path, "/")
	}
	return ""
}

func instanceDiscovery(authority string) bool {
	return microsoftHosts[strings.ToLower(strings.Split(authorityHost(authority), ":")[0])]
}

func (m *Manager) publicClient(p Profile, fc *TokenCache) (public.Client, error) {
	opts := []public.Option{
		public.WithAuthority(p.Authority),
		public.WithCache(fc),
		public.WithHTTPClient(m.httpClient()),
	}
	if !instanceDiscovery(p.Authority) {
		opts = append(opts, public.WithInstanceDiscovery(false))
	}
	client, err := public.New(p.ClientID, opts...)
	if err != nil {
		return public.Client{}, exitcode.Usagef("cannot use authority %s with client id %s: %v", p.Authority, p.ClientID, err)
	}
	return client, nil
}

func (m *Manager) confidentialClient(p Profile, cred confidential.Credential, fc *TokenCache) (confidential.Client, error) {
	opts := []confidential.Option{
		confidential.WithCache(fc),
		confidential.WithHTTPClient(m.httpClient()),
	}
	if !instanceDiscovery(p.Authority) {
		opts = append(opts, confidential.WithInstanceDiscovery(false))
	}
	client, err := confidential.New(p.Authority, p.ClientID, cred, opts...)
	if err != nil {
		return confidential.Client{}, exitcode.Usagef("cannot use authority %s with client id %s: %v", p.Authority, p.ClientID, err)
	}
	return client, nil
}

func (m *Manager) httpClient() *http.Client {
	base := m.HTTPClient
	if base == nil {
		base = http.DefaultClient
	}
	if m.Logger == nil || !m.Logger.Enabled(context.Background(), slog.LevelDebug) {
		return base
	}
	logged := *base
	transport := base.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	logged.Transport = &debugTransport{next: transport, logger: m.Logger}
	return &logged
}

// debugTransport logs each identity-platform request's method, URL (which
// never carries a credential: MSAL sends those in bodies) and status.
type debugTransport struct {
	next   http.RoundTripper
	logger *slog.Logger
}

func (t *debugTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	u := *req.URL
	u.RawQuery, u.ForceQuery = "", false // the authorize URL is never fetched, but keep queries out anyway
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.logger.Debug("identity platform request failed", "method", req.Method, "url", u.String(), "error", err.Error())
		return nil, err
	}
	t.logger.Debug("identity platform request", "method", req.Method, "url", u.String(), "status", resp.StatusCode,
		"duration", time.Since(start).Round(time.Millisecond).String())
	return resp, nil
}

// explain maps err for p and logs the identity platform's codes under --debug.
func (m *Manager) explain(err error, p Profile) error {
	e := Explain(err, authorityHost(p.Authority))
	if e == nil {
		return nil
	}
	if p.ClientSecretStdin && (e.AADSTS == "AADSTS7000215" || e.AADSTS == "AADSTS7000222") {
		e.Next = secretNext("standard input (--client-secret-stdin)")
	}
	attrs := []any{"profile", p.Name, "host", e.Host}
	if e.OAuthError != "" {
		attrs = append(attrs, "oauth_error", e.OAuthError)
	}
	if e.AADSTS != "" {
		attrs = append(attrs, "aadsts", e.AADSTS)
	}
	if e.CorrelationID != "" {
		attrs = append(attrs, "correlation_id", e.CorrelationID)
	}
	if e.TraceID != "" {
		attrs = append(attrs, "trace_id", e.TraceID)
	}
	m.logger().Debug("identity platform error: "+e.Cause, attrs...)
	return e.AsExit()
}

// notSignedIn is the exit-3 error for a profile with no usable sign-in.
func notSignedIn(profile, why string) error {
	next := "run `hookctl login`"
	if profile != "" && profile != "default" {
		next = fmt.Sprintf("run `hookctl login --profile %s`", profile)
	}
	return (&Error{Code: exitcode.SignIn, Cause: why, Next: next}).AsExit()
}

// Profile returns the saved profile, or an exit-3 error when there is none.
func (m *Manager) Profile(name string) (Profile, error) {
	if err := ValidProfileName(name); err != nil {
		return Profile{}, exitcode.Usagef("%v", err)
	}
	p, ok, err := m.Store().Get(name)
	if err != nil {
		return Profile{}, err
	}
	if !ok {
		return Profile{}, notSignedIn(name, fmt.Sprintf("not signed in (profile %q)", name))
	}
	return p, nil
}

// silentScopes drops the scopes MSAL adds by itself: cached access tokens never carry them.
func silentScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if !reservedScopes[strings.ToLower(s)] {
			out = append(out, s)
		}
	}
	return out
}

// Acquire returns an access token for the named profile without any
// interaction: from the cache, refreshed with the cached refresh token, or (app
// profiles) from the credential the profile names. scopes may be nil for the
// profile's own. Failures that need a new sign-in exit 3.
func (m *Manager) Acquire(ctx context.Context, name string, scopes []string) (Token, error) {
	p, err := m.Profile(name)
	if err != nil {
		return Token{}, err
	}
	if len(scopes) == 0 {
		scopes = p.Scopes
	}
	scopes = silentScopes(scopes)
	if len(scopes) == 0 {
		return Token{}, exitcode.Usagef("no scopes to ask for: pass --scopes")
	}
	fc, err := m.cacheFor(p.Name, p.tokenStore())
	if err != nil {
		return Token{}, err
	}
	var tok Token
	switch p.Kind {
	case KindApp:
		tok, err = m.acquireApp(ctx, p, scopes, fc, "", false)
	default:
		tok, err = m.acquireUser(ctx, p, scopes, fc)
	}
	if err != nil {
		return Token{}, err
	}
	m.logger().Debug("access token ready", "profile", p.Name, "from_cache", tok.FromCache,
		"expires", tok.ExpiresOn.UTC().Format(time.RFC3339))
	return tok, nil
}

func (m *Manager) acquireUser(ctx context.Context, p Profile, scopes []string, fc *TokenCache) (Token, error) {
	client, err := m.publicClient(p, fc)
	if err != nil {
		return Token{}, err
	}
	var res public.AuthResult
	err = fc.Locked(ctx, func() error {
		accounts, err := client.Accounts(ctx)
		if err != nil {
			return err
		}
		for _, a := range accounts {
			if a.HomeAccountID == p.HomeAccountID {
				res, err = client.AcquireTokenSilent(ctx, scopes, public.WithSilentAccount(a))
				return err
			}
		}
		return notSignedIn(p.Name, fmt.Sprintf("signed out: profile %q has no cached sign-in for %s", p.Name, p.Username))
	})
	if err != nil {
		if exitcode.Code(err) == exitcode.SignIn {
			return Token{}, err
		}
		if err.Error() == "no token found" { // MSAL: no access or refresh token for these scopes
			return Token{}, notSignedIn(p.Name, fmt.Sprintf("no cached token of profile %q covers %s", p.Name, strings.Join(scopes, " ")))
		}
		return Token{}, m.explainSilent(err, p, scopes)
	}
	return m.token(p, res.AccessToken, res.IDToken.RawToken, res.ExpiresOn, res.GrantedScopes, res.Metadata.TokenSource), nil
}

// explainSilent maps a failed silent acquisition: when the identity platform
// refuses the refresh token's grant (consent missing for new scopes, for one),
// only an interactive sign-in helps, so it exits 3.
func (m *Manager) explainSilent(err error, p Profile, scopes []string) error {
	e := Explain(err, authorityHost(p.Authority))
	if e.Code == exitcode.Error && e.OAuthError == "invalid_grant" {
		e.Code = exitcode.SignIn
		if strings.Contains(e.Cause, "consent") {
			e.Next = fmt.Sprintf("run `hookctl login --scopes %s` and consent (or ask an admin to grant consent)", strings.Join(scopes, ","))
		}
	}
	return m.explain(e, p)
}

func (m *Manager) acquireApp(ctx context.Context, p Profile, scopes []string, fc *TokenCache, secret string, atLogin bool) (Token, error) {
	cred, err := m.appCredential(p, secret, atLogin)
	if err != nil {
		return Token{}, err
	}
	client, err := m.confidentialClient(p, cred, fc)
	if err != nil {
		return Token{}, err
	}
	var res confidential.AuthResult
	err = fc.Locked(ctx, func() error {
		res, err = client.AcquireTokenByCredential(ctx, scopes)
		return err
	})
	if err != nil {
		return Token{}, m.explain(err, p)
	}
	return m.token(p, res.AccessToken, "", res.ExpiresOn, res.GrantedScopes, res.Metadata.TokenSource), nil
}

func (m *Manager) token(p Profile, value, idToken string, expires time.Time, scopes []string, source public.TokenSource) Token {
	m.addSecret(value, idToken)
	return Token{Value: value, ExpiresOn: expires, Scopes: scopes, FromCache: source == public.TokenSourceCache, Profile: p}
}

// Logout removes the named profiles and their token caches.
func (m *Manager) Logout(ctx context.Context, names ...string) error {
	for _, name := range names {
		// The name becomes a file name: never let it leave the cache directory.
		if err := ValidProfileName(name); err != nil {
			return exitcode.Usagef("%v", err)
		}
	}
	for _, name := range names {
		p, ok, err := m.Store().Get(name)
		if err != nil {
			return err
		}
		stores := []string{StoreFile} // a failed sign-in may have left a file behind
		if ok && p.tokenStore() != StoreFile {
			stores = append(stores, p.tokenStore())
		}
		for _, store := range stores {
			fc, err := m.cacheFor(name, store)
			if err == nil {
				err = fc.Remove(ctx)
			}
			if err != nil {
				return err
			}
		}
	}
	return m.Store().Delete(ctx, names...)
}

// LogoutAll removes every profile and every token cache file.
func (m *Manager) LogoutAll(ctx context.Context) ([]string, error) {
	profiles, err := m.Store().List()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(profiles))
	for _, p := range profiles {
		names = append(names, p.Name)
	}
	// Caches left by profiles that were never saved (a failed login) go too.
	stray, _ := filepath.Glob(filepath.Join(m.authDir(), "cache", "*.json"))
	for _, path := range stray {
		if err := NewFileCache(path).Remove(ctx); err != nil {
			return nil, err
		}
	}
	if err := m.Logout(ctx, names...); err != nil {
		return nil, err
	}
	return names, nil
}

// noticeOnce tells the user, once per state directory, that tokens are kept
// in a plain (0600) file rather than an OS keyring.
func (m *Manager) noticeOnce(fc *TokenCache) {
	if _, inFile := fc.Store.(*FileStore); !inFile {
		m.logger().Debug("token cache kept in the OS keyring", "profile", fc.Profile)
		return
	}
	if m.Notices == nil {
		return
	}
	marker := filepath.Join(m.authDir(), ".plaintext-cache-notice")
	if _, err := os.Stat(marker); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return
	}
	fmt.Fprintf(m.Notices, "! Tokens are cached in %s: readable only by you (0600) but not encrypted; see docs/authentication.md\n", fc.Where())
	_ = os.WriteFile(marker, nil, 0o600)
}
