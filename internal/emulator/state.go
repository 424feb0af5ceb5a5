package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/emulator/idp"
	"github.com/hookctl/hookctl/internal/emulator/pki"
	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

// persisted is the state file: what must survive a restart.
type persisted struct {
	Version int `json:"version"`
	// ClientSecrets are the confidential apps' secrets by client id, generated
	// on first start unless the seed sets them.
	ClientSecrets map[string]string `json:"clientSecrets"`
	Identity      idp.State         `json:"identity"`
	// EventHubKey is the Event Hubs stand-in's shared access key, kept so
	// that its connection string survives a restart on the same port.
	EventHubKey string `json:"eventHubKey,omitempty"`
	// Graph is the Graph service's own snapshot, opaque here.
	Graph json.RawMessage `json:"graph,omitempty"`
}

func loadState(path string) (*persisted, error) {
	st := &persisted{Version: 1, ClientSecrets: map[string]string{}}
	if path == "" {
		return st, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("emulator: reading state file: %w", err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("emulator: state file %s is not valid JSON (%v): move it away to start afresh", path, err)
	}
	if st.ClientSecrets == nil {
		st.ClientSecrets = map[string]string{}
	}
	return st, nil
}

// saveState writes the state file (0600, atomically) when there is one: at
// start, every autosaveInterval and at Close.
func (e *Emulator) saveState() error {
	if e.stateFile == "" || e.Identity == nil {
		return nil
	}
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	st := persisted{Version: 1, ClientSecrets: map[string]string{}, Identity: e.Identity.Snapshot(), EventHubKey: e.hubKey}
	for _, app := range e.Tenant.Apps {
		if app.Secret != "" {
			st.ClientSecrets[app.ClientID] = app.Secret
		}
	}
	if e.Graph != nil {
		graph, err := json.Marshal(e.Graph.Snapshot())
		if err != nil {
			return fmt.Errorf("emulator: encoding Graph state: %w", err)
		}
		st.Graph = graph
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("emulator: encoding state: %w", err)
	}
	return config.WriteFileAtomic(e.stateFile, data)
}

// buildTenant copies the seed (or the default tenant), checks it, and gives
// confidential apps their secret (persisted or new) and the first one the
// generated certificate when it has none.
func buildTenant(seed *tenant.Tenant, st *persisted, appCert *pki.KeyPair) (*tenant.Tenant, error) {
	if seed == nil {
		seed = tenant.Default()
	}
	t, err := copyTenant(seed)
	if err != nil {
		return nil, err
	}
	if err := validateTenant(t); err != nil {
		return nil, err
	}
	certAssigned := false
	for i := range t.Apps {
		app := &t.Apps[i]
		if app.Public {
			continue
		}
		if app.Secret == "" {
			app.Secret = st.ClientSecrets[app.ClientID]
		}
		if app.Secret == "" {
			app.Secret = NewClientSecret()
		}
		st.ClientSecrets[app.ClientID] = app.Secret
		if !certAssigned && app.CertificatePEM == "" {
			app.CertificatePEM = string(appCert.CertPEM)
			certAssigned = true
		}
	}
	return t, nil
}

func copyTenant(t *tenant.Tenant) (*tenant.Tenant, error) {
	data, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	var out tenant.Tenant
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	// CertificatePEM is not part of the JSON form.
	for i := range t.Apps {
		out.Apps[i].CertificatePEM = t.Apps[i].CertificatePEM
	}
	return &out, nil
}

func validateTenant(t *tenant.Tenant) error {
	if _, err := uuid.Parse(t.ID); err != nil {
		return fmt.Errorf("emulator seed: tenantId %q is not a GUID", t.ID)
	}
	seen := map[string]bool{}
	for i, u := range t.Users {
		if u.ID == "" || u.UserPrincipalName == "" {
			return fmt.Errorf("emulator seed: user %d needs an id and a userPrincipalName", i+1)
		}
		for _, key := range []string{strings.ToLower(u.ID), strings.ToLower(u.UserPrincipalName)} {
			if seen[key] {
				return fmt.Errorf("emulator seed: user %s appears twice", key)
			}
			seen[key] = true
		}
	}
	apps := map[string]bool{}
	for i, a := range t.Apps {
		if _, err := uuid.Parse(a.ClientID); err != nil {
			return fmt.Errorf("emulator seed: app %d: clientId %q is not a GUID", i+1, a.ClientID)
		}
		if apps[strings.ToLower(a.ClientID)] {
			return fmt.Errorf("emulator seed: app %s appears twice", a.ClientID)
		}
		apps[strings.ToLower(a.ClientID)] = true
		if a.CertificatePEM != "" {
			if _, err := pki.ParseCertificatePEM([]byte(a.CertificatePEM)); err != nil {
				return fmt.Errorf("emulator seed: app %s: certificatePem: %w", a.ClientID, err)
			}
		}
	}
	return nil
}

// LoadSeed reads a YAML or JSON seed file and merges it into the default
// tenant: tenantId and domain replace the default ones, users and apps are
// added (an app with a default app's clientId replaces it). Users without an
// id get one derived from their UPN; without mail, their UPN.
func LoadSeed(path string) (*tenant.Tenant, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading seed file: %w", err)
	}
	if data, err = seedJSONAsYAML(data); err != nil {
		return nil, fmt.Errorf("seed file %s is not valid JSON: %w", path, err)
	}
	var file tenant.Tenant
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("seed file %s: %w", path, err)
	}
	t := tenant.Default()
	if file.ID != "" {
		t.ID = file.ID
	}
	if file.Domain != "" {
		t.Domain = file.Domain
	}
	for _, u := range file.Users {
		if u.ID == "" && u.UserPrincipalName != "" {
			u.ID = uuid.NewSHA1(uuid.NameSpaceOID, []byte(strings.ToLower(u.UserPrincipalName))).String()
		}
		if u.Mail == "" {
			u.Mail = u.UserPrincipalName
		}
		if u.DisplayName == "" {
			u.DisplayName, _, _ = strings.Cut(u.UserPrincipalName, "@")
		}
		t.Users = append(t.Users, u)
	}
	for _, a := range file.Apps {
		replaced := false
		for i := range t.Apps {
			if strings.EqualFold(t.Apps[i].ClientID, a.ClientID) {
				t.Apps[i], replaced = a, true
			}
		}
		if !replaced {
			t.Apps = append(t.Apps, a)
		}
	}
	if err := validateTenant(t); err != nil {
		return nil, fmt.Errorf("seed file %s: %w", path, err)
	}
	return t, nil
}

