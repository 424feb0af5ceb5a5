package idp

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

// refreshRecord is what the emulator remembers of a refresh token. The token
// itself is never stored: records are keyed by its SHA-256.
type refreshRecord struct {
	ClientID string    `json:"clientId"`
	UserID   string    `json:"userId"`
	Scope    string    `json:"scope"`
	IssuedAt time.Time `json:"issuedAt"`
	Expires  time.Time `json:"expires"`
	// Redeemed marks a rotated-out token; Revoked one the control API revoked.
	Redeemed bool `json:"redeemed,omitempty"`
	Revoked  bool `json:"revoked,omitempty"`
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func (s *Server) issueRefreshToken(clientID, userID, scope string) string {
	token := randomToken("1.AQ0A", 180)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for hash, rec := range s.refreshTokens {
		if now.After(rec.Expires) {
			delete(s.refreshTokens, hash)
		}
	}
	s.refreshTokens[hashToken(token)] = &refreshRecord{ClientID: clientID, UserID: userID, Scope: scope, IssuedAt: now, Expires: now.Add(s.cfg.RefreshTokenLifetime)}
	return token
}

// redeemRefreshToken rotates the refresh token: the presented one is spent
// and the answer carries a new one.
func (s *Server) redeemRefreshToken(req *tokenRequest) (*tokenResponse, *oauthError) {
	token := req.form.Get("refresh_token")
	if token == "" {
		return nil, errMissingParameter("refresh_token")
	}
	s.mu.Lock()
	rec := s.refreshTokens[hashToken(token)]
	switch {
	case rec == nil:
		s.mu.Unlock()
		return nil, errMalformedGrant("refresh token")
	case rec.Revoked:
		s.mu.Unlock()
		return nil, errRefreshRevoked()
	case rec.Redeemed:
		s.mu.Unlock()
		return nil, errGrantMismatch("The refresh token was already redeemed: the emulator rotates refresh tokens, use the one from the latest answer.")
	case !s.now().Before(rec.Expires):
		s.mu.Unlock()
		return nil, errRefreshExpired(rec.IssuedAt)
	case !strings.EqualFold(rec.ClientID, req.app.ClientID):
		s.mu.Unlock()
		return nil, errGrantMismatch("The refresh token was issued to another application.")
	}
	rec.Redeemed = true
	userID, scope := rec.UserID, rec.Scope
	s.mu.Unlock()

	user, ok := s.tenant.UserByIDOrUPN(userID)
	if !ok {
		return nil, errUnknownUser(userID, s.tenant.ID)
	}
	resp, oerr := s.userTokens(req, grant{user: user, scopes: scope})
	if oerr != nil {
		// A refused refresh must not spend the token.
		s.mu.Lock()
		rec.Redeemed = false
		s.mu.Unlock()
		return nil, oerr
	}
	if resp.RefreshToken == "" {
		// The refresh grant always answers with a refresh token.
		resp.RefreshToken = s.issueRefreshToken(req.app.ClientID, user.ID, scope)
	}
	return resp, nil
}

// RevokeRefreshTokens revokes every refresh token issued to the user (id or
// UPN), like Graph's revokeSignInSessions; it returns how many were live.
func (s *Server) RevokeRefreshTokens(user string) (int, error) {
	u, ok := s.tenant.UserByIDOrUPN(user)
	if !ok {
		return 0, ErrUnknownUser
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, rec := range s.refreshTokens {
		if rec.UserID == u.ID && !rec.Revoked && !rec.Redeemed {
			rec.Revoked = true
			n++
		}
	}
	return n, nil
}

// State is the part of the identity platform worth keeping across restarts:
// refresh tokens (hashed), so signed-in clients stay signed in.
type State struct {
	RefreshTokens map[string]refreshRecord `json:"refreshTokens"`
}

// Snapshot returns the state to persist.
func (s *Server) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{RefreshTokens: make(map[string]refreshRecord, len(s.refreshTokens))}
	now := s.now()
	for hash, rec := range s.refreshTokens {
		if now.Before(rec.Expires) {
			st.RefreshTokens[hash] = *rec
		}
	}
	return st
}

// Restore loads a snapshot, dropping tokens of users or apps no longer in the tenant.
func (s *Server) Restore(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for hash, rec := range st.RefreshTokens {
		if _, ok := s.tenant.UserByIDOrUPN(rec.UserID); !ok {
			continue
		}
		if _, ok := s.tenant.App(rec.ClientID); !ok {
			continue
		}
		s.refreshTokens[hash] = &rec
	}
}

var _ tenant.Authenticator = (*Server)(nil)
