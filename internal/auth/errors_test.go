package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/hookctl/hookctl/internal/exitcode"
)

// callErr builds the error MSAL returns for a non-2xx identity platform answer.
func callErr(status int, body string, drained bool) error {
	req, _ := http.NewRequest(http.MethodPost, "https://login.example/tenant/oauth2/v2.0/token", nil)
	respBody := io.NopCloser(bytes.NewBufferString(body))
	if drained {
		respBody = io.NopCloser(&bytes.Buffer{})
	}
	return msalerrors.CallErr{
		Req:  req,
		Resp: &http.Response{StatusCode: status, Body: respBody},
		Err:  fmt.Errorf("http call(%s)(POST) error: reply status code was %d:\n%s", req.URL, status, body),
	}
}

func aadBody(oauthErr string, code int, desc string) string {
	return fmt.Sprintf(`{"error":%q,"error_description":"AADSTS%d: %s Trace ID: 0a0b Correlation ID: 6f1e2d3c-0000-4000-8000-000000000001 Timestamp: 2026-01-01","error_codes":[%d],"timestamp":"2026-01-01","trace_id":"0a0b","correlation_id":"6f1e2d3c-0000-4000-8000-000000000001"}`,
		oauthErr, code, desc, code)
}

func TestExplainIdentityErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		code     int
		cause    string
		next     string
		aadsts   string
		oauthErr string
	}{
		{"unknown client id", callErr(400, aadBody("unauthorized_client", 700016, "Application with identifier 'x' was not found."), false),
			exitcode.Error, "does not know this client id", "docs/register-app.md", "AADSTS700016", "unauthorized_client"},
		{"consent missing", callErr(400, aadBody("invalid_grant", 65001, "The user or administrator has not consented."), false),
			exitcode.Error, "lacks consent", "Grant admin consent", "AADSTS65001", "invalid_grant"},
		{"admin consent", callErr(400, aadBody("invalid_grant", 90094, "Admin consent is required."), true),
			exitcode.Error, "lacks consent", "Grant admin consent", "AADSTS90094", "invalid_grant"},
		{"wrong tenant", callErr(400, aadBody("invalid_request", 90002, "Tenant 'nope' not found."), false),
			exitcode.Error, "wrong tenant", "--tenant", "AADSTS90002", "invalid_request"},
		{"no tenant info", callErr(400, aadBody("invalid_request", 50059, "No tenant-identifying information found."), false),
			exitcode.Error, "wrong tenant", "--tenant", "AADSTS50059", "invalid_request"},
		{"not assigned", callErr(400, aadBody("invalid_grant", 50105, "The signed in user is not assigned to a role for the application."), false),
			exitcode.Error, "not assigned to this app", "Users and groups", "AADSTS50105", "invalid_grant"},
		{"invalid domain", callErr(400, aadBody("invalid_request", 50128, "Invalid domain name."), false),
			exitcode.Error, "wrong tenant", "--tenant", "AADSTS50128", "invalid_request"},
		{"single-tenant app via organizations", callErr(400, aadBody("invalid_request", 50194, "Application 'x' is not configured as a multi-tenant application."), false),
			exitcode.Error, "single-tenant", "--tenant", "AADSTS50194", "invalid_request"},
		{"device code expired (drained body)", callErr(400, aadBody("expired_token", 70019, "Verification code expired."), true),
			exitcode.Error, "device code expired", "hookctl login", "AADSTS70019", "expired_token"},
		{"device code expired, no AADSTS", callErr(400, `{"error":"expired_token","error_description":"The device code has expired."}`, true),
			exitcode.Error, "device code expired", "hookctl login", "", "expired_token"},
		{"declined", callErr(400, `{"error":"authorization_declined","error_description":"The end user denied the authorization request."}`, true),
			exitcode.Error, "declined", "hookctl login", "", "authorization_declined"},
		{"bad secret", callErr(401, aadBody("invalid_client", 7000215, "Invalid client secret provided."), false),
			exitcode.Error, "client secret was rejected", "not its Secret ID", "AADSTS7000215", "invalid_client"},
		{"bad certificate", callErr(401, aadBody("invalid_client", 700027, "Client assertion failed signature validation."), false),
			exitcode.Error, "certificate or assertion was rejected", "--certificate", "AADSTS700027", "invalid_client"},
		{"assertion time range", callErr(400, aadBody("invalid_client", 700024, "Client assertion is not within its valid time range."), false),
			exitcode.Error, "clock", "timedatectl", "AADSTS700024", "invalid_client"},
		{"refresh token expired", callErr(400, aadBody("invalid_grant", 700082, "The refresh token has expired due to inactivity."), false),
			exitcode.SignIn, "no longer accepted", "hookctl login", "AADSTS700082", "invalid_grant"},
		{"refresh token rejected, unknown code", callErr(400, `{"error":"invalid_grant","error_description":"refresh token revoked"}`, false),
			exitcode.SignIn, "no longer accepted", "hookctl login", "", "invalid_grant"},
		{"mfa", callErr(400, aadBody("interaction_required", 50076, "Due to a configuration change you must use MFA."), false),
			exitcode.SignIn, "interactive sign-in", "hookctl login", "AADSTS50076", "interaction_required"},
		{"public client flows off", callErr(401, aadBody("invalid_client", 7000218, "The request body must contain client_assertion or client_secret."), false),
			exitcode.Error, "public client flows", "Allow public client flows", "AADSTS7000218", "invalid_client"},
		{"browser declined consent (description only)", errors.New("AADSTS65004: User declined to consent to access the app."),
			exitcode.Error, "consent was declined", "hookctl login", "AADSTS65004", ""},
		{"unknown", callErr(400, aadBody("invalid_request", 123456, "Something new happened."), false),
			exitcode.Error, "sign-in failed: AADSTS123456: Something new happened.", "--debug", "AADSTS123456", "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := Explain(tt.err, "login.example")
			if e.Code != tt.code {
				t.Errorf("code = %d, want %d", e.Code, tt.code)
			}
			if !strings.Contains(e.Cause, tt.cause) {
				t.Errorf("cause = %q, want it to contain %q", e.Cause, tt.cause)
			}
			if !strings.Contains(e.Next, tt.next) {
				t.Errorf("next = %q, want it to contain %q", e.Next, tt.next)
			}
			if e.AADSTS != tt.aadsts || e.OAuthError != tt.oauthErr {
				t.Errorf("codes = %q %q, want %q %q", e.AADSTS, e.OAuthError, tt.aadsts, tt.oauthErr)
			}
			if tt.aadsts != "" && strings.Contains(tt.err.Error(), "Correlation ID") && e.CorrelationID != "6f1e2d3c-0000-4000-8000-000000000001" {
				t.Errorf("correlation id = %q", e.CorrelationID)
			}
			msg := e.Error()
			if strings.Count(msg, "\n") > 1 || strings.Contains(msg, "Trace ID") || strings.Contains(msg, "http call") {
				t.Errorf("message is not one or two clean lines: %q", msg)
			}
		})
	}
}

