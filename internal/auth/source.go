package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// TokenSource hands out access tokens; pkg/graph takes one.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenFunc adapts a function to TokenSource.
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// Source is the TokenSource of one profile: every call is silent (cache,
// refresh token, or the app credential the profile names) and a failure that
// needs a sign-in exits 3 with "run hookctl login".
type Source struct {
	Manager *Manager
	Profile string
	// Scopes overrides the profile's scopes when set.
	Scopes []string
}

// TokenSource returns the silent token source of the named profile.
func (m *Manager) TokenSource(profile string, scopes ...string) *Source {
	return &Source{Manager: m, Profile: profile, Scopes: scopes}
}

// Token returns a valid access token, refreshing it as needed.
func (s *Source) Token(ctx context.Context) (string, error) {
	tok, err := s.Manager.Acquire(ctx, s.Profile, s.Scopes)
	if err != nil {
		return "", err
	}
	return tok.Value, nil
}

// tokenTenant reads the tid claim of a JWT access token without verifying it
// (for display only); "" when the token is not a JWT.
func tokenTenant(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		TID string `json:"tid"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.TID
}