// seedJSONAsYAML checks a seed that is JSON (it starts with '{') as JSON and
// re-encodes it in the subset of JSON that YAML parsers read: JSON is almost,
// but not quite, YAML (yaml.v3 refuses the "\/" escape and tab indentation,
// and accepts trailing commas). Other documents are returned as they are.
func seedJSONAsYAML(data []byte) ([]byte, error) {
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n\ufeff"), []byte("{")) {
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value")
	}
	return json.Marshal(doc)
}

// NewClientSecret returns a secret shaped like Entra's: 40 characters with
// the "8Q~" marker.
func NewClientSecret() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~"
	b := make([]byte, 37)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:3]) + "8Q~" + string(b[3:])[:34]
}

// ephemeral is key material generated once per process for emulators
// without a state directory: RSA key generation is slow enough that tests
// starting many emulators would otherwise spend seconds on it.
var ephemeral struct {
	once  sync.Once
	files map[string][]byte
	err   error
}

// seedEphemeral writes the process's throw-away key material into dir.
func seedEphemeral(dir string) error {
	ephemeral.once.Do(func() {
		tmp, err := os.MkdirTemp("", "hookctl-emulator-keys-")
		if err != nil {
			ephemeral.err = err
			return
		}
		defer os.RemoveAll(tmp)
		ca, err := pki.LoadOrCreateCA(tmp)
		if err == nil {
			_, err = ca.ServerCertificate(tmp)
		}
		if err == nil {
			_, err = pki.LoadOrCreateKeyPair(tmp, SigningKeyFile, "hookctl emulator token signing")
		}
		if err == nil {
			_, err = pki.LoadOrCreateKeyPair(tmp, AppCertFile, "hookctl emulator confidential client")
		}
		if err != nil {
			ephemeral.err = err
			return
		}
		entries, err := os.ReadDir(tmp)
		if err != nil {
			ephemeral.err = err
			return
		}
		ephemeral.files = map[string][]byte{}
		for _, entry := range entries {
			data, err := os.ReadFile(filepath.Join(tmp, entry.Name()))
			if err != nil {
				ephemeral.err = err
				return
			}
			ephemeral.files[entry.Name()] = data
		}
	})
	if ephemeral.err != nil {
		return fmt.Errorf("emulator: generating key material: %w", ephemeral.err)
	}
	for name, data := range ephemeral.files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("emulator: writing key material: %w", err)
		}
	}
	return nil
}
