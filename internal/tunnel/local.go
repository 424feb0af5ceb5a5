package tunnel

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// PublicURL is a tunnel the user runs (cloudflared, a reverse proxy, ...):
// hookctl only listens locally and hands out the URL it was given.
type PublicURL struct {
	base string
}

// NewPublicURL checks a --public-url value: an absolute https URL (http only
// for a loopback host), without query, fragment or credentials.
func NewPublicURL(raw string) (*PublicURL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("--public-url %q is not an absolute URL such as https://hooks.example.com", raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("--public-url %q must be https: Graph only calls https endpoints (http is accepted for loopback hosts, for the emulator)", raw)
	default:
		return nil, fmt.Errorf("--public-url %q must be an https URL", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("--public-url must not carry credentials: Graph would send them nowhere useful, and logs would show them")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("--public-url %q must not carry a query or fragment: hookctl appends its own paths", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return &PublicURL{base: u.String()}, nil
}

// Open returns the public URL; the user's tunnel is assumed to forward to localAddr.
func (p *PublicURL) Open(_ context.Context, localAddr string) (Tunnel, error) {
	if _, _, err := net.SplitHostPort(localAddr); err != nil {
		return nil, fmt.Errorf("local address %q: %w", localAddr, err)
	}
	return fixed{url: p.base, kind: KindPublicURL}, nil
}

// None exposes nothing: the URL is the listener's own address, which only
// local callers such as the emulator can reach.
type None struct{}

// Open returns http://host:port for the listener, with a wildcard bind address
// replaced by the matching loopback address.
func (None) Open(_ context.Context, localAddr string) (Tunnel, error) {
	u, err := LocalURL(localAddr)
	if err != nil {
		return nil, err
	}
	return fixed{url: u, kind: KindNone}, nil
}

// LocalURL is the http URL of a listener bound to localAddr (host:port).
func LocalURL(localAddr string) (string, error) {
	host, port, err := net.SplitHostPort(localAddr)
	if err != nil {
		return "", fmt.Errorf("local address %q: %w", localAddr, err)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("local address %q has no port: open the tunnel after the listener is bound", localAddr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// fixed is a tunnel that is just a URL: nothing to tear down.
type fixed struct {
	url  string
	kind Kind
}

func (f fixed) URL() string  { return f.url }
func (f fixed) Kind() Kind   { return f.kind }
func (f fixed) Close() error { return nil }
