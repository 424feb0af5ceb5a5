package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/filelock"
)

// Kind says whether a profile signs a person in or an application.
type Kind string

const (
	// KindUser is a delegated sign-in: a person, with a refresh token in the cache.
	KindUser Kind = "user"
	// KindApp is an app-only sign-in (client credentials) acting on a named mailbox.
	KindApp Kind = "app"
)

// Profile is what hookctl remembers about one sign-in. It holds no secret and no
// token: an app profile names WHERE its credential is (an environment variable,
// a certificate file, a federated token file), and later commands read it from
// there again.
type Profile struct {
	Name      string   `json:"-"`
	Kind      Kind     `json:"kind"`
	Authority string   `json:"authority"` // full authority URL, tenant included
	Tenant    string   `json:"tenant"`    // as asked for: organizations, a domain or an id
	TenantID  string   `json:"tenantId,omitempty"`
	ClientID  string   `json:"clientId"`
	Scopes    []string `json:"scopes"`

	// Delegated sign-ins.
	HomeAccountID string `json:"homeAccountId,omitempty"`
	Username      string `json:"username,omitempty"`

	// App-only sign-ins: where the credential comes from, never the credential.
	ClientSecretEnv        string `json:"clientSecretEnv,omitempty"`
	ClientSecretStdin      bool   `json:"clientSecretStdin,omitempty"`
	CertificateFile        string `json:"certificateFile,omitempty"`
	CertificatePasswordEnv string `json:"certificatePasswordEnv,omitempty"`
	FederatedTokenFile     string `json:"federatedTokenFile,omitempty"`
	// User is the mailbox (UPN or object id) an app-only profile acts on.
	User string `json:"user,omitempty"`

	// GraphURL and CAFile are the cloud the profile signed in to: the Graph
	// root its tokens are for and the CA its certificate chains to ("" for
	// the system roots). Its tokens are sent nowhere else (GraphEndpoint).
	// Profiles saved before they were recorded have neither.
	GraphURL string `json:"graphUrl,omitempty"`
	CAFile   string `json:"caFile,omitempty"`

	// TokenStore is where the token cache is: StoreFile ("" in profiles saved
	// before the keyring was supported) or StoreKeyring.
	TokenStore string `json:"tokenStore,omitempty"`

	SignedInAt time.Time `json:"signedInAt"`
}

// Mailbox is the Graph path prefix of the profile's mailbox: "me" for a person,
// "users/{user}" for an app-only profile ("" when an app profile names no user).
func (p Profile) Mailbox() string {
	if p.Kind == KindApp {
		if p.User == "" {
			return ""
		}
		return "users/" + p.User
	}
	return "me"
}

// Identity is a one-line description of who the profile signs in as.
func (p Profile) Identity() string {
	if p.Kind == KindApp {
		return "app " + p.ClientID
	}
	return p.Username
}

// Credential describes where an app profile's credential comes from, for people.
func (p Profile) Credential() string {
	switch {
	case p.CertificateFile != "":
		return "certificate " + p.CertificateFile
	case p.FederatedTokenFile != "":
		return "federated token file " + p.FederatedTokenFile
	case p.ClientSecretEnv != "":
		return "client secret from $" + p.ClientSecretEnv
	case p.ClientSecretStdin:
		return "client secret read from stdin at login (not kept)"
	}
	return ""
}

var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidProfileName rejects names that could not be a file name of their own.
func ValidProfileName(name string) error {
	if !profileName.MatchString(name) {
		return fmt.Errorf("invalid profile name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// Store keeps the profiles in one JSON file (0600) under the state directory.
type Store struct {
	Path string
}

type storeFile struct {
	Version  int                `json:"version"`
	Profiles map[string]Profile `json:"profiles"`
}

// List returns every profile, sorted by name.
func (s *Store) List() ([]Profile, error) {
	file, err := s.read()
	if err != nil {
		return nil, err
	}
	out := make([]Profile, 0, len(file.Profiles))
	for _, p := range file.Profiles {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get returns the named profile; ok is false when there is none.
func (s *Store) Get(name string) (p Profile, ok bool, err error) {
	file, err := s.read()
	if err != nil {
		return Profile{}, false, err
	}
	p, ok = file.Profiles[name]
	return p, ok, nil
}

// Put saves p under p.Name, replacing any profile of that name.
func (s *Store) Put(ctx context.Context, p Profile) error {
	if err := ValidProfileName(p.Name); err != nil {
		return err
	}
	return s.update(ctx, func(file *storeFile) { file.Profiles[p.Name] = p })
}

// Delete removes the named profiles (missing ones are ignored).
func (s *Store) Delete(ctx context.Context, names ...string) error {
	return s.update(ctx, func(file *storeFile) {
		for _, name := range names {
			delete(file.Profiles, name)
		}
	})
}

// update is a locked read-modify-write, so two processes signing in to different
// profiles at once keep both.
func (s *Store) update(ctx context.Context, change func(*storeFile)) error {
	l, err := filelock.Acquire(ctx, s.Path+".lock", true)
	if err != nil {
		return err
	}
	defer l.Release()
	file, err := s.read()
	if err != nil {
		return err
	}
	change(file)
	data, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return err
	}
	return config.WriteFileAtomic(s.Path, append(data, '\n'))
}

func (s *Store) read() (*storeFile, error) {
	file := &storeFile{Version: 1, Profiles: map[string]Profile{}}
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return file, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading profiles: %w", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return file, nil
	}
	if err := json.Unmarshal(data, file); err != nil {
		return nil, fmt.Errorf("profiles file %s is not valid JSON (%v): fix or delete it, then run `hookctl login`", s.Path, err)
	}
	if file.Profiles == nil {
		file.Profiles = map[string]Profile{}
	}
	for name, p := range file.Profiles {
		p.Name = name
		file.Profiles[name] = p
	}
	return file, nil
}
