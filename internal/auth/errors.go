package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/hookctl/hookctl/internal/exitcode"
)

// Error is an identity-platform failure explained for a person: one line of
// cause and one of what to do. The AADSTS code and correlation id are kept for
// --debug; the underlying error is never printed because MSAL's errors carry
// whole HTTP responses.
type Error struct {
	Cause string // what happened and why
	Next  string // what to do next
	Code  int    // exit code (exitcode.SignIn when only a new sign-in helps)

	OAuthError    string // e.g. invalid_grant
	AADSTS        string // e.g. AADSTS700016
	CorrelationID string
	TraceID       string
	Host          string // the identity platform host, when known

	Err error
}

func (e *Error) Error() string {
	if e.Next == "" {
		return e.Cause
	}
	return e.Cause + "\n  " + e.Next
}

// Unwrap exposes the underlying error to errors.Is (context cancellation).
func (e *Error) Unwrap() error { return e.Err }

// AsExit wraps e so the process exits with e.Code.
func (e *Error) AsExit() error { return exitcode.New(e.Code, e) }

// oauthBody is the identity platform's error answer.
type oauthBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	ErrorCodes    []int  `json:"error_codes"`
	CorrelationID string `json:"correlation_id"`
	TraceID       string `json:"trace_id"`
}

var (
	aadstsPattern      = regexp.MustCompile(`AADSTS(\d+)`)
	correlationPattern = regexp.MustCompile(`(?i)correlation id:\s*([0-9a-f-]{36})`)
)

// loginHint is the usual next step when only a new sign-in helps.
const loginHint = "run `hookctl login` (see docs/authentication.md)"

// Explain turns any error from a sign-in or token request into an *Error. host
// names the identity platform (the authority's host) for network failures.
// Errors that are already *Error pass through.
func Explain(err error, host string) *Error {
	if err == nil {
		return nil
	}
	var known *Error
	if errors.As(err, &known) {
		return known
	}
	e := &Error{Code: exitcode.Error, Host: host, Err: err}
	body := parseBody(err)
	e.OAuthError = body.Error
	e.CorrelationID = body.CorrelationID
	e.TraceID = body.TraceID
	text := err.Error()
	if len(body.ErrorCodes) > 0 {
		e.AADSTS = fmt.Sprintf("AADSTS%d", body.ErrorCodes[0])
	} else if m := aadstsPattern.FindStringSubmatch(text); m != nil {
		e.AADSTS = m[0]
	}
	if e.CorrelationID == "" {
		if m := correlationPattern.FindStringSubmatch(text); m != nil {
			e.CorrelationID = m[1]
		}
	}
	if explainIdentity(e, body) {
		return e
	}
	if explainTransport(e, err) {
		return e
	}
	if errors.Is(err, context.Canceled) {
		e.Cause, e.Next = "sign-in cancelled", ""
		return e
	}
	e.Cause = "sign-in failed: " + summary(body, text)
	e.Next = "run again with --debug for the identity platform's error code and correlation id"
	return e
}

// explainIdentity maps AADSTS codes and OAuth error names to causes.
func explainIdentity(e *Error, body oauthBody) bool {
	code := strings.TrimPrefix(e.AADSTS, "AADSTS")
	set := func(exit int, cause, next string) bool {
		e.Code, e.Cause, e.Next = exit, cause, next
		return true
	}
	switch code {
	case "700016":
		return set(exitcode.Error, "the identity platform does not know this client id in this tenant",
			"check --client-id and --tenant against your app registration (docs/register-app.md)")
	case "65001", "65005", "650052", "650057", "90094", "90099", "500011":
		return set(exitcode.Error, "the app lacks consent for the requested permissions (an admin may have to grant it)",
			"grant consent in Entra ID: App registrations > API permissions > Grant admin consent (docs/register-app.md)")
	case "65004":
		return set(exitcode.Error, "consent was declined at sign-in", "run `hookctl login` again and accept the requested permissions")
	case "90002", "50059", "900023", "90072", "50020", "50034", "50128":
		return set(exitcode.Error, "wrong tenant: the tenant does not exist or does not hold this account or app",
			"pass --tenant with your tenant id or domain (Entra ID > Overview), or --tenant organizations")
	case "50105":
		return set(exitcode.Error, "your account is not assigned to this app (the app requires user assignment)",
			"ask an admin to add you under Entra ID > Enterprise applications > the app > Users and groups")
	case "50194":
		return set(exitcode.Error, "this app registration is single-tenant: it cannot sign in through organizations or common",
			"pass --tenant with your tenant id or domain (Entra ID > Overview)")
	case "70019", "70020":
		return set(exitcode.Error, "the device code expired before anyone signed in", "run `hookctl login` again and enter the new code promptly")
	case "7000215", "7000222":
		return set(exitcode.Error, "the client secret was rejected (wrong, or expired)",
			secretNext("the environment variable named by --client-secret-env"))
	case "700025":
		return set(exitcode.Error, "this client id is a public client: it cannot sign in as an app",
			"use the client id of an app registration that has a secret or certificate (docs/register-app.md)")
	case "700027", "700023", "50012", "700021":
		return set(exitcode.Error, "the client certificate or assertion was rejected (not uploaded to the app, or signed by another key)",
			"upload the certificate's public part to the app registration (Certificates & secrets) and check --certificate")
	case "700024", "500133":
		return set(exitcode.Error, "the identity platform says a token is outside its valid time range: this machine's clock may be wrong, or the federated token expired",
			"check the clock (e.g. `timedatectl`), refresh the federated token file, then retry")
	case "7000218":
		return set(exitcode.Error, "the app registration does not allow public client flows (device code)",
			"turn on Authentication > Allow public client flows in the app registration (docs/register-app.md)")
	case "50011", "500113", "50148":
		return set(exitcode.Error, "the redirect URI does not match the app registration",
			"add http://localhost as a 'Mobile and desktop applications' redirect URI (docs/register-app.md)")
	case "50076", "50079", "50078", "50158", "53003", "50097", "530003":
		return set(exitcode.SignIn, "the tenant requires an interactive sign-in (multi-factor authentication or a Conditional Access policy)", loginHint)
	case "700082", "50173", "70008", "700084", "54005", "50133", "50132", "70043", "50089":
		return set(exitcode.SignIn, "the saved sign-in expired or was revoked (the refresh token is no longer accepted)", loginHint)
	case "50126", "50053", "50057", "50055":
		return set(exitcode.SignIn, "the account cannot sign in (disabled, locked or its password expired)", loginHint)
	}
	switch body.Error {
	case "authorization_declined", "access_denied":
		return set(exitcode.Error, "the sign-in was declined", "run `hookctl login` again and approve the request")
	case "expired_token", "code_expired":
		return set(exitcode.Error, "the device code expired before anyone signed in", "run `hookctl login` again and enter the new code promptly")
	case "invalid_grant", "interaction_required", "login_required", "consent_required":
		return set(exitcode.SignIn, "the saved sign-in is no longer accepted (the refresh token was rejected)", loginHint)
	case "invalid_client", "unauthorized_client":
		return set(exitcode.Error, "the identity platform rejected the client ("+body.Error+")",
			"check --client-id and the app's credential against your app registration (docs/register-app.md)")
	case "invalid_scope":
		return set(exitcode.Error, "the requested scopes are not valid for this app", "check --scopes (docs/authentication.md lists the defaults)")
	}
	return false
}

