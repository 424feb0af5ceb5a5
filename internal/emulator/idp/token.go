package idp

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hookctl/hookctl/internal/emulator/pki"
	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

// Grant types of the token endpoint.
const (
	grantDeviceCode        = "device_code"                                  // what MSAL sends
	grantDeviceCodeURN     = "urn:ietf:params:oauth:grant-type:device_code" // RFC 8628's name
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantClientCredentials = "client_credentials"
	clientAssertionType    = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// tokenResponse is the token endpoint's success body.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// tokenRequest is what every grant shares once the client is known.
type tokenRequest struct {
	r       *http.Request
	form    url.Values
	scope   tenantScope
	app     tenant.App
	method  appAuthMethod
	segment string
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, errMethodNotAllowed(r.Method))
		return
	}
	resp, oerr := s.token(r)
	if oerr != nil {
		s.writeError(w, r, oerr)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) token(r *http.Request) (*tokenResponse, *oauthError) {
	segment := r.PathValue("tenant")
	scope := s.resolveTenant(segment)
	if scope == scopeUnknownTenant {
		return nil, errUnknownTenant(segment)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, errMissingParameter("grant_type")
	}
	form := r.PostForm
	grant := form.Get("grant_type")
	if grant == "" {
		return nil, errMissingParameter("grant_type")
	}
	clientID := form.Get("client_id")
	if clientID == "" {
		if user, _, ok := r.BasicAuth(); ok {
			clientID, _ = url.QueryUnescape(user)
		}
	}
	if clientID == "" && form.Get("client_assertion") == "" {
		return nil, errMissingParameter("client_id")
	}
	switch grant {
	case grantDeviceCodeURN:
		grant = grantDeviceCode
	case grantDeviceCode, grantAuthorizationCode, grantRefreshToken, grantClientCredentials:
	default:
		return nil, errUnsupportedGrant(grant)
	}
	if grant == grantClientCredentials && scope == scopeMultiTenant {
		return nil, errNoTenantInfo()
	}
	if clientID == "" {
		// A bare client_assertion names the client in its iss/sub.
		clientID = assertionSubject(form.Get("client_assertion"))
	}
	app, ok := s.app(clientID)
	if !ok {
		return nil, errUnknownClient(clientID, s.tenant.ID)
	}
	method, oerr := s.authenticateClient(r, form, app, segment)
	if oerr != nil {
		return nil, oerr
	}
	req := &tokenRequest{r: r, form: form, scope: scope, app: app, method: method, segment: segment}
	switch grant {
	case grantClientCredentials:
		return s.clientCredentials(req)
	case grantDeviceCode:
		return s.redeemDeviceCode(req)
	case grantAuthorizationCode:
		return s.redeemAuthCode(req)
	default:
		return s.redeemRefreshToken(req)
	}
}

// authenticateClient checks the credential a client presents: none for public
// apps, a secret or a certificate-signed assertion for confidential ones.
func (s *Server) authenticateClient(r *http.Request, form url.Values, app tenant.App, segment string) (appAuthMethod, *oauthError) {
	secret := form.Get("client_secret")
	if secret == "" {
		if _, pass, ok := r.BasicAuth(); ok {
			secret, _ = url.QueryUnescape(pass)
		}
	}
	assertion := form.Get("client_assertion")
	if app.Public {
		if secret != "" || assertion != "" {
			return "", errPublicClientCredential()
		}
		return authPublic, nil
	}
	switch {
	case assertion != "":
		if t := form.Get("client_assertion_type"); t != clientAssertionType {
			if t == "" {
				return "", errMissingParameter("client_assertion_type")
			}
			return "", newError(http.StatusBadRequest, "invalid_request", 700023, "Invalid client assertion type '%s'; expected '%s'.", t, clientAssertionType)
		}
		if oerr := s.verifyAssertion(r, assertion, app, segment); oerr != nil {
			return "", oerr
		}
		return authCertificate, nil
	case secret != "":
		if app.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(app.Secret)) != 1 {
			return "", errInvalidSecret(app.ClientID)
		}
		return authSecret, nil
	default:
		return "", errCredentialRequired()
	}
}

// verifyAssertion checks a client assertion: PS256 or RS256 signed by a
// certificate registered on the app (matched by x5t / x5t#S256 when present),
// iss = sub = client id, aud = this token endpoint, and a current exp/nbf.
func (s *Server) verifyAssertion(r *http.Request, assertion string, app tenant.App, segment string) *oauthError {
	certs := s.certs[strings.ToLower(app.ClientID)]
	if len(certs) == 0 {
		return errAssertionInvalid("The key was not found.")
	}
	var claims jwt.RegisteredClaims
	var keyErr *oauthError
	_, err := jwt.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		x5t, _ := t.Header["x5t"].(string)
		x5t256, _ := t.Header["x5t#S256"].(string)
		for _, cert := range certs {
			if (x5t == "" || pki.SameThumbprint(x5t, pki.SHA1(cert))) && (x5t256 == "" || pki.SameThumbprint(x5t256, pki.SHA256(cert))) {
				return cert.PublicKey, nil
			}
		}
		keyErr = errAssertionInvalid("The key was not found., Thumbprint of key used by client: '" + x5t + x5t256 + "'")
		return nil, errors.New("key not found")
	}, jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	switch {
	case keyErr != nil:
		return keyErr
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errAssertionTime()
	case errors.Is(err, jwt.ErrTokenMalformed):
		return newError(http.StatusUnauthorized, "invalid_client", 50027, "JWT token is invalid or malformed.")
	case err != nil:
		return errAssertionInvalid("The provided signature value did not match the expected signature value.")
	}
	if claims.Issuer != app.ClientID || claims.Subject != app.ClientID {
		return errAssertionSubject()
	}
	if !slices.ContainsFunc(claims.Audience, func(aud string) bool { return s.isTokenEndpoint(r, aud, segment) }) {
		return newError(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion contains an invalid audience claim: it must be this tenant's token endpoint.")
	}
	return nil
}

