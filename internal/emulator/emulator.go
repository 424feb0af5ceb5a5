// Package emulator runs hookctl's local stand-in for Microsoft Graph and the
// Microsoft identity platform: one HTTPS server, its certificates, its seeded
// tenant and its control API.
package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/emulator/hubsim"
	"github.com/hookctl/hookctl/internal/emulator/idp"
	"github.com/hookctl/hookctl/internal/emulator/pki"
	"github.com/hookctl/hookctl/internal/emulator/tenant"
	"github.com/hookctl/hookctl/internal/filelock"
)

// File names in the state directory besides pki's CA and server certificate.
const (
	SigningKeyFile   = "signing.pem" // the token-signing key
	AppCertFile      = "app.pem"     // the confidential app's certificate and key
	DefaultStateFile = "state.json"
)

// Options configure Start. The zero value runs the seeded tenant on a random
// loopback port with throw-away certificates.
type Options struct {
	// Addr is the listen address; "" means 127.0.0.1:0 (a free port).
	Addr string
	// StateDir holds the CA, the server and app certificates, the signing key
	// and the state file, created 0700 and reused across runs. "" means a
	// temporary directory removed by Close (nothing persists).
	StateDir string
	// StateFile is where secrets and data persist across runs; "" means
	// StateDir/state.json. Ignored without StateDir.
	StateFile string
	// Seed is the tenant to serve; nil means tenant.Default(). Start copies it.
	Seed *tenant.Tenant
	// AutoApprove signs the first user in on every device code at once.
	AutoApprove bool

	// Identity platform lifetimes and pacing; zero means Microsoft's value
	// (idp.Default*).
	AccessTokenLifetime   time.Duration
	RefreshTokenLifetime  time.Duration
	AuthCodeLifetime      time.Duration
	DeviceCodeLifetime    time.Duration
	DeviceCodeInterval    time.Duration
	DeviceCodePollMinimum time.Duration

	// EventHub shapes the Event Hubs stand-in.
	EventHub EventHubOptions

	// Graph holds the Graph service's knobs (batch window, retry base,
	// faults, lifetimes...). Start sets its Tenant, Auth, DeliveryClient,
	// Logger and Now.
	Graph graphsim.Config

	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger receives one debug line per request and the servers' events.
	Logger *slog.Logger
}

// Emulator is a running emulator. Fields are read-only.
type Emulator struct {
	// URL is the server's base URL, e.g. https://127.0.0.1:8443.
	URL string
	// Authority is the tenant's authority for MSAL: URL/<tenant id>.
	Authority string
	// GraphURL is the Graph v1.0 base URL: URL/v1.0.
	GraphURL string
	// ControlURL is the control API's base URL: URL/_emulator.
	ControlURL string
	TenantID   string
	// CAFile is the PEM file of the CA to trust; CAPool holds the same CA.
	CAFile string
	CAPool *x509.CertPool
	// StateDir is where the certificates and keys live.
	StateDir string

	PublicClientID       string
	ConfidentialClientID string
	// ClientSecret is the confidential client's secret.
	ClientSecret string
	// CertificateFile is a PEM file with the confidential client's certificate
	// and private key (what confidential.CertFromPEM reads).
	CertificateFile string
	Users           []tenant.User
	// Tenant is the directory served (do not modify it).
	Tenant *tenant.Tenant
	// Identity is the identity platform: approve device codes, mint tokens,
	// verify access tokens (it is the Authenticator Graph uses).
	Identity *idp.Server
	// Graph is the Graph service: send mail, inject faults, inspect deliveries.
	Graph *graphsim.Server
	// Hub is the Event Hubs stand-in Graph delivers EventHub: subscriptions to.
	Hub *hubsim.Hub

	ca        *pki.CA
	opts      Options
	log       *slog.Logger
	server    *http.Server
	listener  net.Listener
	serveDone chan struct{}
	// stopSaving ends autosave; saveMu keeps two saves from interleaving.
	stopSaving chan struct{}
	saveMu     sync.Mutex
	stateFile  string
	hubKey     string // the Event Hubs stand-in's key, persisted
	tempDir    bool
	// lock is held on StateDir/emulator.lock from Start to Close: two
	// emulators on one state directory would overwrite each other's keys
	// and state file.
	lock      *filelock.Lock
	closeOnce sync.Once
	closeErr  error
}

