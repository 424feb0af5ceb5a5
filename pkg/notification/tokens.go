package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// ChangeNotificationPublisherID is the application id of Microsoft Graph's
// change-notification publisher: the appid (or azp) of every validation token.
const ChangeNotificationPublisherID = "0bf30f3b-4a52-48df-9a82-234910c4a086"

// keyRefreshBudget bounds one refresh of the signing keys caused by an unknown kid.
const keyRefreshBudget = 10 * time.Second

// DefaultTokenSkew is the clock skew allowed on exp and nbf.
const DefaultTokenSkew = 5 * time.Minute

// Token checks, named in a TokenError.
const (
	CheckMalformed = "malformed"
	CheckKeyID     = "kid"
	CheckSignature = "signature"
	CheckExpiry    = "exp"
	CheckNotBefore = "nbf"
	CheckAudience  = "aud"
	CheckIssuer    = "iss"
	CheckAppID     = "appid"
)

// TokenError is a validation token that failed one check. Its message names
// the check and never quotes the token.
type TokenError struct {
	// Check is one of the Check constants.
	Check string
	// Detail says what was found, in words (no token material).
	Detail string
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("validation token failed the %s check: %s", e.Check, e.Detail)
}

// TokenValidatorConfig configures a TokenValidator.
type TokenValidatorConfig struct {
	// AppID is the application (client) id the tokens must be issued to (aud).
	AppID string
	// Authority is the profile's authority, e.g.
	// https://login.microsoftonline.com/organizations; its
	// /v2.0/.well-known/openid-configuration names the jwks_uri. JWKSURL, when
	// set, is used instead of discovery.
	Authority string
	JWKSURL   string
	// HTTPClient fetches discovery and keys (default http.DefaultClient).
	HTTPClient *http.Client
	// Skew is the clock skew allowed on exp and nbf (default DefaultTokenSkew).
	Skew time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RefreshUnknownKID is the least time between key refreshes caused by an
	// unknown kid (default one minute), so a flood of forged kids costs one
	// fetch a minute.
	RefreshUnknownKID time.Duration
}

// TokenValidator checks the validationTokens of rich notifications (PROTOCOL.md
// §5): RS256 signature against the authority's published keys (cached,
// refreshed on an unknown kid), exp and nbf with skew, aud = the app, iss of
// the notification's tenant, and appid/azp = Graph's publisher.
type TokenValidator struct {
	cfg     TokenValidatorConfig
	keys    keyfunc.Keyfunc
	parser  *jwt.Parser
	issuers []string // templates with {tenantid}

	mu        sync.Mutex
	lastFetch error // the last key refresh failure, for the explanation
}

// NewTokenValidator discovers the authority's jwks_uri and starts a key cache
// that lives until ctx ends.
func NewTokenValidator(ctx context.Context, cfg TokenValidatorConfig) (*TokenValidator, error) {
	if cfg.AppID == "" {
		return nil, errors.New("validating tokens needs the application id")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Skew == 0 {
		cfg.Skew = DefaultTokenSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RefreshUnknownKID == 0 {
		cfg.RefreshUnknownKID = time.Minute
	}
	v := &TokenValidator{cfg: cfg, issuers: []string{"https://sts.windows.net/{tenantid}/", "https://login.microsoftonline.com/{tenantid}/v2.0"}}
	jwksURL := cfg.JWKSURL
	if jwksURL == "" {
		doc, err := discover(ctx, cfg.HTTPClient, cfg.Authority)
		if err != nil {
			return nil, err
		}
		jwksURL = doc.JWKSURI
		if doc.Issuer != "" {
			v.issuers = append(v.issuers, doc.Issuer)
		}
	}
	noErrorFirst := false
	keys, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{jwksURL}, keyfunc.Override{
		Client:                    cfg.HTTPClient,
		NoErrorReturnFirstHTTPReq: &noErrorFirst,
		RefreshInterval:           time.Hour,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(cfg.RefreshUnknownKID), 1),
		// The budget of a refresh an unknown kid causes, the fetch included.
		// The limiter never waits within it: when the next refresh is further
		// away than this (a minute), the token fails at once.
		RateLimitWaitMax: keyRefreshBudget,
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				v.mu.Lock()
				v.lastFetch = err
				v.mu.Unlock()
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("reading the token signing keys from %s: %w", jwksURL, err)
	}
	v.keys = keys
	v.parser = jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithLeeway(cfg.Skew),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(cfg.Now))
	return v, nil
}

