package auth

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/hookctl/hookctl/internal/exitcode"
)

// UserLogin asks for a delegated sign-in.
type UserLogin struct {
	Profile   string
	Authority string // full authority URL (see ResolveAuthority)
	ClientID  string
	Scopes    []string

	// Browser selects the authorization-code flow with a localhost redirect;
	// otherwise the device code flow runs.
	Browser bool
	// OpenURL opens the sign-in page (tests drive the emulator with it).
	OpenURL func(url string) error
	// ShowDeviceCode displays the device code (MSAL's Message, to stderr).
	ShowDeviceCode func(DeviceCode)
}

// AppLogin asks for an app-only sign-in with the client-credentials grant.
type AppLogin struct {
	Profile   string
	Authority string
	ClientID  string
	Scopes    []string // default GraphDefaultScope

	ClientSecretEnv        string
	ClientSecret           string // read from stdin at login; never stored
	CertificateFile        string
	CertificatePasswordEnv string
	FederatedTokenFile     string
	User                   string // the mailbox, UPN or object id
}

// LoginUser signs a person in and saves the profile.
func (m *Manager) LoginUser(ctx context.Context, req UserLogin) (Token, error) {
	if err := ValidProfileName(req.Profile); err != nil {
		return Token{}, exitcode.Usagef("%v", err)
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	p := Profile{Name: req.Profile, Kind: KindUser, Authority: req.Authority, Tenant: tenantOf(req.Authority),
		ClientID: req.ClientID, Scopes: scopes}
	p.bindEndpoint(m.loginEndpoint())
	fc, store, err := m.loginCache(ctx, p.Name)
	if err != nil {
		return Token{}, err
	}
	p.TokenStore = store
	if err := fc.DiscardIfUnreadable(ctx); err != nil {
		return Token{}, err
	}
	client, err := m.publicClient(p, fc)
	if err != nil {
		return Token{}, err
	}
	var res public.AuthResult
	if req.Browser {
		opts := []public.AcquireInteractiveOption{public.WithRedirectURI("http://localhost")}
		if req.OpenURL != nil {
			opts = append(opts, public.WithOpenURL(req.OpenURL))
		}
		res, err = client.AcquireTokenInteractive(ctx, scopes, opts...)
	} else {
		res, err = m.deviceCode(ctx, client, p, scopes, req.ShowDeviceCode)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Token{}, loginInterrupted(ctx)
		}
		return Token{}, m.explain(err, p)
	}
	p.HomeAccountID = res.Account.HomeAccountID
	p.Username = res.Account.PreferredUsername
	p.TenantID = res.IDToken.TenantID
	if p.TenantID == "" {
		p.TenantID = res.Account.Realm
	}
	p.SignedInAt = time.Now().UTC()
	// One profile, one person: drop whoever signed in to this profile before.
	if accounts, err := client.Accounts(ctx); err == nil {
		for _, a := range accounts {
			if a.HomeAccountID != p.HomeAccountID {
				_ = client.RemoveAccount(ctx, a)
			}
		}
	}
	if err := m.Store().Put(ctx, p); err != nil {
		return Token{}, err
	}
	m.noticeOnce(fc)
	return m.token(p, res.AccessToken, res.IDToken.RawToken, res.ExpiresOn, res.GrantedScopes, res.Metadata.TokenSource), nil
}

// DeviceCode is what a person needs to finish a device code sign-in.
type DeviceCode struct {
	Message         string // the identity platform's instructions, code and URL included
	UserCode        string
	VerificationURL string
	ExpiresOn       time.Time
}

func (m *Manager) deviceCode(ctx context.Context, client public.Client, p Profile, scopes []string, show func(DeviceCode)) (public.AuthResult, error) {
	dc, err := client.AcquireTokenByDeviceCode(ctx, scopes)
	if err != nil {
		return public.AuthResult{}, err
	}
	m.addSecret(dc.Result.DeviceCode)
	if show != nil {
		show(DeviceCode{Message: dc.Result.Message, UserCode: dc.Result.UserCode,
			VerificationURL: dc.Result.VerificationURL, ExpiresOn: dc.Result.ExpiresOn})
	}
	res, err := dc.AuthenticationResult(ctx)
	// MSAL stops polling at the code's expiry with its own deadline.
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return public.AuthResult{}, &Error{Code: exitcode.Error, Cause: "the device code expired before anyone signed in",
			Next: "run `hookctl login` again and enter the new code promptly", Host: authorityHost(p.Authority), Err: err}
	}
	return res, err
}

