package idp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

type authCode struct {
	clientID    string
	redirectURI string
	userID      string
	scopes      string
	nonce       string
	challenge   string
	method      string
	expires     time.Time
	redeemed    bool
}

// handleAuthorize signs a user in without a page: the user named by
// login_hint, else the tenant's first user. It answers with the code (or an
// error) by redirect (query, fragment) or by an auto-submitting form (form_post).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		errorPage(w, errMissingParameter("client_id"))
		return
	}
	q := r.Form
	segment := r.PathValue("tenant")
	if s.resolveTenant(segment) == scopeUnknownTenant {
		errorPage(w, errUnknownTenant(segment))
		return
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		errorPage(w, errMissingParameter("client_id"))
		return
	}
	app, ok := s.app(clientID)
	if !ok {
		errorPage(w, errUnknownClient(clientID, s.tenant.ID))
		return
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" {
		errorPage(w, errMissingParameter("redirect_uri"))
		return
	}
	if !redirectAllowed(app, redirectURI) {
		errorPage(w, errRedirectMismatch(redirectURI, app.ClientID))
		return
	}
	mode := q.Get("response_mode")
	if mode == "" {
		mode = "query"
	}
	if mode != "query" && mode != "fragment" && mode != "form_post" {
		errorPage(w, newError(http.StatusBadRequest, "invalid_request", 90008, "The response_mode '%s' is not supported.", mode))
		return
	}
	reply := func(params url.Values) {
		if state := q.Get("state"); state != "" {
			params.Set("state", state)
		}
		s.reply(w, r, redirectURI, mode, params)
	}
	fail := func(e *oauthError) {
		reply(url.Values{
			"error":             {e.code},
			"error_description": {fmt.Sprintf("AADSTS%d: %s", e.aadsts, e.message)},
			"error_codes":       {strconv.Itoa(e.aadsts)},
			"error_uri":         {e.uri()},
		})
	}

	if rt := q.Get("response_type"); rt != "code" {
		if rt == "" {
			fail(errMissingParameter("response_type"))
		} else {
			fail(newError(http.StatusBadRequest, "unsupported_response_type", 700054, "response_type '%s' is not enabled for the application.", rt))
		}
		return
	}
	rawScope := q.Get("scope")
	if rawScope == "" {
		fail(errMissingParameter("scope"))
		return
	}
	sr, oerr := s.parseScopes(rawScope)
	if oerr != nil {
		fail(oerr)
		return
	}
	if _, oerr := delegatedGrant(app, sr); oerr != nil {
		oerr.code = "consent_required"
		fail(oerr)
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" {
		if method == "" {
			method = "plain"
		}
		if method != "plain" && method != "S256" {
			fail(newError(http.StatusBadRequest, "invalid_request", 501491, "Invalid code_challenge_method '%s': use S256 or plain.", method))
			return
		}
		if len(challenge) < 43 || len(challenge) > 128 {
			fail(newError(http.StatusBadRequest, "invalid_request", 501491, "Invalid size of Code_Challenge parameter."))
			return
		}
	}
	user, ok := s.signedInUser(q.Get("login_hint"))
	if !ok {
		e := errUnknownUser(q.Get("login_hint"), s.tenant.ID)
		e.code = "invalid_request"
		fail(e)
		return
	}
	code := randomToken("1.AQ", 96)
	s.mu.Lock()
	s.sweepLocked(s.now())
	s.authCodes[code] = &authCode{
		clientID: app.ClientID, redirectURI: redirectURI, userID: user.ID,
		scopes: rawScope, nonce: q.Get("nonce"), challenge: challenge, method: method,
		expires: s.now().Add(s.cfg.AuthCodeLifetime),
	}
	s.mu.Unlock()
	s.log.Debug("authorization code issued", "client", app.ClientID, "user", user.UserPrincipalName)
	reply(url.Values{"code": {code}, "session_state": {randomToken("", 16)}})
}

