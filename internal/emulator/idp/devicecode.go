package idp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"net/http"
	"sort"
	"strings"
	"time"
)

// deviceStatus is where a device code stands.
type deviceStatus string

// The states of a device code, as the control API reports them.
const (
	DevicePending  deviceStatus = "pending"
	DeviceApproved deviceStatus = "approved"
	DeviceDenied   deviceStatus = "denied"
	DeviceRedeemed deviceStatus = "redeemed"
)

type deviceAuth struct {
	deviceCode string
	userCode   string
	clientID   string
	scopes     string
	expires    time.Time
	lastPoll   time.Time
	status     deviceStatus
	userID     string
}

// DeviceCode describes a device code for the control API.
type DeviceCode struct {
	UserCode  string    `json:"userCode"`
	ClientID  string    `json:"clientId"`
	Scope     string    `json:"scope"`
	ExpiresAt time.Time `json:"expiresAt"`
	Status    string    `json:"status"`
	User      string    `json:"user,omitempty"`
}

// Errors of ApproveDeviceCode and DenyDeviceCode.
var (
	ErrUnknownUserCode = errors.New("no device code has that user code")
	ErrUnknownUser     = errors.New("no such user in the tenant")
	ErrCodeExpired     = errors.New("the device code expired")
	ErrCodeDecided     = errors.New("the device code was already approved or denied")
)

func (s *Server) handleDeviceCode(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, errMethodNotAllowed(r.Method))
		return
	}
	segment := r.PathValue("tenant")
	if s.resolveTenant(segment) == scopeUnknownTenant {
		s.writeError(w, r, errUnknownTenant(segment))
		return
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.writeError(w, r, errMissingParameter("client_id"))
		return
	}
	clientID := r.PostForm.Get("client_id")
	if clientID == "" {
		s.writeError(w, r, errMissingParameter("client_id"))
		return
	}
	app, ok := s.app(clientID)
	if !ok {
		s.writeError(w, r, errUnknownClient(clientID, s.tenant.ID))
		return
	}
	raw := r.PostForm.Get("scope")
	if raw == "" {
		s.writeError(w, r, errMissingParameter("scope"))
		return
	}
	if _, oerr := s.parseScopes(raw); oerr != nil {
		s.writeError(w, r, oerr)
		return
	}
	now := s.now()
	auth := &deviceAuth{
		deviceCode: randomToken("DAQABIQEAAAD", 96),
		clientID:   app.ClientID,
		scopes:     raw,
		expires:    now.Add(s.cfg.DeviceCodeLifetime),
		status:     DevicePending,
	}
	s.mu.Lock()
	s.sweepLocked(now)
	for auth.userCode == "" || s.userCodes[auth.userCode] != nil {
		auth.userCode = newUserCode()
	}
	s.deviceCodes[auth.deviceCode] = auth
	s.userCodes[auth.userCode] = auth
	if s.cfg.AutoApprove && len(s.tenant.Users) > 0 {
		auth.status, auth.userID = DeviceApproved, s.tenant.Users[0].ID
	}
	s.mu.Unlock()

	verification := baseURL(r) + "/devicelogin"
	s.log.Debug("device code issued", "client", app.ClientID, "userCode", auth.userCode)
	writeJSON(w, http.StatusOK, map[string]any{
		"user_code":        auth.userCode,
		"device_code":      auth.deviceCode,
		"verification_uri": verification,
		"expires_in":       int(s.cfg.DeviceCodeLifetime / time.Second),
		"interval":         int(s.cfg.DeviceCodeInterval / time.Second),
		"message":          fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verification, auth.userCode),
	})
}

// newUserCode returns nine characters from an alphabet without look-alikes.
func newUserCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func (s *Server) redeemDeviceCode(req *tokenRequest) (*tokenResponse, *oauthError) {
	code := req.form.Get("device_code")
	if code == "" {
		return nil, errMissingParameter("device_code")
	}
	now := s.now()
	s.mu.Lock()
	auth := s.deviceCodes[code]
	if auth == nil || !strings.EqualFold(auth.clientID, req.app.ClientID) {
		s.mu.Unlock()
		return nil, errMalformedGrant("device_code")
	}
	lastPoll := auth.lastPoll
	auth.lastPoll = now
	switch {
	case auth.status == DeviceRedeemed:
		s.mu.Unlock()
		return nil, errGrantMismatch("The device code was already redeemed.")
	case !now.Before(auth.expires):
		s.mu.Unlock()
		return nil, errDeviceCodeExpired()
	case auth.status == DeviceDenied:
		s.mu.Unlock()
		return nil, errAuthorizationDeclined()
	case s.cfg.DeviceCodePollMinimum > 0 && !lastPoll.IsZero() && now.Sub(lastPoll) < s.cfg.DeviceCodePollMinimum:
		s.mu.Unlock()
		return nil, errSlowDown()
	case auth.status == DevicePending:
		s.mu.Unlock()
		return nil, errAuthorizationPending()
	}
	auth.status = DeviceRedeemed
	userID, scopes := auth.userID, auth.scopes
	s.mu.Unlock()

	user, ok := s.tenant.UserByIDOrUPN(userID)
	if !ok {
		return nil, errUnknownUser(userID, s.tenant.ID)
	}
	return s.userTokens(req, grant{user: user, scopes: scopes})
}

