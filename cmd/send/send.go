// Package send implements `hookctl send`: realistic Graph change notifications
// and signed Teams activities posted to any receiver, to test it.
package send

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/httpclient"
)

// NewCmdSend is the parent of the send subcommands.
func NewCmdSend(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "send <command>",
		Short: "Send realistic Graph notifications or Teams messages to a receiver",
		Long: heredoc.Doc(`
			Send what Microsoft would send, so you can test a receiver (hookctl listen or
			your own) without a tenant: Graph change and lifecycle notifications, the
			subscription validation handshake, and HMAC-signed Teams outgoing-webhook
			messages.
		`),
		Example: heredoc.Doc(`
			  $ hookctl send notification --to http://127.0.0.1:8787/notifications --client-state s3cret
			  $ hookctl send teams --to http://127.0.0.1:8787/teams --secret-env TEAMS_KEY --text "hi"
		`),
	}
	cmd.AddCommand(NewCmdNotification(f, nil))
	cmd.AddCommand(NewCmdTeams(f, nil))
	return cmd
}

// newHTTPClient trusts the system roots plus HOOKCTL_CA_FILE (the emulator's CA).
func newHTTPClient(f *factory.Factory) func() (*http.Client, error) {
	return func() (*http.Client, error) {
		caFile, _ := f.Env(httpclient.CAFileEnv)
		return httpclient.New(caFile)
	}
}

// parseTarget checks --to: an absolute http(s) URL.
func parseTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, exitcode.Usagef("--to %q is not an http:// or https:// URL", raw)
	}
	return u, nil
}

// response is what a receiver answered.
type response struct {
	status      int
	contentType string
	body        []byte // at most maxResponseBody bytes
	duration    time.Duration
}

// maxResponseBody caps what is read back: replies and error texts are small.
const maxResponseBody = 1 << 20

// post sends one request and reads the answer; the duration runs from the
// first byte sent to the last byte of the answer read.
// log (nil: none) gets a --debug line for the request and for the answer.
func post(ctx context.Context, client *http.Client, log *slog.Logger, target string, header http.Header, body []byte, timeout time.Duration) (*response, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Debug("request", "method", http.MethodPost, "url", target, "contentType", header.Get("Content-Type"), "bytes", len(body))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = header
	// Graph and Teams do not follow redirects, and following a 302 would turn
	// the POST into a GET: the redirect itself is the answer.
	noRedirects := *client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := time.Now()
	resp, err := noRedirects.Do(req)
	if err != nil {
		log.Debug("request failed", "url", target, "error", err.Error())
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, err
	}
	log.Debug("response", "status", resp.StatusCode, "contentType", resp.Header.Get("Content-Type"),
		"bytes", len(answer), "durationMs", milliseconds(time.Since(start)), "firstLine", firstLine(answer))
	return &response{
		status:      resp.StatusCode,
		contentType: resp.Header.Get("Content-Type"),
		body:        answer,
		duration:    time.Since(start),
	}, nil
}

// describeTransportError turns a client error into one line naming the host,
// with exit code 5 for a timeout and 1 otherwise.
func describeTransportError(err error, target *url.URL, timeout time.Duration) error {
	host := target.Host
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return exitcode.TimedOut(fmt.Errorf("%s did not answer within %s: raise --timeout, or make the receiver answer sooner", host, timeout))
	case errors.Is(err, context.Canceled):
		return exitcode.New(exitcode.Error, fmt.Errorf("interrupted while waiting for %s", host))
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach %s: connection refused; is the receiver running (hookctl listen)?", host)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("cannot reach %s: no such host; check the --to URL", host)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s closed the connection without an HTTP answer", host)
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return fmt.Errorf("cannot verify the TLS certificate of %s (%v); trust its CA with %s=ca.pem", host, certErr.Err, httpclient.CAFileEnv)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fmt.Errorf("cannot reach %s: %v", host, opErr.Err)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return fmt.Errorf("request to %s failed: %v", host, err)
}

func isTimeout(err error) bool {
	var timeoutErr interface{ Timeout() bool }
	return errors.As(err, &timeoutErr) && timeoutErr.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// firstLine is a short, single-line excerpt of a receiver's answer for an error message.
func firstLine(body []byte) string {
	text := strings.TrimSpace(string(body))
	if i := strings.IndexAny(text, "\r\n"); i >= 0 {
		text = text[:i]
	}
	const limit = 200
	if len(text) > limit {
		text = strings.ToValidUTF8(text[:limit], "") + "…"
	}
	return withoutControls(text)
}

// withoutControls replaces control characters other than line breaks and
// tabs with U+FFFD: a receiver's answer must not drive the user's terminal.
func withoutControls(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return '\uFFFD'
		}
		return r
	}, s)
}

// milliseconds rounds a duration for output: 2.345 ms, not 2.3451234.
func milliseconds(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
