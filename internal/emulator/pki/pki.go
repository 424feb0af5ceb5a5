// Package pki creates and reuses the emulator's key material: a local CA with a
// loopback server certificate, and RSA key pairs with self-signed certificates
// (the token-signing key and the confidential app's credential).
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t thumbprints are SHA-1 by definition
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hookctl/hookctl/internal/config"
)

// File names inside the state directory.
const (
	CAFile     = "ca.pem"     // the CA certificate clients trust
	caKeyFile  = "ca-key.pem" // the CA's private key
	ServerFile = "tls.pem"    // the server certificate and key
)

// LoopbackHosts are the names the server certificate covers.
var LoopbackHosts = []string{"127.0.0.1", "localhost", "::1"}

// CA is a certificate authority that signs the emulator's server certificate.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     crypto.Signer
}

// Pool returns a pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// LoadOrCreateCA reads dir/ca.pem and dir/ca-key.pem, or creates them (the key
// 0600, dir 0700) when either is missing or unusable.
func LoadOrCreateCA(dir string) (*CA, error) {
	if err := config.EnsurePrivateDir(dir); err != nil {
		return nil, err
	}
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile)
	if ca, err := loadCA(certPath, keyPath); err == nil {
		return ca, nil
	} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errUnusable) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "hookctl emulator local CA", Organization: []string{"hookctl emulator"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := config.WriteFileAtomic(keyPath, keyPEM); err != nil {
		return nil, err
	}
	if err := config.WriteFileAtomic(certPath, certPEM); err != nil {
		return nil, err
	}
	return loadCA(certPath, keyPath)
}

var errUnusable = errors.New("unusable key material")

func loadCA(certPath, keyPath string) (*CA, error) {
	cert, certPEM, key, err := loadPair(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA || time.Now().After(cert.NotAfter) {
		return nil, errUnusable
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: key}, nil
}

// ServerCertificate returns the TLS certificate for the loopback hosts, reusing
// dir/tls.pem when it is signed by ca, covers every host and is not about to expire.
func (ca *CA) ServerCertificate(dir string) (tls.Certificate, error) {
	path := filepath.Join(dir, ServerFile)
	if data, err := os.ReadFile(path); err == nil {
		if cert, err := tls.X509KeyPair(data, data); err == nil && ca.covers(cert) {
			return cert, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating server key: %w", err)
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"hookctl emulator"}},
		NotBefore:    now.Add(-time.Hour),
		// 397 days: the longest validity browsers and Apple's TLS stack accept.
		NotAfter:    now.AddDate(0, 0, 397),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, host := range LoopbackHosts {
		if ip := net.ParseIP(host); ip != nil {
			template.IPAddresses = append(template.IPAddresses, ip)
		} else {
			template.DNSNames = append(template.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating server certificate: %w", err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM...)
	if err := config.WriteFileAtomic(path, data); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(data, data)
}

func (ca *CA) covers(cert tls.Certificate) bool {
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil || time.Now().Add(24*time.Hour).After(leaf.NotAfter) {
		return false
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err != nil {
		return false
	}
	for _, host := range LoopbackHosts {
		if leaf.VerifyHostname(host) != nil {
			return false
		}
	}
	return true
}

// KeyPair is an RSA key with a self-signed certificate, as registered on an
// Entra application or used to sign tokens.
type KeyPair struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
	// PEM holds the certificate followed by the PKCS#8 private key, the format
	// MSAL's confidential.CertFromPEM reads.
	PEM []byte
	// CertPEM is the certificate alone.
	CertPEM []byte
}

// X5t is the certificate's SHA-1 thumbprint, base64url without padding (the
// `x5t` and `kid` of tokens signed with it).
func (kp *KeyPair) X5t() string { return ThumbprintSHA1(kp.Cert) }

// LoadOrCreateKeyPair reads dir/name, or creates an RSA-2048 key with a
// self-signed certificate for commonName and writes both there (0600).
func LoadOrCreateKeyPair(dir, name, commonName string) (*KeyPair, error) {
	if err := config.EnsurePrivateDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	if kp, err := LoadKeyPair(path); err == nil {
		return kp, nil
	} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errUnusable) {
		return nil, err
	}
	kp, err := NewKeyPair(commonName)
	if err != nil {
		return nil, err
	}
	if err := config.WriteFileAtomic(path, kp.PEM); err != nil {
		return nil, err
	}
	return kp, nil
}

// NewKeyPair creates an RSA-2048 key and a self-signed certificate valid for two years.
func NewKeyPair(commonName string) (*KeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating RSA key: %w", err)
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate for %s: %w", commonName, err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return parseKeyPair(slices.Concat(certPEM, keyPEM))
}

// LoadKeyPair reads a PEM file holding a certificate and its RSA private key.
func LoadKeyPair(path string) (*KeyPair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseKeyPair(data)
}

func parseKeyPair(data []byte) (*KeyPair, error) {
	var (
		cert    *x509.Certificate
		certPEM []byte
		key     *rsa.PrivateKey
	)
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			if cert == nil {
				c, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					return nil, fmt.Errorf("%w: %v", errUnusable, err)
				}
				cert, certPEM = c, pem.EncodeToMemory(block)
			}
		case "PRIVATE KEY", "RSA PRIVATE KEY":
			k, err := parsePrivateKey(block)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", errUnusable, err)
			}
			rsaKey, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("%w: the private key is not RSA", errUnusable)
			}
			key = rsaKey
		}
	}
	if cert == nil || key == nil {
		return nil, fmt.Errorf("%w: a certificate and an RSA private key are both needed", errUnusable)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("%w: the certificate does not match the private key", errUnusable)
	}
	if time.Now().After(cert.NotAfter) {
		return nil, fmt.Errorf("%w: the certificate expired", errUnusable)
	}
	return &KeyPair{Cert: cert, Key: key, PEM: data, CertPEM: certPEM}, nil
}

