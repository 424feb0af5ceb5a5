package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// routes sends /v1.0/ to Graph, /_emulator/ to the control API (identity
// first, then Graph's), and everything else to the identity platform.
func (e *Emulator) routes() http.Handler {
	identity := e.Identity.Handler()
	control := e.Identity.ControlHandler()
	control.HandleFunc("GET /_emulator/settings", e.handleSettings)
	graph, graphControl := e.Graph.GraphHandler(), e.Graph.ControlHandler()
	return e.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		switch {
		case path == "/v1.0" || strings.HasPrefix(path, "/v1.0/"):
			graph.ServeHTTP(w, r)
		case strings.HasPrefix(path, "/_emulator/"):
			if _, pattern := control.Handler(r); pattern != "" {
				control.ServeHTTP(w, r)
				return
			}
			graphControl.ServeHTTP(w, r)
		default:
			identity.ServeHTTP(w, r)
		}
	}))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Settings is what a client needs to use the emulator: printed by
// `hookctl emulator -o json` and served at GET /_emulator/settings.
type Settings struct {
	URL                string             `json:"url"`
	Authority          string             `json:"authority"`
	GraphURL           string             `json:"graphUrl"`
	ControlURL         string             `json:"controlUrl"`
	CAFile             string             `json:"caFile"`
	StateDir           string             `json:"stateDir"`
	TenantID           string             `json:"tenantId"`
	Domain             string             `json:"domain"`
	PublicClient       PublicClient       `json:"publicClient"`
	ConfidentialClient ConfidentialClient `json:"confidentialClient"`
	Users              []SettingsUser     `json:"users"`
	// EventHub is the Event Hubs stand-in (nil when it is off).
	EventHub *EventHubSettings `json:"eventHub,omitempty"`
}

// PublicClient names the seeded public client app.
type PublicClient struct {
	ClientID string `json:"clientId"`
}

// ConfidentialClient names the seeded confidential app and its credentials.
type ConfidentialClient struct {
	ClientID        string `json:"clientId"`
	ClientSecret    string `json:"clientSecret"`
	CertificateFile string `json:"certificateFile,omitempty"`
}

// SettingsUser is one user of the tenant.
type SettingsUser struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
}

// Settings describes the running emulator.
func (e *Emulator) Settings() Settings {
	s := Settings{
		URL: e.URL, Authority: e.Authority, GraphURL: e.GraphURL, ControlURL: e.ControlURL,
		CAFile: e.CAFile, TenantID: e.TenantID, Domain: e.Tenant.Domain,
		PublicClient:       PublicClient{ClientID: e.PublicClientID},
		ConfidentialClient: ConfidentialClient{ClientID: e.ConfidentialClientID, ClientSecret: e.ClientSecret, CertificateFile: e.CertificateFile},
		Users:              []SettingsUser{},
	}
	if !e.tempDir {
		s.StateDir = e.StateDir
	}
	s.EventHub = e.eventHubSettings()
	for _, u := range e.Users {
		s.Users = append(s.Users, SettingsUser{ID: u.ID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName})
	}
	return s
}

func (e *Emulator) handleSettings(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, e.Settings())
}

// statusRecorder remembers the status code for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests writes one debug line per request: method, path (never the
// query, which can hold codes), status and duration.
func (e *Emulator) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		e.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start).Round(time.Microsecond))
	})
}
