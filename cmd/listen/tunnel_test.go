package listen

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/tunnel"
)

// fakeTunnel stands in for ngrok: a public URL for whatever local address it is given.
type fakeTunnel struct {
	localAddr string
	closed    int
	fail      error
}

func (f *fakeTunnel) Open(_ context.Context, localAddr string) (tunnel.Tunnel, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	f.localAddr = localAddr
	return f, nil
}

func (f *fakeTunnel) URL() string       { return "https://fake.ngrok.app" }
func (f *fakeTunnel) Kind() tunnel.Kind { return tunnel.KindNgrok }
func (f *fakeTunnel) Close() error      { f.closed++; return nil }

func TestTunnelOpenerForwardsToTheBoundSocket(t *testing.T) {
	t.Parallel()
	fake := &fakeTunnel{}
	ln, publicURL, err := (&tunnelOpener{tunnel: fake}).Open(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if publicURL != "https://fake.ngrok.app" || fake.localAddr != ln.Addr().String() || strings.HasSuffix(fake.localAddr, ":0") {
		t.Errorf("public URL %q, tunnel to %q, socket %s", publicURL, fake.localAddr, ln.Addr())
	}
	ln.Close()
	ln.Close()
	if fake.closed != 1 {
		t.Errorf("tunnel closed %d times", fake.closed)
	}

	fake = &fakeTunnel{fail: errors.New("ngrok refused the authtoken")}
	if _, _, err := (&tunnelOpener{tunnel: fake}).Open(context.Background(), "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "opening the tunnel: ngrok refused the authtoken") {
		t.Errorf("error: %v", err)
	}
}