// ParseCertificatePEM reads the first certificate of a PEM text.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM certificate found")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// ThumbprintSHA1 is base64url(SHA-1(DER)) without padding: a certificate's `x5t`.
func ThumbprintSHA1(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw) //nolint:gosec // defined as SHA-1
	return b64url(sum[:])
}

// ThumbprintSHA256 is base64url(SHA-256(DER)) without padding: a certificate's `x5t#S256`.
func ThumbprintSHA256(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return b64url(sum[:])
}

// SameThumbprint compares a thumbprint as a JWT header carries it with want
// (raw bytes): base64url or standard base64, with or without padding, since
// MSAL sends standard base64 and RFC 7515 says base64url.
func SameThumbprint(header string, want []byte) bool {
	for _, decode := range decoders {
		if got, err := decode(header); err == nil {
			return bytes.Equal(got, want)
		}
	}
	return false
}

// SHA1 is the SHA-1 of a certificate's DER, for SameThumbprint.
func SHA1(cert *x509.Certificate) []byte {
	sum := sha1.Sum(cert.Raw) //nolint:gosec // defined as SHA-1
	return sum[:]
}

// SHA256 is the SHA-256 of a certificate's DER.
func SHA256(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.Raw)
	return sum[:]
}

func loadPair(certPath, keyPath string) (*x509.Certificate, []byte, crypto.Signer, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %s: %v", errUnusable, certPath, err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, nil, fmt.Errorf("%w: %s holds no PEM key", errUnusable, keyPath)
	}
	key, err := parsePrivateKey(block)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %s: %v", errUnusable, keyPath, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w: %s: not a signing key", errUnusable, keyPath)
	}
	return cert, certPEM, signer, nil
}

func parsePrivateKey(block *pem.Block) (any, error) {
	if block.Type == "RSA PRIVATE KEY" {
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	if block.Type == "EC PRIVATE KEY" {
		return x509.ParseECPrivateKey(block.Bytes)
	}
	return x509.ParsePKCS8PrivateKey(block.Bytes)
}

func marshalKey(key any) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

var decoders = []func(string) ([]byte, error){
	base64.RawURLEncoding.DecodeString,
	base64.URLEncoding.DecodeString,
	base64.StdEncoding.DecodeString,
	base64.RawStdEncoding.DecodeString,
}
