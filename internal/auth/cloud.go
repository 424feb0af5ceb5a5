package auth

import (
	"net/url"
	"path/filepath"
	"strings"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/httpclient"
	"github.com/hookctl/hookctl/pkg/graph"
)

// GraphURLEnv overrides the Graph service root (the emulator's /v1.0, for
// example). A sign-in records the root it was made for, and a token never
// goes to another (see GraphEndpoint).
const GraphURLEnv = "HOOKCTL_GRAPH_URL"

// Endpoint is where a profile's tokens may be sent: the Graph root of the
// cloud it signed in to, and the CA that root's certificate chains to ("" for
// the system roots alone).
type Endpoint struct {
	GraphURL string
	CAFile   string
}

// loginEndpoint is the cloud a sign-in happening now is for: HOOKCTL_GRAPH_URL
// (Microsoft's Graph when unset) and HOOKCTL_CA_FILE, made absolute so that
// the profile works from any directory.
func (m *Manager) loginEndpoint() Endpoint {
	e := Endpoint{GraphURL: graph.DefaultBaseURL}
	if v := strings.TrimSpace(m.env(GraphURLEnv)); v != "" {
		e.GraphURL = v
	}
	if v := strings.TrimSpace(m.env(httpclient.CAFileEnv)); v != "" {
		e.CAFile = v
		if abs, err := filepath.Abs(e.CAFile); err == nil {
			e.CAFile = abs
		}
	}
	return e
}

// bindEndpoint records in p the cloud it signs in to.
func (p *Profile) bindEndpoint(e Endpoint) { p.GraphURL, p.CAFile = e.GraphURL, e.CAFile }

// GraphEndpoint says where the named profile's tokens may go: the Graph root
// and CA recorded when it signed in. HOOKCTL_GRAPH_URL naming another root is
// an error that names both and the fix, so that an emulator's token never
// reaches graph.microsoft.com and a real token never reaches whatever the
// variable names. A profile saved before roots were recorded is taken to be
// Microsoft's when it signed in at Microsoft's login host; otherwise
// HOOKCTL_GRAPH_URL must say where its Graph is. With no such profile the
// variable (or Microsoft's Graph) is returned: the token request then fails
// with "run hookctl login".
func (m *Manager) GraphEndpoint(name string) (Endpoint, error) {
	fromEnv := m.loginEndpoint()
	envSet := strings.TrimSpace(m.env(GraphURLEnv)) != ""
	p, ok, err := m.Store().Get(name)
	if err != nil || !ok {
		return fromEnv, err
	}
	recorded := Endpoint{GraphURL: p.GraphURL, CAFile: p.CAFile}
	if recorded.GraphURL == "" {
		if !microsoftLogin(p.Authority) {
			if envSet {
				return fromEnv, nil
			}
			return Endpoint{}, exitcode.Usagef("profile %q signed in at %s and does not record which Graph its tokens are for, so none is assumed\nSet %s to that cloud's Graph URL, or sign in again: hookctl login%s",
				name, p.Authority, GraphURLEnv, profileFlag(name))
		}
		recorded.GraphURL = graph.DefaultBaseURL
	}
	if envSet && !sameRoot(fromEnv.GraphURL, recorded.GraphURL) {
		return Endpoint{}, exitcode.Usagef("profile %q signed in for the Graph at %s, but %s names %s; its tokens go nowhere else\nUnset %s to use %s, or sign in for %s with another profile: hookctl login --profile NAME",
			name, recorded.GraphURL, GraphURLEnv, fromEnv.GraphURL, GraphURLEnv, recorded.GraphURL, fromEnv.GraphURL)
	}
	if fromEnv.CAFile != "" {
		recorded.CAFile = fromEnv.CAFile // the environment may move the CA; the root is what is bound
	}
	return recorded, nil
}

func profileFlag(name string) string {
	if name == "" || name == "default" {
		return ""
	}
	return " --profile " + name
}

// sameRoot compares Graph roots ignoring case in scheme and host and a
// trailing slash.
func sameRoot(a, b string) bool {
	normal := func(raw string) string {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil {
			return raw
		}
		u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
		u.Path = strings.TrimRight(u.Path, "/")
		return u.String()
	}
	return normal(a) == normal(b)
}

// microsoftLogin reports whether authority is at one of Microsoft's global
// login hosts.
func microsoftLogin(authority string) bool {
	u, err := url.Parse(authority)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Hostname()) {
	case "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net":
		return true
	}
	return false
}
