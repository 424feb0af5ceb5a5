// Package tunnel gives a local listener the public base URL that Graph calls.
//
// Three ways exist: an embedded ngrok agent (Ngrok), a URL the user already
// exposes through their own tunnel or reverse proxy (PublicURL), and the
// loopback address itself (None, useful with the emulator). Resolve picks one
// from the --tunnel, --public-url and --ngrok-url flags.
package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/hookctl/hookctl/internal/config"
)

// Kind names how a tunnel exposes the listener.
type Kind string

// The kinds of tunnel.
const (
	KindNgrok     Kind = "ngrok"
	KindPublicURL Kind = "public-url"
	KindNone      Kind = "none"
)

// Tunnel is an open way in to the local listener.
type Tunnel interface {
	// URL is the public base URL, without a trailing slash: paths are appended to it.
	URL() string
	// Kind says which implementation opened it.
	Kind() Kind
	// Close tears the tunnel down; it is safe to call more than once.
	Close() error
}

// Opener opens a tunnel to a listener on localAddr (host:port).
type Opener interface {
	Open(ctx context.Context, localAddr string) (Tunnel, error)
}

// Join appends a path to a tunnel's base URL: Join(t, "/graph").
func Join(t Tunnel, path string) string {
	return strings.TrimRight(t.URL(), "/") + "/" + strings.TrimLeft(path, "/")
}

// Modes for --tunnel.
const (
	ModeAuto  = "auto"
	ModeNgrok = "ngrok"
	ModeNone  = "none"
)

// Settings are the user's tunnel choices, as flags and configuration give them.
type Settings struct {
	// Mode is --tunnel: auto (also when empty), ngrok or none.
	Mode string
	// PublicURL is --public-url: a URL the user's own tunnel or proxy forwards to the listener.
	PublicURL string
	// NgrokURL is --ngrok-url: a reserved ngrok domain.
	NgrokURL string
	// NgrokAuthtoken comes from NGROK_AUTHTOKEN or ngrok.authtoken (see Authtoken).
	NgrokAuthtoken string
	// Logger and Version go to the ngrok agent.
	Logger  *slog.Logger
	Version string
}

// Choice is what Resolve decided.
type Choice struct {
	Opener Opener
	Kind   Kind
	// LoopbackOnly is set when --tunnel auto found no way to be reachable from
	// the internet: the listener serves on loopback only and Graph cannot call it.
	LoopbackOnly bool
	// Notice, when set, is one line for stderr about the choice.
	Notice string
}

// Resolve turns Settings into a Choice:
//   - --public-url: PublicURL (with --tunnel auto only);
//   - --tunnel none: None;
//   - --tunnel ngrok: Ngrok, which needs an authtoken;
//   - --tunnel auto: Ngrok when an authtoken is configured, else None with
//     LoopbackOnly set.
//
// Every error it returns is a usage mistake.
func Resolve(s Settings) (*Choice, error) {
	mode := strings.ToLower(strings.TrimSpace(s.Mode))
	if mode == "" {
		mode = ModeAuto
	}
	if mode != ModeAuto && mode != ModeNgrok && mode != ModeNone {
		return nil, fmt.Errorf("--tunnel %q is not one of auto, ngrok, none", s.Mode)
	}
	if s.PublicURL != "" {
		if mode != ModeAuto {
			return nil, fmt.Errorf("--public-url and --tunnel %s exclude each other: --public-url already says how Graph reaches the listener", mode)
		}
		if s.NgrokURL != "" {
			return nil, errors.New("--public-url and --ngrok-url exclude each other: pick your own tunnel or ngrok")
		}
		p, err := NewPublicURL(s.PublicURL)
		if err != nil {
			return nil, err
		}
		return &Choice{Opener: p, Kind: KindPublicURL}, nil
	}
	if mode == ModeNone {
		if s.NgrokURL != "" {
			return nil, errors.New("--ngrok-url and --tunnel none exclude each other")
		}
		return &Choice{Opener: None{}, Kind: KindNone}, nil
	}
	if s.NgrokAuthtoken == "" {
		switch {
		case mode == ModeNgrok:
			return nil, errors.New("--tunnel ngrok needs an ngrok authtoken: set NGROK_AUTHTOKEN or ngrok.authtoken in config.yaml (https://dashboard.ngrok.com/get-started/your-authtoken)")
		case s.NgrokURL != "":
			return nil, errors.New("--ngrok-url needs an ngrok authtoken: set NGROK_AUTHTOKEN or ngrok.authtoken in config.yaml (https://dashboard.ngrok.com/get-started/your-authtoken)")
		}
		return &Choice{Opener: None{}, Kind: KindNone, LoopbackOnly: true,
			Notice: "loopback only, Graph cannot reach it: set NGROK_AUTHTOKEN for a tunnel, or pass --public-url for your own"}, nil
	}
	domain, err := normaliseNgrokURL(s.NgrokURL)
	if err != nil {
		return nil, err
	}
	return &Choice{Opener: &Ngrok{Authtoken: s.NgrokAuthtoken, URL: domain, Logger: s.Logger, Version: s.Version}, Kind: KindNgrok}, nil
}

// NotReachableError is why --subscribe cannot go on: the listener is loopback
// only, so Graph's validation call would never arrive.
type NotReachableError struct{}

func (*NotReachableError) Error() string {
	return "--subscribe needs a URL Graph can reach, but no ngrok authtoken is configured and the listener is on loopback only.\n" +
		"Set NGROK_AUTHTOKEN (or ngrok.authtoken in config.yaml) for an ngrok tunnel, pass --public-url https://... for a tunnel or proxy you run, or pass --tunnel none to subscribe with the loopback URL (the emulator only)."
}

// CheckSubscribe returns a *NotReachableError when subscriptions cannot work
// with this choice, before anything is sent to Graph.
func (c *Choice) CheckSubscribe() error {
	if c.LoopbackOnly {
		return &NotReachableError{}
	}
	return nil
}

// Authtoken finds the ngrok authtoken: NGROK_AUTHTOKEN, else ngrok.authtoken in
// the config file. source names where it came from, for messages.
func Authtoken(cfg *config.Config) (token, source string) {
	if v, ok := cfg.Env("NGROK_AUTHTOKEN"); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), "NGROK_AUTHTOKEN"
	}
	if v := strings.TrimSpace(cfg.GetString("ngrok.authtoken")); v != "" {
		return v, "ngrok.authtoken in " + cfg.File
	}
	return "", ""
}

// isLoopbackHost reports localhost and loopback IP literals.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// normaliseNgrokURL accepts "name.ngrok.app" or "https://name.ngrok.app" and
// returns the https form ("" stays "": ngrok assigns a domain).
func normaliseNgrokURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--ngrok-url %q is not a domain such as example.ngrok.app", raw)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("--ngrok-url %q must be https: Graph only calls https endpoints", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("--ngrok-url %q must be a bare domain, without path, query or credentials", raw)
	}
	return "https://" + u.Host, nil
}
