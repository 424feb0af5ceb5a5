package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/exitcode"
)

// Where a profile's token cache is kept, as recorded in the profile.
const (
	StoreFile    = "file"
	StoreKeyring = "keyring"
)

// TokenStoreEnv selects where new sign-ins keep their token cache: auto (the
// default: the OS keyring when it answers, else a file), keyring or file.
const TokenStoreEnv = "HOOKCTL_TOKEN_STORE"

// keyringProbeTimeout bounds the test of the OS keyring, so that a D-Bus
// session that never answers cannot hang hookctl.
const keyringProbeTimeout = 2 * time.Second

// OSKeyring is the BlobStore of the OS keyring for the state directory
// stateDir, for Manager.Keyring. Profiles are named per state directory
// ("default" in ~/.local/state/hookctl is not "default" in a CI job's or the
// demo's own state directory), so the keyring service carries a short hash of
// the directory's absolute path: "hookctl 3f2a9c01d4e5".
func OSKeyring(stateDir string) BlobStore {
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	sum := sha256.Sum256([]byte(stateDir))
	return &KeyringStore{Service: KeyringService + " " + hex.EncodeToString(sum[:6])}
}

// keyringAvailable tests the keyring once per Manager (once per process in the
// binary): it stores, reads back and deletes a probe item, giving up after the
// timeout. A nil error means the keyring works.
func (m *Manager) keyringAvailable() error {
	m.probeOnce.Do(func() {
		timeout := m.probeTimeout
		if timeout == 0 {
			timeout = keyringProbeTimeout
		}
		m.probeErr = probeKeyring(m.Keyring, timeout)
		if m.probeErr != nil {
			m.logger().Debug("OS keyring unavailable", "error", m.probeErr.Error())
		}
	})
	return m.probeErr
}

func probeKeyring(store BlobStore, timeout time.Duration) error {
	if store == nil {
		return errors.New("this hookctl has no keyring support")
	}
	random := make([]byte, 8)
	_, _ = rand.Read(random)
	// A leading '.' keeps the probe from ever being a profile name.
	item, value := ".probe-"+hex.EncodeToString(random), []byte("probe")
	done := make(chan error, 1) // buffered: a probe that answers late must not block forever
	go func() {
		if err := store.Save(item, value); err != nil {
			done <- err
			return
		}
		got, err := store.Load(item)
		_ = store.Delete(item)
		if err == nil && !bytes.Equal(got, value) {
			err = errors.New("the keyring returned something else than was stored")
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("the keyring did not answer within %s", timeout)
	}
}

// chooseStore picks where a new sign-in of a profile keeps its tokens:
// HOOKCTL_TOKEN_STORE when set; otherwise the file when the profile's earlier
// sign-in used it, else the OS keyring when it works, else a file.
func (m *Manager) chooseStore(previous *Profile) (string, error) {
	choice := strings.ToLower(strings.TrimSpace(m.env(TokenStoreEnv)))
	switch choice {
	case "", "auto":
		if previous != nil && previous.tokenStore() == StoreFile {
			return StoreFile, nil // a profile made on the file stays there
		}
		if m.keyringAvailable() == nil {
			return StoreKeyring, nil
		}
		return StoreFile, nil
	case StoreFile:
		return StoreFile, nil
	case StoreKeyring:
		if err := m.keyringAvailable(); err != nil {
			return "", (&Error{Code: exitcode.Error, Cause: fmt.Sprintf("%s=keyring but the OS keyring is not usable: %v", TokenStoreEnv, err),
				Next: fmt.Sprintf("unlock or start the keyring (on Linux a Secret Service such as gnome-keyring), or set %s=file to cache tokens in a file", TokenStoreEnv)}).AsExit()
		}
		return StoreKeyring, nil
	}
	return "", exitcode.Usagef("invalid %s %q: use auto, keyring or file", TokenStoreEnv, choice)
}

// tokenStore is where the profile's cache is ("" in profiles saved before the
// keyring existed: the file).
func (p Profile) tokenStore() string {
	if p.TokenStore == "" {
		return StoreFile
	}
	return p.TokenStore
}

// cacheFor is the token cache of the named profile in the given store. The lock
// file is the same for both stores, so every process agrees on it.
func (m *Manager) cacheFor(profile, store string) (*TokenCache, error) {
	fc := NewFileCache(filepath.Join(m.authDir(), "cache", profile+".json"))
	if store == StoreKeyring {
		if m.Keyring == nil {
			return nil, fmt.Errorf("profile %q keeps its tokens in the OS keyring, which this hookctl cannot use: run `hookctl login` with %s=file",
				profile, TokenStoreEnv)
		}
		fc.Store = m.Keyring
	}
	return fc, nil
}

// previousProfile is the saved profile of that name, if any.
func (m *Manager) previousProfile(name string) (*Profile, error) {
	p, ok, err := m.Store().Get(name)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}

// loginCache chooses the store for a new sign-in of a profile and returns its
// cache. When the profile moves to another store, the cache in the old one is
// deleted so no tokens are left behind.
func (m *Manager) loginCache(ctx context.Context, name string) (*TokenCache, string, error) {
	previous, err := m.previousProfile(name)
	if err != nil {
		return nil, "", err
	}
	store, err := m.chooseStore(previous)
	if err != nil {
		return nil, "", err
	}
	if previous != nil && previous.tokenStore() != store {
		// Best effort: a keyring that stopped working cannot be cleaned, and
		// what it holds is encrypted anyway.
		if old, err := m.cacheFor(name, previous.tokenStore()); err == nil {
			if err := old.Remove(ctx); err != nil {
				m.logger().Debug("could not remove the earlier sign-in's tokens", "profile", name, "error", err.Error())
			}
		}
	}
	fc, err := m.cacheFor(name, store)
	return fc, store, err
}
