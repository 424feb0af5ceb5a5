package idp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// oauthError is an error of the identity platform: an OAuth error code, an
// AADSTS number and its message, answered with an HTTP status.
type oauthError struct {
	status   int
	code     string // OAuth2 "error": invalid_grant, invalid_client, ...
	aadsts   int
	message  string // the text after "AADSTSnnnn: "
	suberror string // e.g. consent_required
}

func (e *oauthError) Error() string {
	return fmt.Sprintf("%s: AADSTS%d: %s", e.code, e.aadsts, e.message)
}

func newError(status int, code string, aadsts int, format string, args ...any) *oauthError {
	return &oauthError{status: status, code: code, aadsts: aadsts, message: fmt.Sprintf(format, args...)}
}

// The errors the emulator answers, named after what went wrong. Numbers and
// texts follow the identity platform's (docs/emulator.md lists them).

func errMissingParameter(name string) *oauthError {
	return newError(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: '%s'.", name)
}

func errUnknownTenant(name string) *oauthError {
	return newError(http.StatusBadRequest, "invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", name)
}

func errNoTenantInfo() *oauthError {
	return newError(http.StatusBadRequest, "invalid_request", 50059, "No tenant-identifying information found in either the request or implied by any provided credentials.")
}

func errUnknownClient(clientID, tenantID string) *oauthError {
	return newError(http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenantID)
}

func errInvalidSecret(clientID string) *oauthError {
	return newError(http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)
}

func errCredentialRequired() *oauthError {
	return newError(http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
}

func errPublicClientCredential() *oauthError {
	return newError(http.StatusUnauthorized, "invalid_client", 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
}

func errAssertionTime() *oauthError {
	return newError(http.StatusUnauthorized, "invalid_client", 700024, "Client assertion is not within its valid time range.")
}

func errAssertionInvalid(reason string) *oauthError {
	return newError(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation. [Reason - %s]", reason)
}

func errAssertionSubject() *oauthError {
	return newError(http.StatusUnauthorized, "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
}

func errUnsupportedGrant(grant string) *oauthError {
	return newError(http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'.", grant)
}

func errMalformedGrant(what string) *oauthError {
	return newError(http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid. The %s is not valid.", what)
}

func errGrantMismatch(what string) *oauthError {
	return newError(http.StatusBadRequest, "invalid_grant", 70000, "Provided grant is invalid or malformed. %s", what)
}

func errCodeExpired() *oauthError {
	return newError(http.StatusBadRequest, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
}

func errCodeRedeemed() *oauthError {
	return newError(http.StatusBadRequest, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
}

func errPKCE() *oauthError {
	return newError(http.StatusBadRequest, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
}

func errRefreshExpired(issued time.Time) *oauthError {
	return newError(http.StatusBadRequest, "invalid_grant", 700082, "The refresh token has expired due to inactivity. The token was issued on %s and was inactive for the maximum allowed lifetime.", issued.UTC().Format(time.RFC3339Nano))
}

func errRefreshRevoked() *oauthError {
	return newError(http.StatusBadRequest, "invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.")
}

func errConsentRequired(clientID, appName string) *oauthError {
	e := newError(http.StatusBadRequest, "invalid_grant", 65001, "The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", clientID, appName)
	e.suberror = "consent_required"
	return e
}

func errUnknownUser(name, tenantID string) *oauthError {
	return newError(http.StatusBadRequest, "invalid_grant", 50034, "The user account %s does not exist in the %s directory. To sign into this application, the account must be added to the directory.", name, tenantID)
}

func errInvalidScope(format string, args ...any) *oauthError {
	return newError(http.StatusBadRequest, "invalid_scope", 70011, format, args...)
}

func errClientCredentialsScope(scope string) *oauthError {
	return newError(http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)
}

func errUnknownResource(resource, tenantID string) *oauthError {
	return newError(http.StatusBadRequest, "invalid_resource", 500011, "The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, tenantID)
}

func errAuthorizationPending() *oauthError {
	return newError(http.StatusBadRequest, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
}

func errSlowDown() *oauthError {
	return newError(http.StatusBadRequest, "slow_down", 70016, "OAuth 2.0 device flow error. Polling too frequently: wait the interval between requests.")
}

func errDeviceCodeExpired() *oauthError {
	return newError(http.StatusBadRequest, "expired_token", 70019, "Verification code expired.")
}

func errAuthorizationDeclined() *oauthError {
	return newError(http.StatusBadRequest, "authorization_declined", 70000, "The end user denied the authorization request.")
}

func errMethodNotAllowed(method string) *oauthError {
	return newError(http.StatusBadRequest, "invalid_request", 900561, "The endpoint only accepts POST, OPTIONS requests. Received a %s request.", method)
}

func errRedirectMismatch(uri, clientID string) *oauthError {
	return newError(http.StatusBadRequest, "invalid_request", 50011, "The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.", uri, clientID)
}

func errInvalidInstance() *oauthError {
	return newError(http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance.")
}

// uri is the error's page on Microsoft's error lookup, as the service links it.
func (e *oauthError) uri() string {
	return fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", e.aadsts)
}

// errorBody is the JSON the token, device-code and discovery endpoints answer with.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
	SubError         string `json:"suberror,omitempty"`
}

// body renders the error the way the service does: the description carries
// the AADSTS number and ends with trace id, correlation id and timestamp.
func (e *oauthError) body(r *http.Request, now time.Time) errorBody {
	traceID := uuid.NewString()
	correlationID := r.Header.Get("client-request-id")
	if _, err := uuid.Parse(correlationID); err != nil {
		correlationID = uuid.NewString()
	}
	timestamp := now.UTC().Format("2006-01-02 15:04:05Z")
	var desc strings.Builder
	fmt.Fprintf(&desc, "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.aadsts, e.message, traceID, correlationID, timestamp)
	return errorBody{
		Error:            e.code,
		ErrorDescription: desc.String(),
		ErrorCodes:       []int{e.aadsts},
		Timestamp:        timestamp,
		TraceID:          traceID,
		CorrelationID:    correlationID,
		ErrorURI:         e.uri(),
		SubError:         e.suberror,
	}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *oauthError) {
	body := e.body(r, s.now())
	s.log.Debug("identity error", "path", r.URL.Path, "error", e.code, "aadsts", e.aadsts)
	w.Header().Set("x-ms-request-id", body.TraceID)
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
