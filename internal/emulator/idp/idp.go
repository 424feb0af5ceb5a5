// Package idp emulates the Microsoft identity platform (Entra ID v2.0
// endpoints) for one tenant: discovery, device code, authorization code with
// PKCE, refresh and client-credentials grants, and the RS256 tokens they issue.
package idp

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/pki"
	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

// Defaults for Config's lifetimes, as the identity platform documents them.
const (
	DefaultAccessTokenLifetime  = 3599 * time.Second
	DefaultRefreshTokenLifetime = 90 * 24 * time.Hour
	DefaultAuthCodeLifetime     = 10 * time.Minute
	DefaultDeviceCodeLifetime   = 15 * time.Minute
	DefaultDeviceCodeInterval   = 5 * time.Second
)

// Config configures the identity platform.
type Config struct {
	// Tenant is the directory served; it is not modified.
	Tenant *tenant.Tenant
	// SigningKey signs every token (its thumbprint is the `kid`).
	SigningKey *pki.KeyPair
	// AutoApprove signs the tenant's first user in on every device code at once.
	AutoApprove bool

	// Lifetimes; zero means the Default* value.
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
	AuthCodeLifetime     time.Duration
	DeviceCodeLifetime   time.Duration
	// DeviceCodeInterval is the polling interval announced with a device code.
	DeviceCodeInterval time.Duration
	// DeviceCodePollMinimum, when set, answers slow_down to a poll that comes
	// sooner than this after the previous one for the same code. Microsoft does
	// not do this in practice, so it is off by default.
	DeviceCodePollMinimum time.Duration

	Now    func() time.Time
	Logger *slog.Logger
}

// Server is the emulated identity platform. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	tenant *tenant.Tenant
	key    *pki.KeyPair
	log    *slog.Logger
	now    func() time.Time
	certs  map[string][]*x509.Certificate // client id (lower case) -> registered certificates

	mu            sync.Mutex
	deviceCodes   map[string]*deviceAuth // by device_code
	userCodes     map[string]*deviceAuth // by user_code
	authCodes     map[string]*authCode
	refreshTokens map[string]*refreshRecord // by SHA-256 of the token
}

// New returns an identity platform for cfg.Tenant. It fails when an app's
// registered certificate cannot be parsed.
func New(cfg Config) (*Server, error) {
	if cfg.Tenant == nil || cfg.SigningKey == nil {
		return nil, fmt.Errorf("idp: Tenant and SigningKey are required")
	}
	defaults := []struct {
		value *time.Duration
		def   time.Duration
	}{
		{&cfg.AccessTokenLifetime, DefaultAccessTokenLifetime},
		{&cfg.RefreshTokenLifetime, DefaultRefreshTokenLifetime},
		{&cfg.AuthCodeLifetime, DefaultAuthCodeLifetime},
		{&cfg.DeviceCodeLifetime, DefaultDeviceCodeLifetime},
		{&cfg.DeviceCodeInterval, DefaultDeviceCodeInterval},
	}
	for _, d := range defaults {
		if *d.value <= 0 {
			*d.value = d.def
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:           cfg,
		tenant:        cfg.Tenant,
		key:           cfg.SigningKey,
		log:           cfg.Logger,
		now:           cfg.Now,
		certs:         map[string][]*x509.Certificate{},
		deviceCodes:   map[string]*deviceAuth{},
		userCodes:     map[string]*deviceAuth{},
		authCodes:     map[string]*authCode{},
		refreshTokens: map[string]*refreshRecord{},
	}
	for _, app := range cfg.Tenant.Apps {
		if app.CertificatePEM == "" {
			continue
		}
		cert, err := pki.ParseCertificatePEM([]byte(app.CertificatePEM))
		if err != nil {
			return nil, fmt.Errorf("app %s: certificate: %w", app.ClientID, err)
		}
		s.certs[strings.ToLower(app.ClientID)] = append(s.certs[strings.ToLower(app.ClientID)], cert)
	}
	return s, nil
}

// Handler serves the identity platform's endpoints. Paths it does not know
// answer 404.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleOpenIDConfiguration)
	mux.HandleFunc("GET /{tenant}/discovery/instance", s.handleInstanceDiscovery)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.handleKeys)
	mux.HandleFunc("GET /{tenant}/discovery/keys", s.handleKeys)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/devicecode", s.handleDeviceCode)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", s.handleToken)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", s.handleAuthorize)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize", s.handleAuthorize)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/logout", s.handleLogout)
	mux.HandleFunc("GET /oidc/userinfo", s.handleUserInfo)
	mux.HandleFunc("GET /devicelogin", s.handleDeviceLoginPage)
	mux.HandleFunc("POST /devicelogin", s.handleDeviceLoginPage)
	return mux
}

// tenantScope is how an authority's tenant segment resolved.
type tenantScope int

const (
	scopeTenant        tenantScope = iota // the tenant id or its domain
	scopeMultiTenant                      // common or organizations
	scopeUnknownTenant                    // anything else
)

func (s *Server) resolveTenant(segment string) tenantScope {
	switch {
	case strings.EqualFold(segment, s.tenant.ID) || (s.tenant.Domain != "" && strings.EqualFold(segment, s.tenant.Domain)):
		return scopeTenant
	case strings.EqualFold(segment, "common") || strings.EqualFold(segment, "organizations"):
		return scopeMultiTenant
	default:
		return scopeUnknownTenant
	}
}

// baseURL is the scheme and host the client used: discovery documents and
// token issuers follow it so that 127.0.0.1, localhost and [::1] all work.
func baseURL(r *http.Request) string {
	return "https://" + r.Host
}

// issuerV1 is the `iss` of access tokens for Microsoft Graph.
func (s *Server) issuerV1() string { return "https://sts.windows.net/" + s.tenant.ID + "/" }

func (s *Server) app(clientID string) (tenant.App, bool) { return s.tenant.App(clientID) }
