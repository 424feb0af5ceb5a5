package auth

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/zalando/go-keyring"
)

// KeyringService is the service name of hookctl's items in the OS keyring.
const KeyringService = "hookctl"

// keyringChunkSize bounds one keyring item. Windows Credential Manager refuses
// secrets over 2560 bytes and macOS's `security` a command line over 4096
// (the secret goes base64-encoded into it), while an MSAL cache holding a
// refresh, an access and an ID token is about 5 KB: so a cache is split into
// numbered items.
const keyringChunkSize = 2000

// keyringHeader prefixes the profile's main item, which holds the chunk count.
const keyringHeader = "hookctl-token-cache v1 chunks="

// keyringMu serialises every go-keyring call in the process: its providers
// (the D-Bus session, the mock) are process-wide and not safe for concurrent use.
var keyringMu sync.Mutex

// KeyringStore keeps each profile's cache in the OS keyring (the Secret
// Service over D-Bus on Linux, the login keychain on macOS, Credential Manager
// on Windows): service "hookctl", item <profile> holding the number of chunks
// and items <profile>/1, <profile>/2, ... holding the cache itself. Profile
// names cannot contain '/', so chunk names never collide with a profile's.
type KeyringStore struct {
	// Service is the keyring service name; KeyringService when empty.
	Service string
}

func (s *KeyringStore) service() string {
	if s.Service == "" {
		return KeyringService
	}
	return s.Service
}

func chunkItem(profile string, i int) string { return profile + "/" + strconv.Itoa(i) }

// Where names the keyring items.
func (s *KeyringStore) Where(profile string) string {
	return fmt.Sprintf("the OS keyring (service %q, item %q)", s.service(), profile)
}

// Load reads the chunk count, then every chunk.
func (s *KeyringStore) Load(profile string) ([]byte, error) {
	keyringMu.Lock()
	defer keyringMu.Unlock()
	header, err := keyring.Get(s.service(), profile)
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the token cache from the OS keyring: %w", err)
	}
	count, ok := parseKeyringHeader(header)
	if !ok {
		return nil, fmt.Errorf("%w: keyring item %q is not a hookctl token cache", errCorrupt, profile)
	}
	var data strings.Builder
	for i := 1; i <= count; i++ {
		chunk, err := keyring.Get(s.service(), chunkItem(profile, i))
		if errors.Is(err, keyring.ErrNotFound) {
			return nil, fmt.Errorf("%w: keyring item %q is missing", errCorrupt, chunkItem(profile, i))
		}
		if err != nil {
			return nil, fmt.Errorf("reading the token cache from the OS keyring: %w", err)
		}
		data.WriteString(chunk)
	}
	return []byte(data.String()), nil
}

func parseKeyringHeader(header string) (int, bool) {
	rest, ok := strings.CutPrefix(header, keyringHeader)
	if !ok {
		return 0, false
	}
	count, err := strconv.Atoi(rest)
	if err != nil || count < 0 || count > 10000 {
		return 0, false
	}
	return count, true
}

// Save writes the chunks, then the count, then deletes chunks left over from a
// longer cache.
func (s *KeyringStore) Save(profile string, data []byte) error {
	keyringMu.Lock()
	defer keyringMu.Unlock()
	chunks := splitChunks(string(data), keyringChunkSize)
	for i, chunk := range chunks {
		if err := keyring.Set(s.service(), chunkItem(profile, i+1), chunk); err != nil {
			return fmt.Errorf("writing the token cache to the OS keyring: %w", err)
		}
	}
	if err := keyring.Set(s.service(), profile, keyringHeader+strconv.Itoa(len(chunks))); err != nil {
		return fmt.Errorf("writing the token cache to the OS keyring: %w", err)
	}
	return s.deleteChunksFrom(profile, len(chunks)+1)
}

// Delete removes the count and every chunk.
func (s *KeyringStore) Delete(profile string) error {
	keyringMu.Lock()
	defer keyringMu.Unlock()
	if err := keyring.Delete(s.service(), profile); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("deleting the token cache from the OS keyring: %w", err)
	}
	return s.deleteChunksFrom(profile, 1)
}

// deleteChunksFrom deletes chunk first and the ones after it, up to the first
// that is missing (chunks are always written from 1 without gaps).
func (s *KeyringStore) deleteChunksFrom(profile string, first int) error {
	for i := first; ; i++ {
		err := keyring.Delete(s.service(), chunkItem(profile, i))
		if errors.Is(err, keyring.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("deleting the token cache from the OS keyring: %w", err)
		}
	}
}

// splitChunks cuts s into pieces of at most size bytes, never inside a UTF-8
// sequence (the Secret Service and Credential Manager store text).
func splitChunks(s string, size int) []string {
	var chunks []string
	for len(s) > size {
		cut := size
		for cut > size-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
			cut--
		}
		chunks = append(chunks, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		chunks = append(chunks, s)
	}
	return chunks
}
