package auth_test

import (
	"context"
	"testing"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/emulator"
)

// loginRequest signs the emulator's first user in (AutoApprove answers the device code).
func loginRequest(em *emulator.Emulator) auth.UserLogin {
	return auth.UserLogin{Profile: "default", Authority: em.Authority, ClientID: em.PublicClientID}
}

// BenchmarkAcquireCached is the cost every Graph call pays for its token when
// the cached one is still valid: lock, read and parse the cache file, match.
// A new Manager per iteration measures a fresh process's path.
func BenchmarkAcquireCached(b *testing.B) {
	em, err := emulator.Start(context.Background(), emulator.Options{AutoApprove: true})
	if err != nil {
		b.Fatal(err)
	}
	defer em.Close()
	h := &harness{em: em, stateDir: b.TempDir(), env: map[string]string{}, notices: &syncBuffer{}}
	if _, err := h.manager().LoginUser(context.Background(), loginRequest(em)); err != nil {
		b.Fatal(err)
	}
	b.Run("same-manager", func(b *testing.B) {
		m := h.manager()
		for b.Loop() {
			if _, err := m.Acquire(context.Background(), "default", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new-manager", func(b *testing.B) {
		for b.Loop() {
			if _, err := h.manager().Acquire(context.Background(), "default", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAcquireRefresh redeems the refresh token on every call (access
// tokens that MSAL always considers expired): the round trip to the emulator
// over loopback TLS plus the cache rewrite.
func BenchmarkAcquireRefresh(b *testing.B) {
	em, err := emulator.Start(context.Background(), emulator.Options{AutoApprove: true, AccessTokenLifetime: 60e9})
	if err != nil {
		b.Fatal(err)
	}
	defer em.Close()
	h := &harness{em: em, stateDir: b.TempDir(), env: map[string]string{}, notices: &syncBuffer{}}
	if _, err := h.manager().LoginUser(context.Background(), loginRequest(em)); err != nil {
		b.Fatal(err)
	}
	m := h.manager()
	for b.Loop() {
		if _, err := m.Acquire(context.Background(), "default", nil); err != nil {
			b.Fatal(err)
		}
	}
}
