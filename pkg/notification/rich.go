package notification

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // Graph's scheme: RSA-OAEP with SHA-1, and SHA-1 thumbprints
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// EncryptedContent is a rich notification's encryptedContent (PROTOCOL.md §5).
type EncryptedContent struct {
	Data                            string `json:"data"`
	DataKey                         string `json:"dataKey"`
	DataSignature                   string `json:"dataSignature"`
	EncryptionCertificateID         string `json:"encryptionCertificateId"`
	EncryptionCertificateThumbprint string `json:"encryptionCertificateThumbprint"`
}

// EncryptedContent returns the item's encryptedContent, or nil when it has none.
func (n *Notification) EncryptedContent() (*EncryptedContent, error) {
	if !bytes.Contains(n.Raw, []byte(`"encryptedContent"`)) {
		return nil, nil // not a rich notification (nearly all): no decoding
	}
	var item struct {
		EncryptedContent *EncryptedContent `json:"encryptedContent"`
	}
	if err := json.Unmarshal(n.Raw, &item); err != nil {
		return nil, &DecryptError{Reason: ErrMalformed, Detail: "encryptedContent is not an object"}
	}
	return item.EncryptedContent, nil
}

// Why decryption failed: a closed set, so callers can count and explain.
var (
	// ErrUnknownCertificate: no private key for the item's encryptionCertificateId.
	ErrUnknownCertificate = errors.New("no private key for this encryption certificate")
	// ErrMalformed: a field is missing or not base64.
	ErrMalformed = errors.New("encryptedContent is malformed")
	// ErrWrongKey: the private key does not unwrap dataKey (RSA-OAEP-SHA1).
	ErrWrongKey = errors.New("dataKey does not decrypt with this private key")
	// ErrBadSignature: HMAC-SHA256 of data does not match dataSignature; nothing was decrypted.
	ErrBadSignature = errors.New("dataSignature does not match the data")
	// ErrBadPadding: the decrypted data has no valid PKCS#7 padding.
	ErrBadPadding = errors.New("the decrypted data has bad padding")
)

// DecryptError is a failed decryption: Reason is one of the Err values above
// (errors.Is works), Detail says more in words. Neither ever holds key material.
type DecryptError struct {
	Reason error
	Detail string
}

func (e *DecryptError) Error() string {
	if e.Detail == "" {
		return e.Reason.Error()
	}
	return e.Reason.Error() + ": " + e.Detail
}

func (e *DecryptError) Unwrap() error { return e.Reason }

// symmetricKeyLength is the AES-256 key Graph wraps in dataKey.
const symmetricKeyLength = 32

// Decrypt reads encryptedContent with the certificate's private key:
// RSA-OAEP-SHA1 unwraps the 32-byte key, HMAC-SHA256 of data must equal
// dataSignature (compared in constant time, before anything is decrypted),
// then AES-256-CBC with IV = the key's first 16 bytes and PKCS#7 padding.
// The plaintext is the resource as JSON. Failures are *DecryptError.
func Decrypt(content *EncryptedContent, key *rsa.PrivateKey) ([]byte, error) {
	decode := func(name, value string) ([]byte, error) {
		if value == "" {
			return nil, &DecryptError{Reason: ErrMalformed, Detail: name + " is missing"}
		}
		b, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return nil, &DecryptError{Reason: ErrMalformed, Detail: name + " is not base64"}
		}
		return b, nil
	}
	wrapped, err := decode("dataKey", content.DataKey)
	if err != nil {
		return nil, err
	}
	data, err := decode("data", content.Data)
	if err != nil {
		return nil, err
	}
	signature, err := decode("dataSignature", content.DataSignature)
	if err != nil {
		return nil, err
	}
	symmetric, err := rsa.DecryptOAEP(sha1.New(), nil, key, wrapped, nil)
	if err != nil || len(symmetric) != symmetricKeyLength {
		return nil, &DecryptError{Reason: ErrWrongKey}
	}
	mac := hmac.New(sha256.New, symmetric)
	mac.Write(data)
	if subtle.ConstantTimeCompare(mac.Sum(nil), signature) != 1 {
		return nil, &DecryptError{Reason: ErrBadSignature}
	}
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, &DecryptError{Reason: ErrMalformed, Detail: "data is not a whole number of AES blocks"}
	}
	block, err := aes.NewCipher(symmetric)
	if err != nil {
		return nil, &DecryptError{Reason: ErrWrongKey}
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, symmetric[:aes.BlockSize]).CryptBlocks(plain, data)
	return unpad(plain)
}

// unpad removes PKCS#7 padding.
func unpad(plain []byte) ([]byte, error) {
	n := int(plain[len(plain)-1])
	if n < 1 || n > aes.BlockSize || n > len(plain) {
		return nil, &DecryptError{Reason: ErrBadPadding}
	}
	for _, b := range plain[len(plain)-n:] {
		if int(b) != n {
			return nil, &DecryptError{Reason: ErrBadPadding}
		}
	}
	return plain[:len(plain)-n], nil
}

// Thumbprint is a certificate's hex SHA-1, upper case, as Graph sends it in
// encryptionCertificateThumbprint.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw) //nolint:gosec // Graph's thumbprint is SHA-1
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// Decryptor holds private keys by encryptionCertificateId (and by
// thumbprint, when the certificate is known) and decrypts rich items with the
// matching one. It is safe for concurrent use; its zero value is empty.
type Decryptor struct {
	mu           sync.RWMutex
	byID         map[string]*rsa.PrivateKey
	byThumbprint map[string]*rsa.PrivateKey
}

// Add registers a private key under a certificate id; cert may be nil, else
// its thumbprint finds the key too (for a subscription made with another id).
func (d *Decryptor) Add(certificateID string, cert *x509.Certificate, key *rsa.PrivateKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byID == nil {
		d.byID, d.byThumbprint = map[string]*rsa.PrivateKey{}, map[string]*rsa.PrivateKey{}
	}
	if certificateID != "" {
		d.byID[certificateID] = key
	}
	if cert != nil {
		d.byThumbprint[Thumbprint(cert)] = key
	}
}

// key finds the private key for content: by id first, then by thumbprint.
func (d *Decryptor) key(content *EncryptedContent) *rsa.PrivateKey {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if key, ok := d.byID[content.EncryptionCertificateID]; ok {
		return key
	}
	return d.byThumbprint[strings.ToUpper(content.EncryptionCertificateThumbprint)]
}

// Decrypt decrypts content with the key registered for its certificate.
func (d *Decryptor) Decrypt(content *EncryptedContent) ([]byte, error) {
	key := d.key(content)
	if key == nil {
		return nil, &DecryptError{Reason: ErrUnknownCertificate, Detail: fmt.Sprintf("encryptionCertificateId %q", content.EncryptionCertificateID)}
	}
	return Decrypt(content, key)
}

// DecryptItem decrypts a notification's encryptedContent into the resource
// object it carries. It returns nil, nil for an item without encryptedContent.
func (d *Decryptor) DecryptItem(n *Notification) (json.RawMessage, error) {
	content, err := n.EncryptedContent()
	if err != nil || content == nil {
		return nil, err
	}
	plain, err := d.Decrypt(content)
	if err != nil {
		return nil, err
	}
	if !json.Valid(plain) || !isObject(plain) {
		return nil, &DecryptError{Reason: ErrMalformed, Detail: "the decrypted resource is not a JSON object"}
	}
	return plain, nil
}

func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}
