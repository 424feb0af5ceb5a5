// Package teams signs and verifies Microsoft Teams outgoing-webhook requests
// and models the message activities they carry.
package teams

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Scheme is the Authorization scheme Teams uses for outgoing webhooks.
const Scheme = "HMAC"

// Key is one outgoing-webhook security token, decoded.
type Key struct {
	// Name selects the key with the receiver's ?id=NAME query; "" when unnamed.
	Name string
	// Secret is the base64-decoded security token: the HMAC-SHA256 key.
	Secret []byte
}

// String never shows the secret, so a Key can be logged or printed by mistake.
func (k Key) String() string {
	if k.Name == "" {
		return "teams.Key(unnamed)"
	}
	return "teams.Key(" + k.Name + ")"
}

// GoString keeps %#v from printing the secret too.
func (k Key) GoString() string { return k.String() }

// ParseKey reads a key given as "BASE64" or "NAME:BASE64". The separator is a
// colon because base64 tokens end in '='. Errors never contain the secret.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	var key Key
	encoded := s
	if name, rest, found := strings.Cut(s, ":"); found {
		if err := checkKeyName(name); err != nil {
			return Key{}, err
		}
		key.Name, encoded = name, strings.TrimSpace(rest)
	}
	if encoded == "" {
		return Key{}, errors.New("teams key is empty: give the security token Teams showed when the outgoing webhook was created")
	}
	secret, err := decodeBase64(encoded)
	if err != nil {
		return Key{}, fmt.Errorf("teams key%s is not valid base64: give the security token exactly as Teams showed it (NAME:TOKEN for a named key)", describeName(key.Name))
	}
	if len(secret) == 0 {
		return Key{}, fmt.Errorf("teams key%s decodes to nothing: give the security token Teams showed", describeName(key.Name))
	}
	key.Secret = secret
	return key, nil
}

// ParseKeys parses every value with ParseKey and refuses two keys with the same name.
func ParseKeys(values []string) ([]Key, error) {
	keys := make([]Key, 0, len(values))
	seen := map[string]bool{}
	for i, value := range values {
		key, err := ParseKey(value)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if key.Name != "" {
			if seen[key.Name] {
				return nil, fmt.Errorf("key %d: the name %q is used twice: give each named key a different NAME", i+1, key.Name)
			}
			seen[key.Name] = true
		}
		keys = append(keys, key)
	}
	return keys, nil
}

func describeName(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" %q", name)
}

// checkKeyName keeps names usable in a URL query (?id=NAME) without escaping.
func checkKeyName(name string) error {
	if name == "" {
		return errors.New("teams key name before ':' is empty: use NAME:TOKEN or just TOKEN")
	}
	if len(name) > 64 {
		return errors.New("teams key name is longer than 64 characters")
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			// The name is not secret, but a mistyped token might land here: don't echo it.
			return errors.New("teams key name may hold only letters, digits, '-', '_' and '.' (use NAME:TOKEN)")
		}
	}
	return nil
}

// decodeBase64 accepts standard base64 with or without padding (Teams shows it padded).
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.Strict().DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.Strict().DecodeString(s)
}

// Sign returns the Authorization header value Teams sends for body:
// "HMAC " + base64(HMAC-SHA256(secret, body)).
func Sign(secret, body []byte) string {
	return Scheme + " " + base64.StdEncoding.EncodeToString(mac(secret, body))
}

func mac(secret, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(body)
	return h.Sum(nil)
}

// Reason says why a request did not verify.
type Reason string

// The reasons Verify gives. They are stable strings, fit for JSON output.
const (
	ReasonMissingHeader Reason = "missing_header" // no Authorization header
	ReasonWrongScheme   Reason = "wrong_scheme"   // Authorization is not "HMAC <base64>"
	ReasonBadBase64     Reason = "bad_base64"     // the signature is not base64
	ReasonMismatch      Reason = "mismatch"       // no key gives that signature
	ReasonUnknownKey    Reason = "unknown_key"    // ?id=NAME names no configured key
	ReasonNoKeys        Reason = "no_keys"        // no key is configured at all
)

// Text is the human sentence for the reason.
func (r Reason) Text() string {
	switch r {
	case ReasonMissingHeader:
		return "missing Authorization header"
	case ReasonWrongScheme:
		return `wrong Authorization scheme (want "HMAC <base64>")`
	case ReasonBadBase64:
		return "signature is not valid base64"
	case ReasonMismatch:
		return "signature mismatch"
	case ReasonUnknownKey:
		return "unknown key name"
	case ReasonNoKeys:
		return "no HMAC key configured"
	default:
		return string(r)
	}
}

// VerifyError is the error Verify returns, always as *VerifyError. Its text
// never holds a key or the signature.
type VerifyError struct {
	Reason Reason
}

func (e *VerifyError) Error() string { return e.Reason.Text() }

// ReasonOf returns the Reason of a verification error, or "" for any other error.
func ReasonOf(err error) Reason {
	var verifyErr *VerifyError
	if errors.As(err, &verifyErr) {
		return verifyErr.Reason
	}
	return ""
}

// ParseAuthHeader reads "HMAC <base64>" and returns the decoded signature.
// The scheme is matched case-insensitively (RFC 9110 §11.1) and surrounding
// spaces are ignored; anything else is a *VerifyError.
func ParseAuthHeader(header string) ([]byte, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return nil, &VerifyError{Reason: ReasonMissingHeader}
	}
	scheme, value := header, ""
	if i := strings.IndexAny(header, " \t"); i >= 0 {
		scheme, value = header[:i], header[i+1:]
	}
	if !strings.EqualFold(scheme, Scheme) {
		return nil, &VerifyError{Reason: ReasonWrongScheme}
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, &VerifyError{Reason: ReasonBadBase64}
	}
	signature, err := decodeBase64(value)
	if err != nil {
		return nil, &VerifyError{Reason: ReasonBadBase64}
	}
	return signature, nil
}

// Verify checks authHeader against body, the exact request bytes. With
// keyName "" every key is tried; otherwise only the key of that name.
// Comparisons are constant-time. It returns nil or a *VerifyError.
func Verify(authHeader string, body []byte, keys []Key, keyName string) error {
	signature, err := ParseAuthHeader(authHeader)
	if err != nil {
		return err
	}
	if keyName != "" {
		for _, key := range keys {
			if key.Name == keyName {
				if hmac.Equal(mac(key.Secret, body), signature) {
					return nil
				}
				return &VerifyError{Reason: ReasonMismatch}
			}
		}
		return &VerifyError{Reason: ReasonUnknownKey}
	}
	if len(keys) == 0 {
		return &VerifyError{Reason: ReasonNoKeys}
	}
	// Try every key without stopping early, so timing does not tell which matched.
	matched := 0
	for _, key := range keys {
		matched |= subtle.ConstantTimeCompare(mac(key.Secret, body), signature)
	}
	if matched == 1 {
		return nil
	}
	return &VerifyError{Reason: ReasonMismatch}
}
