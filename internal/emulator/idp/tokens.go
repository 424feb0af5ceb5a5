package idp

//lint:file-ignore ST1005 the error texts are Graph's own, word for word

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

// Microsoft Graph's identifiers: access tokens name it in `aud`.
const (
	GraphResource = "https://graph.microsoft.com"
	GraphAppID    = "00000003-0000-0000-c000-000000000000"
)

// oidcScopes are answered by the identity platform itself, not by a resource.
var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

// scopeRequest is a parsed `scope` parameter.
type scopeRequest struct {
	requested []string // resource scopes exactly as sent (echoed in the answer)
	graph     []string // the same without the resource prefix: Mail.Read, .default
	oidc      []string // openid, profile, email, offline_access
}

func (sr scopeRequest) has(oidc string) bool { return slices.Contains(sr.oidc, oidc) }

func (sr scopeRequest) isDefault() bool { return slices.Contains(sr.graph, ".default") }

// parseScopes splits a space-separated scope list. Scopes of a resource other
// than Microsoft Graph are refused: the emulator hosts no other API.
func (s *Server) parseScopes(raw string) (scopeRequest, *oauthError) {
	var sr scopeRequest
	for _, scope := range strings.Fields(raw) {
		if lower := strings.ToLower(scope); slices.Contains(oidcScopes, lower) {
			if !slices.Contains(sr.oidc, lower) {
				sr.oidc = append(sr.oidc, lower)
			}
			continue
		}
		name, graphScope := scope, false
		for _, prefix := range []string{GraphResource + "/", GraphAppID + "/"} {
			if len(scope) >= len(prefix) && strings.EqualFold(scope[:len(prefix)], prefix) {
				name, graphScope = scope[len(prefix):], true
				break
			}
		}
		if !graphScope && strings.Contains(scope, "/") {
			resource := scope[:strings.LastIndex(scope, "/")]
			return sr, errUnknownResource(resource, s.tenant.ID)
		}
		if name == "" || strings.Contains(name, "/") {
			return sr, errInvalidScope("The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)
		}
		sr.requested = append(sr.requested, scope)
		sr.graph = append(sr.graph, name)
	}
	if len(sr.requested) == 0 && len(sr.oidc) == 0 {
		return sr, errMissingParameter("scope")
	}
	if sr.isDefault() && len(sr.graph) > 1 {
		return sr, errInvalidScope("The provided value for the input parameter 'scope' is not valid. The scope .default cannot be combined with other resource scopes.")
	}
	return sr, nil
}

// delegatedGrant checks the scopes against the app's consent and returns the
// Graph permissions the token carries (its `scp`).
func delegatedGrant(app tenant.App, sr scopeRequest) ([]string, *oauthError) {
	consented := func(scope string) bool {
		return slices.ContainsFunc(app.DelegatedConsent, func(c string) bool { return strings.EqualFold(c, scope) })
	}
	var scp []string
	if sr.isDefault() {
		for _, c := range app.DelegatedConsent {
			if !slices.Contains(oidcScopes, strings.ToLower(c)) {
				scp = append(scp, c)
			}
		}
	} else {
		for _, scope := range sr.graph {
			if !consented(scope) {
				return nil, errConsentRequired(app.ClientID, app.DisplayName)
			}
			scp = append(scp, scope)
		}
	}
	if sr.has("offline_access") && !consented("offline_access") {
		return nil, errConsentRequired(app.ClientID, app.DisplayName)
	}
	for _, o := range sr.oidc {
		if o != "offline_access" {
			scp = append(scp, o)
		}
	}
	if len(scp) == 0 {
		// MSAL never sends OIDC scopes alone; the service then grants User.Read-less
		// tokens whose scp names the OIDC scopes. Keep a non-empty scp either way.
		scp = append(scp, "openid")
	}
	return scp, nil
}

// accessTokenClaims are the claims of a Microsoft Graph (v1.0 format) access token.
type accessTokenClaims struct {
	Aud            string   `json:"aud"`
	Iss            string   `json:"iss"`
	Iat            int64    `json:"iat"`
	Nbf            int64    `json:"nbf"`
	Exp            int64    `json:"exp"`
	AppDisplayName string   `json:"app_displayname,omitempty"`
	AppID          string   `json:"appid"`
	AppIDACR       string   `json:"appidacr"`
	IDP            string   `json:"idp,omitempty"`
	IDType         string   `json:"idtyp"`
	Name           string   `json:"name,omitempty"`
	OID            string   `json:"oid"`
	Roles          []string `json:"roles,omitempty"`
	Scp            string   `json:"scp,omitempty"`
	Sub            string   `json:"sub"`
	TID            string   `json:"tid"`
	UniqueName     string   `json:"unique_name,omitempty"`
	UPN            string   `json:"upn,omitempty"`
	UTI            string   `json:"uti"`
	Ver            string   `json:"ver"`
}

// GetExpirationTime and friends let golang-jwt validate the struct's times.
func (c accessTokenClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return numericDate(c.Exp), nil
}
func (c accessTokenClaims) GetNotBefore() (*jwt.NumericDate, error) {
	return numericDate(c.Nbf), nil
}

// numericDate is nil for an absent (zero) time claim.
func numericDate(unix int64) *jwt.NumericDate {
	if unix == 0 {
		return nil
	}
	return jwt.NewNumericDate(time.Unix(unix, 0))
}
func (c accessTokenClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Iat, 0)), nil
}
func (c accessTokenClaims) GetIssuer() (string, error)  { return c.Iss, nil }
func (c accessTokenClaims) GetSubject() (string, error) { return c.Sub, nil }
func (c accessTokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Aud}, nil
}

