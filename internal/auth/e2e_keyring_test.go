package auth_test

// End-to-end tests of the keyring token store: real MSAL against the emulator,
// with go-keyring's in-memory mock standing in for the OS keyring (TestMain).
// They do not run in parallel: the mock is shared by the whole test binary and
// these tests read it directly.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/exitcode"
)

func newTestKeyring(t *testing.T) *auth.KeyringStore {
	t.Helper()
	random := make([]byte, 6)
	_, _ = rand.Read(random)
	return &auth.KeyringStore{Service: "hookctl-e2e-" + hex.EncodeToString(random)}
}

// keyringItems lists which of a profile's keyring items exist: the header
// and chunks 1..10.
func keyringItems(t *testing.T, store *auth.KeyringStore, profile string) []string {
	t.Helper()
	var found []string
	for i := 0; i <= 10; i++ {
		item := profile
		if i > 0 {
			item = fmt.Sprintf("%s/%d", profile, i)
		}
		_, err := keyring.Get(store.Service, item)
		switch {
		case err == nil:
			found = append(found, item)
		case !errors.Is(err, keyring.ErrNotFound):
			t.Fatalf("reading keyring item %s: %v", item, err)
		}
	}
	return found
}

func TestKeyringSignInRefreshAndLogout(t *testing.T) {
	// A one-minute lifetime makes every silent call redeem the refresh token
	// (MSAL refreshes within 5 minutes of expiry).
	em := startEmulator(t, emulator.Options{AccessTokenLifetime: time.Minute})
	h := newHarness(t, em)
	store := newTestKeyring(t)
	h.keyring = store
	first := h.loginUser("default", em.Users[0].UserPrincipalName)
	if first.Profile.TokenStore != auth.StoreKeyring {
		t.Fatalf("profile token store = %q, want keyring", first.Profile.TokenStore)
	}
	if _, err := os.Stat(filepath.Join(h.stateDir, "auth", "cache", "default.json")); !os.IsNotExist(err) {
		t.Errorf("a cache file exists although the keyring holds the cache: %v", err)
	}
	var pretty bytes.Buffer
	status := auth.StatusOf(first)
	if err := status.WritePretty(&pretty, time.Now(), 200); err != nil || status.TokenStore != "keyring" ||
		!strings.Contains(pretty.String(), "Token cache:   OS keyring\n") {
		t.Errorf("status says the token store is %q:\n%s", status.TokenStore, pretty.String())
	}
	if strings.Contains(h.notices.String(), "not encrypted") {
		t.Errorf("plaintext notice shown for a keyring cache: %q", h.notices.String())
	}
	profiles, _ := os.ReadFile(filepath.Join(h.stateDir, "auth", "profiles.json"))
	if !bytes.Contains(profiles, []byte(`"tokenStore": "keyring"`)) || bytes.Contains(profiles, []byte(first.Value)) {
		t.Errorf("profiles.json should record the keyring and hold no token:\n%s", profiles)
	}
	blob, err := store.Load("default")
	if err != nil || !json.Valid(blob) || !bytes.Contains(blob, []byte(`"credential_type":"RefreshToken"`)) {
		t.Fatalf("keyring cache: %d bytes, valid JSON %v, %v", len(blob), json.Valid(blob), err)
	}
	items := keyringItems(t, store, "default")
	if len(items) < 3 { // header + at least two chunks: MSAL's cache is several KB
		t.Fatalf("keyring items for a %d-byte cache: %v, want a header and several chunks", len(blob), items)
	}

	h.refreshTwice("default", first)

	// Separate managers (separate lock file descriptions, as processes have)
	// refreshing at once take turns through the lock file.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			m := h.manager()
			for range 3 {
				if _, err := m.Acquire(context.Background(), "default", nil); err != nil {
					t.Errorf("concurrent acquisition: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	if err := h.manager().Logout(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	if left := keyringItems(t, store, "default"); len(left) != 0 {
		t.Errorf("keyring items left after logout: %v", left)
	}
	_, err = h.manager().Acquire(context.Background(), "default", nil)
	assertAuthError(t, err, exitcode.SignIn, `not signed in (profile "default")`)
}

// TestKeyringProfileOnFileStaysOnFile: a profile made before the keyring was
// usable keeps its file until HOOKCTL_TOKEN_STORE=keyring moves it.
func TestKeyringProfileOnFileStaysOnFile(t *testing.T) {
	em := startEmulator(t, emulator.Options{})
	h := newHarness(t, em)
	upn := em.Users[0].UserPrincipalName
	cacheFile := filepath.Join(h.stateDir, "auth", "cache", "default.json")
	if tok := h.loginUser("default", upn); tok.Profile.TokenStore != auth.StoreFile {
		t.Fatalf("without a keyring the store is %q, want file", tok.Profile.TokenStore)
	}
	store := newTestKeyring(t)
	h.keyring = store
	if _, err := h.manager().Acquire(context.Background(), "default", nil); err != nil {
		t.Fatalf("file profile with a keyring present: %v", err)
	}
	if tok := h.loginUser("default", upn); tok.Profile.TokenStore != auth.StoreFile {
		t.Errorf("signing in again moved the profile to %q", tok.Profile.TokenStore)
	}
	if items := keyringItems(t, store, "default"); len(items) != 0 {
		t.Errorf("keyring items for a file profile: %v", items)
	}

	h.env[auth.TokenStoreEnv] = "keyring"
	if tok := h.loginUser("default", upn); tok.Profile.TokenStore != auth.StoreKeyring {
		t.Fatalf("HOOKCTL_TOKEN_STORE=keyring sign-in stored in %q", tok.Profile.TokenStore)
	}
	if _, err := os.Stat(cacheFile); !os.IsNotExist(err) {
		t.Errorf("the file cache survived the move to the keyring: %v", err)
	}
	delete(h.env, auth.TokenStoreEnv)
	if tok, err := h.manager().Acquire(context.Background(), "default", nil); err != nil || !tok.FromCache {
		t.Fatalf("after the move: fromCache=%v, %v", tok.FromCache, err)
	}

	// A hookctl that cannot use the keyring says how to get going again.
	h.keyring = nil
	_, err := h.manager().Acquire(context.Background(), "default", nil)
	if err == nil || !strings.Contains(err.Error(), "OS keyring") || !strings.Contains(err.Error(), "HOOKCTL_TOKEN_STORE=file") {
		t.Errorf("keyring profile without a keyring: %v", err)
	}
	h.keyring = store
	if _, err := h.manager().LogoutAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if items := keyringItems(t, store, "default"); len(items) != 0 {
		t.Errorf("keyring items left after logout --all: %v", items)
	}
}