// signedInUser is the login_hint's user, or the tenant's first.
func (s *Server) signedInUser(loginHint string) (tenant.User, bool) {
	if loginHint != "" {
		return s.tenant.UserByIDOrUPN(loginHint)
	}
	if len(s.tenant.Users) == 0 {
		return tenant.User{}, false
	}
	return s.tenant.Users[0], true
}

// reply sends params to the redirect URI in the requested response mode.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, redirectURI, mode string, params url.Values) {
	switch mode {
	case "form_post":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		var fields strings.Builder
		for name, values := range params {
			for _, v := range values {
				fmt.Fprintf(&fields, `<input type="hidden" name="%s" value="%s"/>`, html.EscapeString(name), html.EscapeString(v))
			}
		}
		fmt.Fprintf(w, `<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="%s">%s<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"/></noscript></form><script language="javascript">document.forms[0].submit();</script></body></html>`,
			html.EscapeString(redirectURI), fields.String())
	case "fragment":
		http.Redirect(w, r, redirectURI+"#"+params.Encode(), http.StatusFound)
	default:
		u, _ := url.Parse(redirectURI)
		query := u.Query()
		for name, values := range params {
			query[name] = values
		}
		u.RawQuery = query.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
}

// redirectAllowed matches a redirect URI against the app's registrations.
// Loopback registrations (http://localhost, http://127.0.0.1) match any port,
// as the service does for native apps; other URIs must match exactly.
func redirectAllowed(app tenant.App, redirectURI string) bool {
	registered := app.RedirectURIs
	if len(registered) == 0 {
		registered = []string{"http://localhost", "http://127.0.0.1"}
	}
	got, err := url.Parse(redirectURI)
	if err != nil || got.Fragment != "" {
		return false
	}
	for _, reg := range registered {
		if reg == redirectURI {
			return true
		}
		want, err := url.Parse(reg)
		if err != nil || want.Scheme != "http" || !isLoopbackHost(want.Hostname()) {
			continue
		}
		if got.Scheme == "http" && strings.EqualFold(got.Hostname(), want.Hostname()) &&
			strings.TrimSuffix(got.Path, "/") == strings.TrimSuffix(want.Path, "/") {
			return true
		}
	}
	return false
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isLoopbackHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && isLoopbackHost(u.Hostname())
}

func (s *Server) redeemAuthCode(req *tokenRequest) (*tokenResponse, *oauthError) {
	code := req.form.Get("code")
	if code == "" {
		return nil, errMissingParameter("code")
	}
	redirectURI := req.form.Get("redirect_uri")
	if redirectURI == "" {
		return nil, errMissingParameter("redirect_uri")
	}
	s.mu.Lock()
	ac := s.authCodes[code]
	switch {
	case ac == nil:
		s.mu.Unlock()
		return nil, errMalformedGrant("authorization code")
	case ac.redeemed:
		s.mu.Unlock()
		return nil, errCodeRedeemed()
	case !s.now().Before(ac.expires):
		s.mu.Unlock()
		return nil, errCodeExpired()
	case !strings.EqualFold(ac.clientID, req.app.ClientID):
		s.mu.Unlock()
		return nil, errGrantMismatch("The authorization code was issued to another application.")
	case ac.redirectURI != redirectURI:
		s.mu.Unlock()
		return nil, errGrantMismatch("The redirect_uri does not match the one the authorization code was issued for.")
	}
	if ac.challenge != "" && !pkceMatches(ac.challenge, ac.method, req.form.Get("code_verifier")) {
		s.mu.Unlock()
		return nil, errPKCE()
	}
	ac.redeemed = true
	userID, scopes, nonce := ac.userID, ac.scopes, ac.nonce
	s.mu.Unlock()

	user, ok := s.tenant.UserByIDOrUPN(userID)
	if !ok {
		return nil, errUnknownUser(userID, s.tenant.ID)
	}
	return s.userTokens(req, grant{user: user, scopes: scopes, nonce: nonce})
}

func pkceMatches(challenge, method, verifier string) bool {
	if verifier == "" {
		return false
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}
