package enccert

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/hookctl/hookctl/pkg/notification"

	_ "github.com/hookctl/hookctl/internal/golden" // every test binary accepts -update
)

func TestForProfileCreatesOnceWithPrivateFiles(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	ctx := context.Background()
	var wg sync.WaitGroup
	pairs := make([]*Pair, 4)
	createdCount := 0
	var mu sync.Mutex
	for i := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pair, created, err := ForProfile(ctx, state, "work")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			pairs[i] = pair
			if created {
				createdCount++
			}
		}()
	}
	wg.Wait()
	if createdCount != 1 {
		t.Fatalf("%d callers created a pair, want 1", createdCount)
	}
	for _, p := range pairs[1:] {
		if p == nil || p.ID != pairs[0].ID {
			t.Fatalf("concurrent callers got different pairs")
		}
	}
	p := pairs[0]
	if p.Key == nil || p.Key.N.BitLen() < 2048 || !strings.HasPrefix(p.ID, "hookctl-") || p.ID != IDOf(p.Cert) {
		t.Errorf("pair: id %q, key %v", p.ID, p.Key != nil)
	}
	if p.Cert.CheckSignature(p.Cert.SignatureAlgorithm, p.Cert.RawTBSCertificate, p.Cert.Signature) != nil {
		t.Error("the certificate is not self-signed")
	}
	info, err := os.Stat(ProfilePath(state, "work"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", info.Mode(), err)
	}
	if dir, _ := os.Stat(Dir(state)); dir.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", dir.Mode())
	}
	again, created, err := ForProfile(ctx, state, "work")
	if err != nil || created || again.ID != p.ID {
		t.Errorf("second use: %v %v %v", again.ID, created, err)
	}
	other, _, err := ForProfile(ctx, state, "")
	if err != nil || other.ID == p.ID || filepath.Base(other.Path) != "default.pem" {
		t.Errorf("another profile shares the pair: %v %v", other.Path, err)
	}
	owned, err := Owned(state)
	if err != nil || len(owned) != 2 {
		t.Errorf("Owned = %d pairs, %v", len(owned), err)
	}
	der, _ := base64.StdEncoding.DecodeString(p.Encoded())
	if string(der) != string(p.Cert.Raw) {
		t.Error("Encoded is not the base64 DER")
	}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func selfSigned(t *testing.T, public, private any) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "t"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, public, private)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestLoad(t *testing.T) {
	t.Parallel()
	pair, pemBytes, err := Generate(2048, "test")
	if err != nil {
		t.Fatal(err)
	}
	certOnly := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pair.Cert.Raw})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(pair.Key)})
	pfx, err := pkcs12.Modern.Encode(pair.Key, pair.Cert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := Generate(2048, "other")
	mismatched := append(append([]byte{}, certOnly...), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other.Key)})...)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t, &ecKey.PublicKey, ecKey)})
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t, &small.PublicKey, small)})

	tests := []struct {
		name, file, password string
		data                 []byte
		wantKey              bool
		err                  string
	}{
		{"PEM key and certificate", "a.pem", "", pemBytes, true, ""},
		{"PEM certificate only", "b.pem", "", certOnly, false, ""},
		{"PEM PKCS#1 key", "c.pem", "", append(append([]byte{}, pkcs1...), certOnly...), true, ""},
		{"PKCS#12", "d.pfx", "s3cret", pfx, true, ""},
		{"PKCS#12, wrong password", "e.pfx", "nope", pfx, false, "--encryption-cert-password-env"},
		{"mismatched key", "f.pem", "", mismatched, false, "does not belong"},
		{"ECDSA", "g.pem", "", ecCert, false, "not RSA"},
		{"1024 bits", "h.pem", "", smallCert, false, "1024 bits"},
		{"no certificate", "i.pem", "", pkcs1, false, "no CERTIFICATE"},
	}
	for _, tt := range tests {
		got, err := Load(writeFile(t, tt.file, tt.data), tt.password)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.ID != pair.ID || (got.Key != nil) != tt.wantKey {
			t.Errorf("%s: id %s (want %s), key %v", tt.name, got.ID, pair.ID, got.Key != nil)
		}
	}
}

func TestNewDecryptor(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	own, _, err := ForProfile(context.Background(), state, "default")
	if err != nil {
		t.Fatal(err)
	}
	given, pemBytes, err := Generate(2048, "given")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeFile(t, "given.pem", pemBytes)
	certOnly := writeFile(t, "cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: given.Cert.Raw}))

	d, skipped, err := NewDecryptor(state, []KeyFile{{Path: keyFile}})
	if err != nil || skipped != nil {
		t.Fatal(err, skipped)
	}
	for _, pair := range []*Pair{own, given} {
		content := encryptTo(t, pair, `{"id":"1"}`)
		if plain, err := d.Decrypt(&content); err != nil || string(plain) != `{"id":"1"}` {
			t.Errorf("%s: %q %v", pair.ID, plain, err)
		}
	}
	if _, _, err := NewDecryptor(state, []KeyFile{{Path: certOnly}}); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Errorf("a certificate without its key: %v", err)
	}
	if _, _, err := NewDecryptor(state, []KeyFile{{Path: filepath.Join(state, "missing.pem")}}); err == nil {
		t.Error("a missing file was accepted")
	}
	if err := os.WriteFile(filepath.Join(Dir(state), "broken.pem"), []byte("-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if d, skipped, err := NewDecryptor(state, nil); err != nil || skipped == nil || d == nil {
		t.Errorf("a damaged own file must be skipped and reported: %v %v", skipped, err)
	}
}

// encryptTo encrypts plaintext for pair as Graph does (RSA-OAEP-SHA1 key,
// AES-256-CBC, HMAC-SHA256).
func encryptTo(t *testing.T, pair *Pair, plaintext string) notification.EncryptedContent {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pair.Cert.PublicKey.(*rsa.PublicKey), key, nil)
	if err != nil {
		t.Fatal(err)
	}
	padding := aes.BlockSize - len(plaintext)%aes.BlockSize
	padded := append([]byte(plaintext), bytes.Repeat([]byte{byte(padding)}, padding)...)
	block, _ := aes.NewCipher(key)
	data := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(data, padded)
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return notification.EncryptedContent{Data: base64.StdEncoding.EncodeToString(data), DataKey: base64.StdEncoding.EncodeToString(wrapped),
		DataSignature: base64.StdEncoding.EncodeToString(mac.Sum(nil)), EncryptionCertificateID: pair.ID}
}