// loginInterrupted distinguishes --timeout (exit 5) from Ctrl-C.
func loginInterrupted(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return exitcode.TimedOut(errors.New("sign-in timed out before it completed: run `hookctl login` again"))
	}
	return errors.New("sign-in cancelled")
}

// LoginApp signs an application in with its credential and saves the profile,
// which records where the credential is so later runs can read it again.
func (m *Manager) LoginApp(ctx context.Context, req AppLogin) (Token, error) {
	if err := ValidProfileName(req.Profile); err != nil {
		return Token{}, exitcode.Usagef("%v", err)
	}
	switch strings.ToLower(tenantOf(req.Authority)) {
	case "organizations", "common", "consumers":
		return Token{}, exitcode.Usagef("app-only sign-in needs a specific tenant: pass --tenant with your tenant id or domain")
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = []string{GraphDefaultScope}
	}
	for _, s := range scopes {
		if !strings.HasSuffix(s, "/.default") {
			return Token{}, exitcode.Usagef("app-only sign-in takes only resource/.default scopes (such as %s), not %q", GraphDefaultScope, s)
		}
	}
	// Later commands may run elsewhere: remember files by absolute path.
	for _, path := range []*string{&req.CertificateFile, &req.FederatedTokenFile} {
		if *path != "" {
			if abs, err := filepath.Abs(*path); err == nil {
				*path = abs
			}
		}
	}
	p := Profile{Name: req.Profile, Kind: KindApp, Authority: req.Authority, Tenant: tenantOf(req.Authority),
		ClientID: req.ClientID, Scopes: scopes, User: req.User,
		ClientSecretEnv: req.ClientSecretEnv, ClientSecretStdin: req.ClientSecret != "" && req.ClientSecretEnv == "",
		CertificateFile: req.CertificateFile, CertificatePasswordEnv: req.CertificatePasswordEnv,
		FederatedTokenFile: req.FederatedTokenFile}
	p.bindEndpoint(m.loginEndpoint())
	if p.ClientSecretEnv == "" && !p.ClientSecretStdin && p.CertificateFile == "" && p.FederatedTokenFile == "" {
		return Token{}, exitcode.Usagef("app-only sign-in needs a credential: --client-secret-env, --client-secret-stdin, --certificate or --federated-token-file")
	}
	if p.ClientSecretEnv != "" && req.ClientSecret == "" && m.env(p.ClientSecretEnv) == "" {
		return Token{}, exitcode.Usagef("environment variable %s (named by --client-secret-env) is empty or not set", p.ClientSecretEnv)
	}
	fc, store, err := m.loginCache(ctx, p.Name)
	if err != nil {
		return Token{}, err
	}
	p.TokenStore = store
	// A new sign-in must prove the credential: forget tokens from an earlier one.
	if err := fc.Remove(ctx); err != nil {
		return Token{}, err
	}
	tok, err := m.acquireApp(ctx, p, scopes, fc, req.ClientSecret, true)
	if err != nil {
		if ctx.Err() != nil {
			return Token{}, loginInterrupted(ctx)
		}
		return Token{}, err
	}
	p.TenantID = tokenTenant(tok.Value)
	p.SignedInAt = time.Now().UTC()
	tok.Profile = p
	if err := m.Store().Put(ctx, p); err != nil {
		return Token{}, err
	}
	m.noticeOnce(fc)
	return tok, nil
}

// DescribeLogin is the line that says who signed in.
func DescribeLogin(p Profile) string {
	if p.Kind == KindApp {
		who := fmt.Sprintf("app %s (%s)", p.ClientID, p.Credential())
		if p.User != "" {
			who += " for mailbox " + p.User
		}
		return fmt.Sprintf("Signed in as %s in tenant %s, profile %q", who, firstNonEmpty(p.TenantID, p.Tenant), p.Name)
	}
	return fmt.Sprintf("Signed in as %s in tenant %s, profile %q", p.Username, firstNonEmpty(p.TenantID, p.Tenant), p.Name)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
