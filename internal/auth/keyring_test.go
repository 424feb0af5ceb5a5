package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zalando/go-keyring"

	"github.com/hookctl/hookctl/internal/exitcode"
)

// TestMain replaces the OS keyring with go-keyring's in-memory mock for the
// whole test binary, unless HOOKCTL_TEST_KEYRING=1 asks for this machine's real
// keyring. Each test uses a service name of its own, so they never share items.
func TestMain(m *testing.M) {
	if os.Getenv("HOOKCTL_TEST_KEYRING") != "1" {
		keyring.MockInit()
	}
	os.Exit(m.Run())
}

// testKeyring is a KeyringStore under a fresh service name, emptied at the end.
func testKeyring(t *testing.T) *KeyringStore {
	t.Helper()
	random := make([]byte, 6)
	_, _ = rand.Read(random)
	store := &KeyringStore{Service: "hookctl-test-" + hex.EncodeToString(random)}
	t.Cleanup(func() {
		keyringMu.Lock()
		defer keyringMu.Unlock()
		_ = keyring.DeleteAll(store.Service)
	})
	return store
}

func keyringGet(store *KeyringStore, item string) (string, error) {
	keyringMu.Lock()
	defer keyringMu.Unlock()
	return keyring.Get(store.service(), item)
}

// bigCache is a cache-like JSON blob over 5 KB with multi-byte characters, so
// that chunk boundaries fall inside UTF-8 sequences.
func bigCache() []byte {
	var b strings.Builder
	b.WriteString(`{"RefreshToken":{`)
	for i := range 60 {
		fmt.Fprintf(&b, `"k%02d":"Zoë Åström ☃ %s",`, i, strings.Repeat("x", 70))
	}
	b.WriteString(`"end":"1"}}`)
	return []byte(b.String())
}

func TestKeyringStoreRoundTripAndChunks(t *testing.T) {
	store := testKeyring(t)
	if data, err := store.Load("default"); err != nil || data != nil {
		t.Fatalf("Load of nothing = %q, %v; want nil, nil", data, err)
	}
	blob := bigCache()
	if len(blob) < 5000 {
		t.Fatalf("test blob is only %d bytes", len(blob))
	}
	if err := store.Save("default", blob); err != nil {
		t.Fatal(err)
	}
	header, err := keyringGet(store, "default")
	wantChunks := (len(blob) + keyringChunkSize - 1) / keyringChunkSize
	if err != nil || header != keyringHeader+fmt.Sprint(wantChunks) {
		t.Fatalf("header item = %q, %v; want %d chunks", header, err, wantChunks)
	}
	for i := 1; i <= wantChunks; i++ {
		chunk, err := keyringGet(store, chunkItem("default", i))
		if err != nil || len(chunk) == 0 || len(chunk) > keyringChunkSize || !utf8.ValidString(chunk) {
			t.Errorf("chunk %d: %d bytes, valid UTF-8 %v, %v", i, len(chunk), utf8.ValidString(chunk), err)
		}
	}
	if got, err := store.Load("default"); err != nil || string(got) != string(blob) {
		t.Fatalf("Load after Save: %d bytes, %v; want the %d bytes saved", len(got), err, len(blob))
	}

	// A smaller cache leaves no chunk of the bigger one behind.
	if err := store.Save("default", []byte(`{"small":true}`)); err != nil {
		t.Fatal(err)
	}
	if got, err := store.Load("default"); err != nil || string(got) != `{"small":true}` {
		t.Fatalf("Load after a smaller Save = %q, %v", got, err)
	}
	if _, err := keyringGet(store, chunkItem("default", 2)); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("chunk 2 after a one-chunk Save: %v, want not found", err)
	}

	// Other profiles are untouched by a Delete.
	if err := store.Save("other", blob); err != nil {
		t.Fatal(err)
	}
	if err := store.Save("default", blob); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete("default"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= wantChunks+1; i++ {
		item := "default"
		if i > 0 {
			item = chunkItem("default", i)
		}
		if _, err := keyringGet(store, item); !errors.Is(err, keyring.ErrNotFound) {
			t.Errorf("%s after Delete: %v, want not found", item, err)
		}
	}
	if data, err := store.Load("default"); err != nil || data != nil {
		t.Errorf("Load after Delete = %d bytes, %v", len(data), err)
	}
	if err := store.Delete("default"); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if got, err := store.Load("other"); err != nil || string(got) != string(blob) {
		t.Errorf("other profile after deleting default: %d bytes, %v", len(got), err)
	}
}