// appAuthMethod is `appidacr`: how the client authenticated.
type appAuthMethod string

const (
	authPublic      appAuthMethod = "0"
	authSecret      appAuthMethod = "1"
	authCertificate appAuthMethod = "2"
)

func (s *Server) sign(claims jwt.Claims) (string, error) {
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	token.Header["x5t"] = s.key.X5t()
	token.Header["kid"] = s.key.X5t()
	return token.SignedString(s.key.Key)
}

// mintUserAccessToken issues a delegated Graph token for user.
func (s *Server) mintUserAccessToken(app tenant.App, user tenant.User, scp []string, method appAuthMethod) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(s.cfg.AccessTokenLifetime)
	token, err := s.sign(accessTokenClaims{
		Aud: GraphResource, Iss: s.issuerV1(),
		Iat: now.Unix(), Nbf: now.Unix(), Exp: exp.Unix(),
		AppDisplayName: app.DisplayName, AppID: app.ClientID, AppIDACR: string(method),
		IDType: "user", Name: user.DisplayName, OID: user.ID,
		Scp: strings.Join(scp, " "), Sub: pairwiseSubject(user.ID, app.ClientID+"/graph"),
		TID: s.tenant.ID, UniqueName: user.UserPrincipalName, UPN: user.UserPrincipalName,
		UTI: uti(), Ver: "1.0",
	})
	return token, exp, err
}

// mintAppAccessToken issues an app-only Graph token carrying the app's roles.
func (s *Server) mintAppAccessToken(app tenant.App, method appAuthMethod) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(s.cfg.AccessTokenLifetime)
	spID := ServicePrincipalID(s.tenant.ID, app.ClientID)
	token, err := s.sign(accessTokenClaims{
		Aud: GraphResource, Iss: s.issuerV1(),
		Iat: now.Unix(), Nbf: now.Unix(), Exp: exp.Unix(),
		AppDisplayName: app.DisplayName, AppID: app.ClientID, AppIDACR: string(method),
		IDP: s.issuerV1(), IDType: "app", OID: spID,
		Roles: slices.Clone(app.AppRoles), Sub: spID,
		TID: s.tenant.ID, UTI: uti(), Ver: "1.0",
	})
	return token, exp, err
}

// idTokenClaims are a v2.0 ID token's claims.
type idTokenClaims struct {
	Iss               string `json:"iss"`
	Sub               string `json:"sub"`
	Aud               string `json:"aud"`
	Exp               int64  `json:"exp"`
	Nbf               int64  `json:"nbf"`
	Iat               int64  `json:"iat"`
	Name              string `json:"name"`
	Nonce             string `json:"nonce,omitempty"`
	OID               string `json:"oid"`
	PreferredUsername string `json:"preferred_username"`
	Email             string `json:"email,omitempty"`
	TID               string `json:"tid"`
	UTI               string `json:"uti"`
	Ver               string `json:"ver"`
}

func (s *Server) mintIDToken(issuerBase string, app tenant.App, user tenant.User, nonce string, withEmail bool) (string, error) {
	now := s.now()
	claims := idTokenClaims{
		Iss: issuerBase + "/" + s.tenant.ID + "/v2.0", Sub: pairwiseSubject(user.ID, app.ClientID), Aud: app.ClientID,
		Exp: now.Add(time.Hour).Unix(), Nbf: now.Unix(), Iat: now.Unix(),
		Name: user.DisplayName, Nonce: nonce, OID: user.ID,
		PreferredUsername: user.UserPrincipalName, TID: s.tenant.ID, UTI: uti(), Ver: "2.0",
	}
	if withEmail {
		claims.Email = user.Mail
	}
	return s.sign(mapClaims(claims))
}

// mapClaims turns a claims struct into jwt.MapClaims for signing.
func mapClaims(v any) jwt.MapClaims {
	raw, _ := json.Marshal(v)
	var m jwt.MapClaims
	_ = json.Unmarshal(raw, &m)
	return m
}

// clientInfo is base64url (no padding, as MSAL decodes it) of {"uid","utid"}.
func (s *Server) clientInfo(user tenant.User) string {
	raw, _ := json.Marshal(map[string]string{"uid": user.ID, "utid": s.tenant.ID})
	return base64.RawURLEncoding.EncodeToString(raw)
}

// pairwiseSubject is a stable per-user, per-app `sub`, as the service issues.
func pairwiseSubject(userID, audience string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(userID) + "|" + strings.ToLower(audience)))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:43]
}

