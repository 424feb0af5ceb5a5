package idp

import (
	"encoding/base64"
	"fmt"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"strings"
)

// openIDConfiguration mirrors the v2.0 discovery document field for field.
type openIDConfiguration struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	UserInfoEndpoint                  string   `json:"userinfo_endpoint"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	KerberosEndpoint                  string   `json:"kerberos_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

func (s *Server) handleOpenIDConfiguration(w http.ResponseWriter, r *http.Request) {
	segment := r.PathValue("tenant")
	base := baseURL(r)
	var pathTenant, issuerTenant string
	var region *string
	switch s.resolveTenant(segment) {
	case scopeTenant:
		// A domain resolves to the tenant id, as the service does.
		pathTenant, issuerTenant = s.tenant.ID, s.tenant.ID
		na := "NA"
		region = &na
	case scopeMultiTenant:
		pathTenant, issuerTenant = strings.ToLower(segment), "{tenantid}"
	default:
		e := errUnknownTenant(segment)
		e.code = "invalid_tenant"
		s.writeError(w, r, e)
		return
	}
	host := r.Host
	doc := openIDConfiguration{
		TokenEndpoint:                     base + "/" + pathTenant + "/oauth2/v2.0/token",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		JWKSURI:                           base + "/" + pathTenant + "/discovery/v2.0/keys",
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "id_token token"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		Issuer:                            base + "/" + issuerTenant + "/v2.0",
		UserInfoEndpoint:                  base + "/oidc/userinfo",
		AuthorizationEndpoint:             base + "/" + pathTenant + "/oauth2/v2.0/authorize",
		DeviceAuthorizationEndpoint:       base + "/" + pathTenant + "/oauth2/v2.0/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                base + "/" + pathTenant + "/oauth2/v2.0/logout",
		ClaimsSupported:                   []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		KerberosEndpoint:                  base + "/" + pathTenant + "/kerberos",
		TenantRegionScope:                 region,
		CloudInstanceName:                 host,
		CloudGraphHostName:                host,
		MSGraphHost:                       host,
		RBACURL:                           base,
	}
	writeJSON(w, http.StatusOK, doc)
}

type instanceMetadata struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

// handleInstanceDiscovery answers MSAL's /common/discovery/instance: this host
// is its own only alias.
func (s *Server) handleInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	tenantSegment := "common"
	if authz := r.URL.Query().Get("authorization_endpoint"); authz != "" {
		u, err := url.Parse(authz)
		if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, r.Host) {
			s.writeError(w, r, errInvalidInstance())
			return
		}
		if parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/"); parts[0] != "" {
			tenantSegment = parts[0]
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": baseURL(r) + "/" + tenantSegment + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []instanceMetadata{{PreferredNetwork: r.Host, PreferredCache: r.Host, Aliases: []string{r.Host}}},
	})
}

type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer"`
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	segment := r.PathValue("tenant")
	issuerTenant := "{tenantid}"
	switch s.resolveTenant(segment) {
	case scopeTenant:
		issuerTenant = s.tenant.ID
	case scopeUnknownTenant:
		e := errUnknownTenant(segment)
		e.code = "invalid_tenant"
		s.writeError(w, r, e)
		return
	}
	pub := &s.key.Key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []jwk{{
		Kty:    "RSA",
		Use:    "sig",
		Kid:    s.key.X5t(),
		X5t:    s.key.X5t(),
		N:      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		X5c:    []string{base64.StdEncoding.EncodeToString(s.key.Cert.Raw)},
		Issuer: baseURL(r) + "/" + issuerTenant + "/v2.0",
	}}})
}

// handleLogout ends nothing (the emulator keeps no browser session) and
// redirects to post_logout_redirect_uri when it is a loopback URL.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if next := r.URL.Query().Get("post_logout_redirect_uri"); next != "" && isLoopbackHTTP(next) {
		http.Redirect(w, r, next, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<!DOCTYPE html><title>Signed out</title><p>You signed out of your account. (hookctl emulator)</p>")
}

// handleUserInfo is the OIDC userinfo endpoint: it takes a delegated access token.
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, graphError("InvalidAuthenticationToken", "Access token is empty."))
		return
	}
	p, err := s.Authenticate(token)
	if err != nil || !p.Delegated {
		msg := "Access token validation failure."
		if err != nil {
			msg = err.Error()
		}
		writeJSON(w, http.StatusUnauthorized, graphError("InvalidAuthenticationToken", msg))
		return
	}
	user, _ := s.tenant.UserByIDOrUPN(p.UserID)
	family, given := splitName(user.DisplayName)
	writeJSON(w, http.StatusOK, map[string]string{
		"sub":         pairwiseSubject(user.ID, p.AppID),
		"name":        user.DisplayName,
		"family_name": family,
		"given_name":  given,
		"email":       user.Mail,
	})
}

func graphError(code, message string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": message}}
}

func splitName(display string) (family, given string) {
	given, family, _ = strings.Cut(display, " ")
	return family, given
}

// errorPage is the HTML an interactive endpoint shows when it cannot send the
// error back to the app (no valid redirect URI).
func errorPage(w http.ResponseWriter, e *oauthError) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(e.status)
	fmt.Fprintf(w, "<!DOCTYPE html><title>Sign in</title><h1>Sorry, but we’re having trouble signing you in.</h1><p>AADSTS%d: %s</p>", e.aadsts, html.EscapeString(e.message))
}