// secretNext is the next step after a rejected client secret; where says
// where the secret should go (the variable, or stdin).
func secretNext(where string) string {
	return "use the secret's Value, not its Secret ID, and make a new one if it expired (Certificates & secrets); pass it in " + where
}

// explainTransport names network and TLS failures and the host they happened on.
func explainTransport(e *Error, err error) bool {
	host := e.Host
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil && u.Host != "" {
			host = u.Host
		}
	}
	e.Host = host
	where := "the identity platform"
	if host != "" {
		where = host
	}
	tlsNext := "if this host is yours (the emulator), point HOOKCTL_CA_FILE at its CA certificate; otherwise check proxies that intercept TLS"
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certErr   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		dnsErr    *net.DNSError
		opErr     *net.OpError
	)
	switch {
	case errors.As(err, &unknownCA):
		e.Cause, e.Next = fmt.Sprintf("TLS to %s failed: its certificate is signed by an unknown authority", where), tlsNext
	case errors.As(err, &hostErr):
		e.Cause, e.Next = fmt.Sprintf("TLS to %s failed: its certificate is for another host", where), "check --authority"
	case errors.As(err, &certErr):
		e.Cause, e.Next = fmt.Sprintf("TLS to %s failed: its certificate is not valid (%v)", where, certErr.Reason), "check --authority and this machine's clock"
	case errors.As(err, &verifyErr):
		e.Cause, e.Next = fmt.Sprintf("TLS to %s failed: its certificate did not verify", where), tlsNext
	case errors.As(err, &recordErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		e.Cause, e.Next = fmt.Sprintf("TLS to %s failed: the server does not speak HTTPS", where), "check --authority (it must be an https:// URL)"
	case errors.As(err, &dnsErr):
		e.Cause, e.Next = fmt.Sprintf("cannot resolve %s", where), "check your network connection, DNS and --authority"
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Cause, e.Next = fmt.Sprintf("cannot reach %s: connection refused", where), "check --authority and that the server is running"
	case errors.Is(err, context.DeadlineExceeded) && urlErr != nil, urlErr != nil && urlErr.Timeout():
		e.Cause, e.Next = fmt.Sprintf("cannot reach %s: the request timed out", where), "check your network connection and proxy settings"
	case errors.As(err, &opErr), urlErr != nil:
		e.Cause, e.Next = fmt.Sprintf("cannot reach %s: network error", where), "check your network connection and proxy settings"
	default:
		return false
	}
	return true
}

// parseBody finds the identity platform's JSON error answer in an MSAL error.
// MSAL reads the response body itself (the device-code poller drains it), so
// the error text, which quotes the body, is searched as well.
func parseBody(err error) oauthBody {
	var body oauthBody
	var callErr msalerrors.CallErr
	if errors.As(err, &callErr) && callErr.Resp != nil && callErr.Resp.Body != nil {
		var raw [1 << 16]byte
		n, _ := callErr.Resp.Body.Read(raw[:])
		if json.Unmarshal(raw[:n], &body) == nil && body.Error != "" {
			return body
		}
	}
	text := err.Error()
	if i := strings.Index(text, "{"); i >= 0 {
		dec := json.NewDecoder(strings.NewReader(text[i:]))
		if dec.Decode(&body) == nil {
			return body
		}
	}
	return oauthBody{}
}

// summary is a short, safe rendering of an unrecognised failure: the identity
// platform's description without its trace lines, else the error's first line.
func summary(body oauthBody, text string) string {
	s := body.Description
	if s == "" {
		s = text
		if i := strings.Index(s, "\n"); i >= 0 {
			s = s[:i]
		}
	}
	if i := strings.Index(s, " Trace ID:"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}