// ServicePrincipalID is the object id of an app's service principal in the
// tenant: the `oid` of its app-only tokens. It is derived, so it is stable.
func ServicePrincipalID(tenantID, clientID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("sp:"+strings.ToLower(tenantID)+":"+strings.ToLower(clientID))).String()
}

func uti() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:22]
}

// randomToken returns an opaque credential of n random bytes, base64url.
func randomToken(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// Errors Authenticate returns; their texts are Graph's own, safe to show,
// so they keep Graph's capitals and full stops (hence the lint:file-ignore).
var (
	ErrTokenMalformed = errors.New("IDX14100: JWT is not well formed, there are no dots (.).")
	ErrTokenSignature = errors.New("Access token validation failure. Invalid signature.")
	ErrTokenExpired   = errors.New("Lifetime validation failed, the token is expired.")
	ErrTokenNotYet    = errors.New("Lifetime validation failed, the token is not yet valid.")
	ErrTokenNoExpiry  = errors.New("Lifetime validation failed. The token is missing an Expiration Time.")
	ErrTokenAudience  = errors.New("Access token validation failure. Invalid audience.")
	ErrTokenIssuer    = errors.New("Access token validation failure. Invalid issuer.")
	ErrTokenTenant    = errors.New("Access token validation failure. The token's tenant is not this tenant.")
)

// Authenticate verifies a Graph access token this platform issued (signature,
// lifetime, audience, issuer, tenant) and tells who it speaks for. It
// implements tenant.Authenticator.
func (s *Server) Authenticate(bearerToken string) (*tenant.Principal, error) {
	if strings.Count(bearerToken, ".") != 2 {
		return nil, ErrTokenMalformed
	}
	var claims accessTokenClaims
	_, err := jwt.ParseWithClaims(bearerToken, &claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != "" && kid != s.key.X5t() {
			return nil, errors.New("unknown key")
		}
		return &s.key.Key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, ErrTokenNotYet
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, ErrTokenNoExpiry
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, ErrTokenMalformed
	default:
		return nil, ErrTokenSignature
	}
	if !strings.EqualFold(claims.Aud, GraphResource) && !strings.EqualFold(claims.Aud, GraphResource+"/") && !strings.EqualFold(claims.Aud, GraphAppID) {
		return nil, ErrTokenAudience
	}
	if claims.Iss != s.issuerV1() {
		return nil, ErrTokenIssuer
	}
	if !strings.EqualFold(claims.TID, s.tenant.ID) {
		return nil, ErrTokenTenant
	}
	p := &tenant.Principal{TenantID: claims.TID, AppID: claims.AppID}
	if claims.IDType == "app" || (claims.Scp == "" && claims.UPN == "") {
		p.Roles = claims.Roles
		return p, nil
	}
	p.Delegated = true
	p.UserID = claims.OID
	p.UPN = claims.UPN
	p.Scopes = strings.Fields(claims.Scp)
	return p, nil
}

// MintUserToken issues a delegated Graph access token for a user of the tenant
// without any sign-in flow, for tests and the control API. Consent is not checked.
func (s *Server) MintUserToken(clientID, user string, scopes []string) (string, error) {
	app, ok := s.app(clientID)
	if !ok {
		return "", fmt.Errorf("no app with client id %s in the tenant", clientID)
	}
	u, ok := s.tenant.UserByIDOrUPN(user)
	if !ok {
		return "", fmt.Errorf("no user %s in the tenant", user)
	}
	token, _, err := s.mintUserAccessToken(app, u, scopes, authPublic)
	return token, err
}

// MintAppToken issues an app-only Graph access token for an app, carrying
// roles (the app's granted roles when roles is nil), for tests and the control API.
func (s *Server) MintAppToken(clientID string, roles []string) (string, error) {
	app, ok := s.app(clientID)
	if !ok {
		return "", fmt.Errorf("no app with client id %s in the tenant", clientID)
	}
	if roles != nil {
		app.AppRoles = roles
	}
	token, _, err := s.mintAppAccessToken(app, authSecret)
	return token, err
}

// ChangeNotificationPublisherID is the app id of Microsoft Graph's change
// notification publisher, the `appid` of rich notifications' validation tokens.
const ChangeNotificationPublisherID = "0bf30f3b-4a52-48df-9a82-234910c4a086"

// ValidationToken issues the JWT that rich change notifications carry in
// `validationTokens` for the app audienceAppID, signed with the published key.
func (s *Server) ValidationToken(audienceAppID string) (string, error) {
	now := s.now()
	return s.sign(jwt.MapClaims{
		"aud":      audienceAppID,
		"iss":      s.issuerV1(),
		"iat":      now.Unix(),
		"nbf":      now.Unix(),
		"exp":      now.Add(time.Hour).Unix(),
		"appid":    ChangeNotificationPublisherID,
		"appidacr": "2",
		"idp":      s.issuerV1(),
		"tid":      s.tenant.ID,
		"oid":      ServicePrincipalID(s.tenant.ID, ChangeNotificationPublisherID),
		"sub":      ServicePrincipalID(s.tenant.ID, ChangeNotificationPublisherID),
		"uti":      uti(),
		"ver":      "1.0",
	})
}
