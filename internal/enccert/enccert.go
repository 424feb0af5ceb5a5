// Package enccert manages the certificates Graph encrypts rich notifications
// with: hookctl's own key pair per profile, and certificates users bring.
package enccert

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/filelock"
)

// Graph accepts RSA keys of 2,048 to 4,096 bits (PROTOCOL.md §1).
const (
	MinBits = 2048
	MaxBits = 4096
)

// generatedLifetime is how long hookctl's own certificate is valid. Graph does
// not check it; it is long so the id, and subscriptions made with it, stay put.
const generatedLifetime = 10 * 365 * 24 * time.Hour

// Pair is an encryption certificate and, when known, its private key.
type Pair struct {
	// ID is the encryptionCertificateId sent to Graph: derived from the
	// certificate (never a secret), so the same certificate always has it.
	ID   string
	Cert *x509.Certificate
	// Key is nil for a certificate given without its private key: Graph can
	// encrypt to it, but hookctl cannot decrypt.
	Key *rsa.PrivateKey
	// Path is the file it was read from.
	Path string
}

// IDOf derives a certificate's id: "hookctl-" and the first 16 bytes of the
// SHA-256 of its DER, in hex (41 characters; Graph allows 128).
func IDOf(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "hookctl-" + hex.EncodeToString(sum[:16])
}

// Encoded is the certificate as Graph wants encryptionCertificate: base64 DER.
func (p *Pair) Encoded() string { return base64.StdEncoding.EncodeToString(p.Cert.Raw) }

// Dir is where hookctl keeps its own key pairs in a state directory.
func Dir(stateDir string) string { return filepath.Join(stateDir, "encryption") }

// ProfilePath is the PEM file (private key and certificate, 0600) of a
// profile's own key pair.
func ProfilePath(stateDir, profile string) string {
	if profile == "" {
		profile = "default"
	}
	return filepath.Join(Dir(stateDir), profile+".pem")
}

// ForProfile returns the profile's own key pair, creating it on first use:
// RSA 2048, a self-signed certificate, written 0600 in a 0700 directory.
// created reports whether it was made now. Concurrent callers (two hookctl
// processes) get the same pair.
func ForProfile(ctx context.Context, stateDir, profile string) (pair *Pair, created bool, err error) {
	path := ProfilePath(stateDir, profile)
	if pair, err := Load(path, ""); err == nil {
		return pair, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if err := config.EnsurePrivateDir(Dir(stateDir)); err != nil {
		return nil, false, err
	}
	lock, err := filelock.Acquire(ctx, path+".lock", true)
	if err != nil {
		return nil, false, fmt.Errorf("locking %s: %w", path, err)
	}
	defer lock.Release()
	if pair, err := Load(path, ""); err == nil { // made while we waited
		return pair, false, nil
	}
	pair, pemBytes, err := Generate(MinBits, "hookctl rich notifications ("+profile+")")
	if err != nil {
		return nil, false, err
	}
	if err := config.WriteFileAtomic(path, pemBytes); err != nil {
		return nil, false, err
	}
	pair.Path = path
	return pair, true, nil
}

// Generate makes an RSA key pair of bits with a self-signed certificate, and
// its PEM encoding (private key, then certificate).
func Generate(bits int, commonName string) (*Pair, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, fmt.Errorf("generating an RSA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC()
	template := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: commonName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(generatedLifetime),
		KeyUsage: x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	pemBytes = append(pemBytes, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	return &Pair{ID: IDOf(cert), Cert: cert, Key: key}, pemBytes, nil
}

// Load reads a certificate file: PEM (a CERTIFICATE, with or without its
// PRIVATE KEY / RSA PRIVATE KEY) or PKCS#12 (.pfx/.p12, with password). The
// key must be RSA of 2,048 to 4,096 bits, as Graph requires.
func Load(path, password string) (*Pair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pair *Pair
	if strings.Contains(string(data), "-----BEGIN") {
		pair, err = parsePEM(data)
	} else {
		pair, err = parsePKCS12(data, password)
	}
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	pair.Path = path
	return pair, nil
}

func parsePEM(data []byte) (*Pair, error) {
	pair := &Pair{}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			if pair.Cert != nil {
				continue // a chain: the first certificate is the one
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("reading the certificate: %w", err)
			}
			pair.Cert = cert
		case "PRIVATE KEY", "RSA PRIVATE KEY":
			key, err := parseKey(block)
			if err != nil {
				return nil, err
			}
			pair.Key = key
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key is encrypted: use a .pfx with --encryption-cert-password-env, or an unencrypted PEM key")
		}
	}
	if pair.Cert == nil {
		return nil, errors.New("no CERTIFICATE block in the PEM file")
	}
	return pair, pair.check()
}

func parseKey(block *pem.Block) (*rsa.PrivateKey, error) {
	if block.Type == "RSA PRIVATE KEY" {
		key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("reading the private key: %w", err)
		}
		return key, nil
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the private key: %w", err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("the private key is not RSA: Graph encrypts with RSA keys only")
	}
	return key, nil
}

func parsePKCS12(data []byte, password string) (*Pair, error) {
	key, cert, _, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, fmt.Errorf("neither PEM nor a readable PKCS#12 file (%v): if it has a password, name its environment variable with --encryption-cert-password-env", err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("the private key is not RSA: Graph encrypts with RSA keys only")
	}
	pair := &Pair{Cert: cert, Key: rsaKey}
	return pair, pair.check()
}

// check applies Graph's rules to the certificate and ties the key to it.
func (p *Pair) check() error {
	public, ok := p.Cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("the certificate's key is not RSA: Graph encrypts with RSA keys only")
	}
	if bits := public.N.BitLen(); bits < MinBits || bits > MaxBits {
		return fmt.Errorf("the certificate's RSA key has %d bits: Graph accepts %d to %d", bits, MinBits, MaxBits)
	}
	if p.Key != nil && !p.Key.PublicKey.Equal(public) {
		return errors.New("the private key does not belong to the certificate")
	}
	p.ID = IDOf(p.Cert)
	return nil
}

// Owned lists every key pair hookctl made in a state directory (one per
// profile), for decrypting notifications of any of them. Unreadable files are
// skipped and reported in the error, which is non-nil only then.
func Owned(stateDir string) ([]*Pair, error) {
	paths, err := filepath.Glob(filepath.Join(Dir(stateDir), "*.pem"))
	if err != nil {
		return nil, err
	}
	var pairs []*Pair
	var problems []error
	for _, path := range paths {
		pair, err := Load(path, "")
		if err != nil {
			problems = append(problems, err)
			continue
		}
		pairs = append(pairs, pair)
	}
	return pairs, errors.Join(problems...)
}