// ApproveDeviceCode signs user (id or UPN) in on the device code shown as
// userCode, as if they had entered it at the verification page.
func (s *Server) ApproveDeviceCode(userCode, user string) error {
	u, ok := s.tenant.UserByIDOrUPN(user)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownUser, user)
	}
	return s.decideDeviceCode(userCode, DeviceApproved, u.ID)
}

// DenyDeviceCode declines the device code shown as userCode; the next poll
// answers authorization_declined.
func (s *Server) DenyDeviceCode(userCode string) error {
	return s.decideDeviceCode(userCode, DeviceDenied, "")
}

func (s *Server) decideDeviceCode(userCode string, status deviceStatus, userID string) error {
	userCode = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(userCode), "-", ""))
	s.mu.Lock()
	defer s.mu.Unlock()
	auth := s.userCodes[userCode]
	switch {
	case auth == nil:
		return ErrUnknownUserCode
	case !s.now().Before(auth.expires):
		return ErrCodeExpired
	case auth.status != DevicePending:
		return ErrCodeDecided
	}
	auth.status, auth.userID = status, userID
	return nil
}

// DeviceCodes lists the device codes that have not expired, newest first.
func (s *Server) DeviceCodes() []DeviceCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now)
	var out []DeviceCode
	for _, auth := range s.userCodes {
		if !now.Before(auth.expires) {
			continue
		}
		dc := DeviceCode{UserCode: auth.userCode, ClientID: auth.clientID, Scope: auth.scopes, ExpiresAt: auth.expires.UTC(), Status: string(auth.status)}
		if u, ok := s.tenant.UserByIDOrUPN(auth.userID); ok {
			dc.User = u.UserPrincipalName
		}
		out = append(out, dc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpiresAt.After(out[j].ExpiresAt) })
	return out
}

// sweepLocked forgets device and authorization codes well past their expiry
// (kept a while so late polls still get expired_token, not an unknown code).
func (s *Server) sweepLocked(now time.Time) {
	const grace = time.Hour
	for code, auth := range s.deviceCodes {
		if now.Sub(auth.expires) > grace {
			delete(s.deviceCodes, code)
			delete(s.userCodes, auth.userCode)
		}
	}
	for code, ac := range s.authCodes {
		if now.Sub(ac.expires) > grace {
			delete(s.authCodes, code)
		}
	}
}

// handleDeviceLoginPage is the verification page a person opens: enter the
// code, pick a user, approve or deny.
func (s *Server) handleDeviceLoginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var result string
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		_ = r.ParseForm()
		code := r.PostForm.Get("otc")
		var err error
		if r.PostForm.Get("action") == "deny" {
			err = s.DenyDeviceCode(code)
			result = "You declined the sign-in. You can close this window."
		} else {
			err = s.ApproveDeviceCode(code, r.PostForm.Get("user"))
			result = "You have signed in to the application on your device. You may now close this window."
		}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			result = "That didn't work: " + err.Error() + "."
		}
	}
	var options strings.Builder
	for _, u := range s.tenant.Users {
		fmt.Fprintf(&options, `<option value="%s">%s (%s)</option>`, html.EscapeString(u.UserPrincipalName), html.EscapeString(u.DisplayName), html.EscapeString(u.UserPrincipalName))
	}
	fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>Enter code</title></head><body>
<h1>Enter code</h1><p>hookctl emulator: enter the code displayed on your app or device.</p>
<p>%s</p>
<form method="post" action="/devicelogin">
<input name="otc" placeholder="Code" autocomplete="off" value="%s">
<select name="user">%s</select>
<button name="action" value="approve">Sign in</button>
<button name="action" value="deny">Decline</button>
</form></body></html>`, html.EscapeString(result), html.EscapeString(r.URL.Query().Get("otc")), options.String())
}