// openIDConfiguration is the part of the discovery document used here.
type openIDConfiguration struct {
	JWKSURI string `json:"jwks_uri"`
	Issuer  string `json:"issuer"`
}

func discover(ctx context.Context, client *http.Client, authority string) (*openIDConfiguration, error) {
	if authority == "" {
		return nil, errors.New("validating tokens needs the authority (or a JWKS URL)")
	}
	url := strings.TrimRight(authority, "/") + "/v2.0/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading the authority's openid-configuration: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading %s: HTTP %d", url, resp.StatusCode)
	}
	var doc openIDConfiguration
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&doc); err != nil || doc.JWKSURI == "" {
		return nil, fmt.Errorf("%s has no jwks_uri", url)
	}
	return &doc, nil
}

// validationClaims are the claims checked beyond exp and nbf.
type validationClaims struct {
	jwt.RegisteredClaims
	AppID    string `json:"appid"`
	AZP      string `json:"azp"`
	TenantID string `json:"tid"`
}

// Validate checks every token of a collection; tenantIDs are the tenantId
// values of its items (the issuer must name one of them). It returns nil when
// all pass, else the first failure as a *TokenError. No tokens is an error:
// a rich collection always carries them.
func (v *TokenValidator) Validate(ctx context.Context, tokens []string, tenantIDs []string) error {
	if len(tokens) == 0 {
		return &TokenError{Check: CheckMalformed, Detail: "the collection carries no validationTokens"}
	}
	for _, token := range tokens {
		if err := v.validateOne(ctx, token, tenantIDs); err != nil {
			return err
		}
	}
	return nil
}

func (v *TokenValidator) validateOne(ctx context.Context, token string, tenantIDs []string) error {
	var claims validationClaims
	_, err := v.parser.ParseWithClaims(token, &claims, v.keys.KeyfuncCtx(ctx))
	switch {
	case err == nil:
	case errors.Is(err, jwkset.ErrKeyNotFound):
		detail := "its kid is not among the authority's published keys"
		v.mu.Lock()
		if v.lastFetch != nil {
			detail += fmt.Sprintf(" (the last key refresh failed: %v)", v.lastFetch)
		}
		v.mu.Unlock()
		return &TokenError{Check: CheckKeyID, Detail: detail}
	case errors.Is(err, jwt.ErrTokenExpired):
		return &TokenError{Check: CheckExpiry, Detail: "it has expired"}
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return &TokenError{Check: CheckNotBefore, Detail: "it is not valid yet"}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return &TokenError{Check: CheckSignature, Detail: "the signature does not verify with the published key"}
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return &TokenError{Check: CheckKeyID, Detail: "no key to verify it with"}
	default:
		return &TokenError{Check: CheckMalformed, Detail: "it is not a signed RS256 JWT with exp"}
	}
	if !slices.Contains([]string(claims.Audience), v.cfg.AppID) {
		return &TokenError{Check: CheckAudience, Detail: fmt.Sprintf("aud is %q, not the application id %s", strings.Join(claims.Audience, ","), v.cfg.AppID)}
	}
	if !v.issuerOK(claims.Issuer, tenantIDs) {
		return &TokenError{Check: CheckIssuer, Detail: fmt.Sprintf("iss %q does not name the notification's tenant", claims.Issuer)}
	}
	if claims.AppID != ChangeNotificationPublisherID && claims.AZP != ChangeNotificationPublisherID {
		return &TokenError{Check: CheckAppID, Detail: fmt.Sprintf("appid %q is not Microsoft Graph's change-notification publisher", firstOf(claims.AppID, claims.AZP))}
	}
	return nil
}

func (v *TokenValidator) issuerOK(issuer string, tenantIDs []string) bool {
	for _, tenant := range tenantIDs {
		if tenant == "" {
			continue
		}
		for _, template := range v.issuers {
			if strings.EqualFold(issuer, strings.ReplaceAll(template, "{tenantid}", tenant)) {
				return true
			}
		}
	}
	return false
}

func firstOf(values ...string) string {
	for _, s := range values {
		if s != "" {
			return s
		}
	}
	return ""
}

// TenantIDs are the distinct tenantId values of a collection's items.
func (c *Collection) TenantIDs() []string {
	var ids []string
	for _, n := range c.Value {
		if n.TenantID != "" && !slices.Contains(ids, n.TenantID) {
			ids = append(ids, n.TenantID)
		}
	}
	return ids
}