// TestKeyringCacheDamaged: a header without its chunks, or an item that is not
// ours, is reported as an unreadable cache (exit 3, no content in the message)
// and a new sign-in discards it.
func TestKeyringCacheDamaged(t *testing.T) {
	const secret = "refresh-token-value-that-must-not-leak"
	cases := map[string]func(store *KeyringStore){
		"missing chunk": func(store *KeyringStore) {
			_ = keyring.Set(store.service(), "default", keyringHeader+"2")
			_ = keyring.Set(store.service(), chunkItem("default", 1), `{"RefreshToken":"`+secret)
		},
		"foreign item": func(store *KeyringStore) { _ = keyring.Set(store.service(), "default", secret) },
		"not json":     func(store *KeyringStore) { _ = store.Save("default", []byte(`{"`+secret)) },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			store := testKeyring(t)
			if name == "not json" {
				damage(store)
			} else {
				keyringMu.Lock()
				damage(store)
				keyringMu.Unlock()
			}
			fc := NewFileCache(filepath.Join(t.TempDir(), "default.json"))
			fc.Store = store
			err := fc.Replace(context.Background(), &counterCache{data: map[string]int{}}, cacheHints())
			var authErr *Error
			if !errors.As(err, &authErr) || authErr.Code != exitcode.SignIn || !strings.Contains(err.Error(), "unreadable") {
				t.Fatalf("Replace = %v, want an exit-3 unreadable error", err)
			}
			if !strings.Contains(err.Error(), "OS keyring") || strings.Contains(err.Error(), secret) {
				t.Errorf("message should name the keyring and nothing of the cache: %v", err)
			}
			if err := fc.DiscardIfUnreadable(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := keyringGet(store, "default"); !errors.Is(err, keyring.ErrNotFound) {
				t.Errorf("damaged cache still there after DiscardIfUnreadable: %v", err)
			}
		})
	}
}

func TestSplitChunks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		size int
		want []string
	}{
		{"", 4, nil},
		{"abcd", 4, []string{"abcd"}},
		{"abcde", 4, []string{"abcd", "e"}},
		{"abc☃d", 4, []string{"abc", "☃d"}}, // ☃ is 3 bytes: never split
		{"a☃☃", 4, []string{"a☃", "☃"}},
	}
	for _, c := range cases {
		got := splitChunks(c.in, c.size)
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("splitChunks(%q, %d) = %q, want %q", c.in, c.size, got, c.want)
		}
	}
}

// fakeKeyring is a BlobStore standing in for a keyring that works, fails or
// never answers; it counts the probe's writes.
type fakeKeyring struct {
	mu    sync.Mutex
	items map[string][]byte
	fail  error
	hang  chan struct{} // when set, every call waits for it to close
	saves atomic.Int32
}

func (f *fakeKeyring) wait() {
	if f.hang != nil {
		<-f.hang
	}
}

func (f *fakeKeyring) Load(profile string) ([]byte, error) {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.items[profile], f.fail
}

func (f *fakeKeyring) Save(profile string, data []byte) error {
	f.saves.Add(1)
	f.wait()
	if f.fail != nil {
		return f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.items == nil {
		f.items = map[string][]byte{}
	}
	f.items[profile] = append([]byte(nil), data...)
	return nil
}

func (f *fakeKeyring) Delete(profile string) error {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.items, profile)
	return f.fail
}

