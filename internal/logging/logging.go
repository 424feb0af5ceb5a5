// Package logging builds the --debug logger, which scrubs secrets from every line.
package logging

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"
)

// Redacted stands in for a secret in log output.
const Redacted = "[REDACTED]"

// Secrets is the set of values that must never reach a log line. Commands add
// every secret they handle (client secrets, tokens, clientState, HMAC keys).
type Secrets struct {
	mu     sync.RWMutex
	values []string
}

// Add registers values to scrub; empty and very short values are ignored because
// scrubbing them would mangle ordinary text.
func (s *Secrets) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if len(v) >= 4 {
			s.values = append(s.values, v)
		}
	}
}

// Scrub replaces every registered secret in text.
func (s *Secrets) Scrub(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.values {
		text = strings.ReplaceAll(text, v, Redacted)
	}
	return text
}

// secretWords mark a name as holding a secret, whatever its value.
var secretWords = [][]byte{[]byte("secret"), []byte("token"), []byte("password"), []byte("authorization"), []byte("clientstate"), []byte("assertion"), []byte("key")}

// SecretName reports whether a name (a flag, an environment variable, a log
// attribute, a header) says it holds a secret: it contains one of the secret
// words, ignoring case, "-" and "_" (client-state, CLIENT_STATE and
// clientState alike). It is the one list the root command, listen's reply
// environment, the --debug logger and the request history share. It runs
// for every header of every request a listener keeps, so an ASCII name is
// normalised on the stack.
func SecretName(name string) bool {
	var buf [64]byte
	normal := buf[:0]
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= utf8.RuneSelf:
			// Unicode case folding (the Kelvin sign is a "k"): the slow way.
			normal = []byte(strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(name)))
			i = len(name)
			continue
		case c == '-' || c == '_':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		normal = append(normal, c)
	}
	for _, word := range secretWords {
		if bytes.Contains(normal, word) {
			return true
		}
	}
	return false
}

// New returns a logger writing text lines to w when enabled, and discarding
// everything otherwise. Attributes named like secrets are replaced, and registered
// secret values are scrubbed from all other strings.
func New(w io.Writer, enabled bool, secrets *Secrets) *slog.Logger {
	if !enabled {
		return slog.New(slog.DiscardHandler)
	}
	opts := &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return a
			}
			if SecretName(a.Key) {
				return slog.String(a.Key, Redacted)
			}
			if a.Value.Kind() == slog.KindString || a.Value.Kind() == slog.KindAny {
				return slog.String(a.Key, secrets.Scrub(a.Value.String()))
			}
			return a
		},
	}
	return slog.New(&scrubHandler{Handler: slog.NewTextHandler(w, opts), secrets: secrets})
}

// scrubHandler also scrubs the message itself.
type scrubHandler struct {
	slog.Handler
	secrets *Secrets
}

func (h *scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Message = h.secrets.Scrub(r.Message)
	return h.Handler.Handle(ctx, r)
}

func (h *scrubHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &scrubHandler{Handler: h.Handler.WithAttrs(attrs), secrets: h.secrets}
}

func (h *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{Handler: h.Handler.WithGroup(name), secrets: h.secrets}
}