// Start generates or loads the key material, builds the tenant and starts
// serving HTTPS. It returns once the server accepts connections.
func Start(ctx context.Context, opts Options) (*Emulator, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	e := &Emulator{opts: opts, log: opts.Logger, serveDone: make(chan struct{}), stopSaving: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			e.cleanup()
		}
	}()

	if err := e.prepareStateDir(); err != nil {
		return nil, err
	}
	ca, err := pki.LoadOrCreateCA(e.StateDir)
	if err != nil {
		return nil, fmt.Errorf("emulator CA: %w", err)
	}
	serverCert, err := ca.ServerCertificate(e.StateDir)
	if err != nil {
		return nil, fmt.Errorf("emulator server certificate: %w", err)
	}
	signingKey, err := pki.LoadOrCreateKeyPair(e.StateDir, SigningKeyFile, "hookctl emulator token signing")
	if err != nil {
		return nil, fmt.Errorf("emulator signing key: %w", err)
	}
	appCert, err := pki.LoadOrCreateKeyPair(e.StateDir, AppCertFile, "hookctl emulator confidential client")
	if err != nil {
		return nil, fmt.Errorf("emulator app certificate: %w", err)
	}
	e.CAFile = filepath.Join(e.StateDir, pki.CAFile)
	e.ca, e.CAPool = ca, ca.Pool()

	st, err := loadState(e.stateFile)
	if err != nil {
		return nil, err
	}
	if e.Tenant, err = buildTenant(opts.Seed, st, appCert); err != nil {
		return nil, err
	}
	e.describeTenant(appCert)

	e.Identity, err = idp.New(idp.Config{
		Tenant:                e.Tenant,
		SigningKey:            signingKey,
		AutoApprove:           opts.AutoApprove,
		AccessTokenLifetime:   opts.AccessTokenLifetime,
		RefreshTokenLifetime:  opts.RefreshTokenLifetime,
		AuthCodeLifetime:      opts.AuthCodeLifetime,
		DeviceCodeLifetime:    opts.DeviceCodeLifetime,
		DeviceCodeInterval:    opts.DeviceCodeInterval,
		DeviceCodePollMinimum: opts.DeviceCodePollMinimum,
		Now:                   opts.Now,
		Logger:                opts.Logger.With("component", "identity"),
	})
	if err != nil {
		return nil, err
	}
	e.Identity.Restore(st.Identity)
	if err := e.startHub(ctx, st, serverCert); err != nil {
		return nil, err
	}
	if err := e.startGraph(st); err != nil {
		return nil, err
	}

	var lc net.ListenConfig
	e.listener, err = lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listening on %s: %w (is another emulator running? pick another --addr)", opts.Addr, err)
	}
	e.setURLs(e.listener.Addr().(*net.TCPAddr))
	e.server = &http.Server{
		Handler:           e.routes(),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(e.serveDone)
		if err := e.server.ServeTLS(e.listener, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("emulator server stopped", "err", err)
		}
	}()
	if err := e.saveState(); err != nil {
		return nil, err
	}
	if e.stateFile != "" {
		go e.autosave()
	}
	ok = true
	return e, nil
}

// autosaveInterval bounds what a crash (SIGKILL, power loss) can lose.
const autosaveInterval = 30 * time.Second

// autosave writes the state file periodically until Close.
func (e *Emulator) autosave() {
	ticker := time.NewTicker(autosaveInterval)
	defer ticker.Stop()
	for {
		select {
		case <-e.stopSaving:
			return
		case <-ticker.C:
			if err := e.saveState(); err != nil {
				e.log.Error("emulator: saving state", "err", err)
			}
		}
	}
}

// prepareStateDir picks the state directory: the configured one, or a fresh
// temporary one seeded with this process's throw-away key material.
func (e *Emulator) prepareStateDir() error {
	if e.opts.StateDir != "" {
		e.StateDir = e.opts.StateDir
		e.stateFile = e.opts.StateFile
		if e.stateFile == "" {
			e.stateFile = filepath.Join(e.StateDir, DefaultStateFile)
		}
		return e.lockStateDir()
	}
	dir, err := os.MkdirTemp("", "hookctl-emulator-")
	if err != nil {
		return fmt.Errorf("emulator: creating a temporary state directory: %w", err)
	}
	e.StateDir, e.tempDir = dir, true
	return seedEphemeral(dir)
}

// LockFile is the lock an emulator holds on its state directory while it runs.
const LockFile = "emulator.lock"

// lockStateDir takes the state directory's lock without waiting.
func (e *Emulator) lockStateDir() error {
	path := filepath.Join(e.StateDir, LockFile)
	now, cancel := context.WithCancel(context.Background())
	cancel() // one try: the holder runs until stopped
	lock, err := filelock.Acquire(now, path, true)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("emulator: another hookctl emulator is running on the state directory %s; stop it (`hookctl emulator stop`, or Ctrl-C where it runs) or give this one its own --state file in another directory", e.StateDir)
	}
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	e.lock = lock
	return nil
}