func TestExplainTransportErrors(t *testing.T) {
	t.Parallel()
	// A TLS server whose CA the client does not trust.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, tlsErr := (&http.Client{}).Get(srv.URL)

	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	_, refusedErr := (&http.Client{}).Get("https://" + closed + "/x")

	// Plain HTTP where HTTPS was expected.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	_, plainErr := (&http.Client{}).Get(strings.Replace(plain.URL, "http://", "https://", 1))

	dnsErr := &url.Error{Op: "Post", URL: "https://login.nowhere.invalid/t/oauth2/v2.0/token",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "login.nowhere.invalid", IsNotFound: true}}}

	tests := []struct {
		name  string
		err   error
		cause string
		next  string
	}{
		{"unknown CA", fmt.Errorf("unable to resolve an endpoint: %w", tlsErr), "TLS to " + strings.TrimPrefix(srv.URL, "https://") + " failed: its certificate is signed by an unknown authority", "HOOKCTL_CA_FILE"},
		{"refused", refusedErr, "cannot reach " + closed + ": connection refused", "--authority"},
		{"not https", plainErr, "does not speak HTTPS", "https://"},
		{"dns", dnsErr, "cannot resolve login.nowhere.invalid", "DNS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.err == nil {
				t.Fatal("the setup produced no error")
			}
			e := Explain(tt.err, "fallback.example")
			if !strings.Contains(e.Cause, tt.cause) || !strings.Contains(e.Next, tt.next) {
				t.Errorf("got %q / %q, want %q / %q", e.Cause, e.Next, tt.cause, tt.next)
			}
		})
	}
}

func TestExplainCancelledAndPassThrough(t *testing.T) {
	t.Parallel()
	if e := Explain(context.Canceled, "h"); e.Cause != "sign-in cancelled" {
		t.Errorf("cancel: %q", e.Cause)
	}
	known := &Error{Code: exitcode.SignIn, Cause: "x"}
	if Explain(fmt.Errorf("wrapped: %w", known), "h") != known {
		t.Error("an *Error should pass through")
	}
	if Explain(nil, "h") != nil {
		t.Error("nil should stay nil")
	}
	if got := exitcode.Code(known.AsExit()); got != exitcode.SignIn {
		t.Errorf("AsExit code = %d", got)
	}
}