// isTokenEndpoint accepts the v2.0 and v1.0 token endpoints of this host for
// the tenant id, its domain or the segment the request used.
func (s *Server) isTokenEndpoint(r *http.Request, aud, segment string) bool {
	u, err := url.Parse(aud)
	if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, r.Host) {
		return false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 3 || parts[1] != "oauth2" {
		return false
	}
	if !strings.EqualFold(parts[0], segment) && s.resolveTenant(parts[0]) != scopeTenant {
		return false
	}
	rest := strings.Join(parts[2:], "/")
	return rest == "v2.0/token" || rest == "token"
}

// assertionSubject reads an assertion's `sub` without verifying it, only to
// find which app to verify it against.
func assertionSubject(assertion string) string {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(assertion, &claims); err != nil {
		return ""
	}
	return claims.Subject
}

func (s *Server) clientCredentials(req *tokenRequest) (*tokenResponse, *oauthError) {
	if req.app.Public {
		return nil, errCredentialRequired()
	}
	raw := req.form.Get("scope")
	if raw == "" {
		return nil, errMissingParameter("scope")
	}
	// MSAL appends openid, profile and offline_access to every request; the
	// service ignores them for app-only tokens.
	var resource []string
	for _, scope := range strings.Fields(raw) {
		if !slices.Contains(oidcScopes, strings.ToLower(scope)) {
			resource = append(resource, scope)
		}
	}
	if len(resource) != 1 || !strings.HasSuffix(resource[0], "/.default") {
		return nil, errClientCredentialsScope(raw)
	}
	res := strings.TrimSuffix(resource[0], "/.default")
	if !strings.EqualFold(strings.TrimSuffix(res, "/"), GraphResource) && !strings.EqualFold(res, GraphAppID) {
		return nil, errUnknownResource(res, s.tenant.ID)
	}
	token, exp, err := s.mintAppAccessToken(req.app, req.method)
	if err != nil {
		return nil, serverError(err)
	}
	return &tokenResponse{
		TokenType: "Bearer", Scope: resource[0], AccessToken: token,
		ExpiresIn: s.expiresIn(exp), ExtExpiresIn: s.expiresIn(exp),
	}, nil
}

// grant is a signed-in user's authorization to redeem.
type grant struct {
	user   tenant.User
	scopes string // the scope parameter to use when the request has none
	nonce  string
}

// userTokens issues a user flow's answer: access token, id token (openid),
// refresh token (offline_access) and client_info.
func (s *Server) userTokens(req *tokenRequest, g grant) (*tokenResponse, *oauthError) {
	raw := req.form.Get("scope")
	if raw == "" {
		raw = g.scopes
	}
	sr, oerr := s.parseScopes(raw)
	if oerr != nil {
		return nil, oerr
	}
	scp, oerr := delegatedGrant(req.app, sr)
	if oerr != nil {
		return nil, oerr
	}
	token, exp, err := s.mintUserAccessToken(req.app, g.user, scp, req.method)
	if err != nil {
		return nil, serverError(err)
	}
	granted := slices.Clone(sr.requested)
	if len(granted) == 0 {
		granted = []string{"openid"}
	}
	for _, o := range sr.oidc {
		if !slices.Contains(granted, o) {
			granted = append(granted, o)
		}
	}
	resp := &tokenResponse{
		TokenType: "Bearer", Scope: strings.Join(granted, " "), AccessToken: token,
		ExpiresIn: s.expiresIn(exp), ExtExpiresIn: s.expiresIn(exp),
		ClientInfo: s.clientInfo(g.user),
	}
	if sr.has("openid") {
		if resp.IDToken, err = s.mintIDToken(baseURL(req.r), req.app, g.user, g.nonce, sr.has("email")); err != nil {
			return nil, serverError(err)
		}
	}
	if sr.has("offline_access") {
		resp.RefreshToken = s.issueRefreshToken(req.app.ClientID, g.user.ID, raw)
	}
	return resp, nil
}

func (s *Server) expiresIn(exp time.Time) int {
	return int(exp.Sub(s.now()).Round(time.Second) / time.Second)
}

func serverError(err error) *oauthError {
	return newError(http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again. (%v)", err)
}