// setURLs derives the public URLs from the listening address. A wildcard
// address is reached through 127.0.0.1, which the certificate covers.
func (e *Emulator) setURLs(addr *net.TCPAddr) {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	e.URL = "https://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
	e.Authority = e.URL + "/" + e.TenantID
	e.GraphURL = e.URL + "/v1.0"
	e.ControlURL = e.URL + "/_emulator"
}

// describeTenant fills the convenience fields from the tenant.
func (e *Emulator) describeTenant(appCert *pki.KeyPair) {
	e.TenantID = e.Tenant.ID
	e.Users = e.Tenant.Users
	for _, app := range e.Tenant.Apps {
		switch {
		case app.Public && e.PublicClientID == "":
			e.PublicClientID = app.ClientID
		case !app.Public && e.ConfidentialClientID == "":
			e.ConfidentialClientID = app.ClientID
			e.ClientSecret = app.Secret
			if app.CertificatePEM == string(appCert.CertPEM) {
				e.CertificateFile = filepath.Join(e.StateDir, AppCertFile)
			}
		}
	}
}

// startGraph starts the Graph service over the tenant, restoring its
// persisted mail and subscriptions.
func (e *Emulator) startGraph(st *persisted) error {
	cfg := e.opts.Graph
	cfg.Tenant, cfg.Auth, cfg.Now = e.Tenant, e.Identity, e.opts.Now
	cfg.Logger = e.opts.Logger.With("component", "graph")
	// Receivers may sit behind this emulator's CA (an HTTPS listener of
	// hookctl's) or a public one (a tunnel): trust both.
	cfg.DeliveryClient = &http.Client{Transport: e.transport()}
	cfg.EventHub = e.Hub
	e.Graph = graphsim.New(cfg)
	if len(st.Graph) == 0 {
		return nil
	}
	var state graphsim.State
	if err := json.Unmarshal(st.Graph, &state); err != nil {
		return fmt.Errorf("emulator: the Graph part of the state file is unreadable (%v): move the file away to start afresh", err)
	}
	return e.Graph.Restore(state)
}

// HTTPClient returns a client that trusts the emulator's CA (and the system roots).
func (e *Emulator) HTTPClient() *http.Client {
	return &http.Client{Transport: e.transport(), Timeout: 30 * time.Second}
}

func (e *Emulator) transport() *http.Transport {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AddCert(e.ca.Cert)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return transport
}

// ApproveDeviceCode signs user (UPN or id) in on the device code userCode.
func (e *Emulator) ApproveDeviceCode(userCode, user string) error {
	return e.Identity.ApproveDeviceCode(userCode, user)
}

// DenyDeviceCode declines the device code userCode.
func (e *Emulator) DenyDeviceCode(userCode string) error {
	return e.Identity.DenyDeviceCode(userCode)
}

// UserToken returns a delegated Graph access token for user (UPN or id)
// issued to the public client, without a sign-in flow.
func (e *Emulator) UserToken(user string, scopes ...string) (string, error) {
	return e.Identity.MintUserToken(e.PublicClientID, user, scopes)
}

// AppToken returns an app-only Graph access token for the confidential
// client with its granted roles, without a client-credentials request.
func (e *Emulator) AppToken() (string, error) {
	return e.Identity.MintAppToken(e.ConfidentialClientID, nil)
}

// Close stops serving (waiting up to 5 s for requests in flight), saves the
// state and removes a temporary state directory. It is safe to call twice.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.server.Shutdown(ctx); err != nil {
			e.closeErr = fmt.Errorf("emulator: shutting down: %w", err)
			_ = e.server.Close()
		}
		<-e.serveDone
		close(e.stopSaving)
		if err := e.saveState(); err != nil && e.closeErr == nil {
			e.closeErr = err
		}
		e.cleanup()
	})
	return e.closeErr
}

func (e *Emulator) cleanup() {
	if e.Graph != nil {
		e.Graph.Close()
	}
	if e.Hub != nil {
		e.Hub.Close()
	}
	switch {
	case e.server != nil:
		// Start failed after serving began, or Close already shut it down.
		_ = e.server.Close()
		<-e.serveDone
	case e.listener != nil:
		_ = e.listener.Close()
	}
	if e.tempDir {
		_ = os.RemoveAll(e.StateDir)
	}
	if e.lock != nil {
		e.lock.Release()
		e.lock = nil
	}
}