func (f *fakeKeyring) Where(profile string) string { return "the fake keyring" }

func TestChooseStore(t *testing.T) {
	t.Parallel()
	hung := make(chan struct{})
	t.Cleanup(func() { close(hung) })
	fileProfile, keyringProfile, oldProfile := &Profile{TokenStore: StoreFile}, &Profile{TokenStore: StoreKeyring}, &Profile{}
	cases := []struct {
		name     string
		env      string
		keyring  func() BlobStore
		previous *Profile
		want     string
		wantErr  string
		wantCode int
	}{
		{"auto, keyring works", "", func() BlobStore { return &fakeKeyring{} }, nil, StoreKeyring, "", 0},
		{"auto spelled out", " Auto ", func() BlobStore { return &fakeKeyring{} }, nil, StoreKeyring, "", 0},
		{"auto, keyring fails", "auto", func() BlobStore { return &fakeKeyring{fail: errors.New("no D-Bus")} }, nil, StoreFile, "", 0},
		{"auto, keyring hangs", "", func() BlobStore { return &fakeKeyring{hang: hung} }, nil, StoreFile, "", 0},
		{"auto, no keyring in this build", "", func() BlobStore { return nil }, nil, StoreFile, "", 0},
		{"auto, profile made on the file stays there", "", func() BlobStore { return &fakeKeyring{} }, fileProfile, StoreFile, "", 0},
		{"auto, profile from before the keyring stays on the file", "", func() BlobStore { return &fakeKeyring{} }, oldProfile, StoreFile, "", 0},
		{"auto, keyring profile stays in the keyring", "", func() BlobStore { return &fakeKeyring{} }, keyringProfile, StoreKeyring, "", 0},
		{"auto, keyring profile, keyring gone", "", func() BlobStore { return &fakeKeyring{fail: errors.New("locked")} }, keyringProfile, StoreFile, "", 0},
		{"file forced", "file", func() BlobStore { return &fakeKeyring{} }, nil, StoreFile, "", 0},
		{"keyring forced moves a file profile", "keyring", func() BlobStore { return &fakeKeyring{} }, fileProfile, StoreKeyring, "", 0},
		{"keyring forced, unavailable", "keyring", func() BlobStore { return &fakeKeyring{fail: errors.New("no D-Bus session")} }, nil, "",
			"HOOKCTL_TOKEN_STORE=keyring but the OS keyring is not usable: no D-Bus session", exitcode.Error},
		{"keyring forced, hangs", "keyring", func() BlobStore { return &fakeKeyring{hang: hung} }, nil, "",
			"did not answer within 50ms", exitcode.Error},
		{"keyring forced, no keyring in this build", "keyring", func() BlobStore { return nil }, nil, "",
			"this hookctl has no keyring support", exitcode.Error},
		{"unknown value", "vault", func() BlobStore { return &fakeKeyring{} }, nil, "", `invalid HOOKCTL_TOKEN_STORE "vault": use auto, keyring or file`, exitcode.Usage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := &Manager{Keyring: c.keyring(), probeTimeout: 50 * time.Millisecond,
				Env: func(k string) (string, bool) { return c.env, k == TokenStoreEnv && c.env != "" }}
			got, err := m.chooseStore(c.previous)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || exitcode.Code(err) != c.wantCode {
					t.Fatalf("chooseStore = %q, %v (exit %d); want an error containing %q, exit %d", got, err, exitcode.Code(err), c.wantErr, c.wantCode)
				}
				if c.wantCode == exitcode.Error && !strings.Contains(err.Error(), "set HOOKCTL_TOKEN_STORE=file") {
					t.Errorf("error should name HOOKCTL_TOKEN_STORE=file as the way out: %v", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("chooseStore = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// TestKeyringProbedOncePerManager: later sign-ins in the same process reuse the
// answer instead of writing the probe item again.
func TestKeyringProbedOncePerManager(t *testing.T) {
	t.Parallel()
	fake := &fakeKeyring{fail: errors.New("no D-Bus")}
	m := &Manager{Keyring: fake}
	for range 3 {
		if got, err := m.chooseStore(nil); err != nil || got != StoreFile {
			t.Fatalf("chooseStore = %q, %v", got, err)
		}
	}
	if n := fake.saves.Load(); n != 1 {
		t.Errorf("keyring probed %d times, want once", n)
	}
	working := &fakeKeyring{}
	m = &Manager{Keyring: working}
	if got, err := m.chooseStore(nil); err != nil || got != StoreKeyring {
		t.Fatalf("chooseStore = %q, %v", got, err)
	}
	if len(working.items) != 0 {
		t.Errorf("the probe left items behind: %v", working.items)
	}
}

// TestRealKeyring exercises this machine's keyring; it needs a desktop
// session (Secret Service, Keychain or Credential Manager).
func TestRealKeyring(t *testing.T) {
	if os.Getenv("HOOKCTL_TEST_KEYRING") != "1" {
		t.Skip("set HOOKCTL_TEST_KEYRING=1 to test against this machine's real OS keyring (Secret Service, Keychain or Credential Manager)")
	}
	store := testKeyring(t)
	if err := probeKeyring(store, keyringProbeTimeout); err != nil {
		t.Fatalf("probe of the real keyring: %v", err)
	}
	blob := bigCache()
	if err := store.Save("default", blob); err != nil {
		t.Fatal(err)
	}
	if got, err := store.Load("default"); err != nil || string(got) != string(blob) {
		t.Fatalf("Load = %d bytes, %v; want %d", len(got), err, len(blob))
	}
	if err := store.Delete("default"); err != nil {
		t.Fatal(err)
	}
	if got, err := store.Load("default"); err != nil || got != nil {
		t.Fatalf("Load after Delete = %d bytes, %v", len(got), err)
	}
}

// TestKeyringUnreachableLater: a profile whose cache is in a keyring that stops
// answering fails with the keyring's reason, not as a sign-in problem of MSAL's.
func TestKeyringUnreachableLater(t *testing.T) {
	t.Parallel()
	m := &Manager{StateDir: t.TempDir(), Keyring: &fakeKeyring{fail: errors.New("the keyring is locked")}}
	p := Profile{Name: "default", Kind: KindUser, Authority: "https://login.microsoftonline.com/organizations",
		ClientID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", Scopes: DefaultScopes, HomeAccountID: "a.b", TokenStore: StoreKeyring}
	if err := m.Store().Put(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	_, err := m.Acquire(context.Background(), "default", nil)
	if err == nil || exitcode.Code(err) != exitcode.Error || strings.Contains(err.Error(), "sign-in failed") ||
		!strings.Contains(err.Error(), "the keyring is locked") || !strings.Contains(err.Error(), "HOOKCTL_TOKEN_STORE=file") {
		t.Errorf("Acquire with an unreachable keyring = %v (exit %d); want the keyring's reason and the way out, exit 1", err, exitcode.Code(err))
	}
}

// TestOSKeyringIsPerStateDirectory: the same profile name in two state
// directories (the user's, the demo's, a CI job's) must not share keyring items.
func TestOSKeyringIsPerStateDirectory(t *testing.T) {
	dir := t.TempDir()
	a := OSKeyring(dir).(*KeyringStore)
	b := OSKeyring(filepath.Join(dir, "other")).(*KeyringStore)
	again := OSKeyring(filepath.Join(dir, "other", "..")).(*KeyringStore)
	if a.Service == b.Service {
		t.Fatalf("two state directories share the keyring service %q", a.Service)
	}
	if a.Service != again.Service {
		t.Errorf("the same directory spelled twice gives %q and %q", a.Service, again.Service)
	}
	if !strings.HasPrefix(a.Service, KeyringService+" ") {
		t.Errorf("service %q does not start with %q", a.Service, KeyringService)
	}
}
