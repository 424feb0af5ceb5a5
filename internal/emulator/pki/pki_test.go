package pki_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/hookctl/hookctl/internal/emulator/pki"
	_ "github.com/hookctl/hookctl/internal/golden"
)

func TestCAAndServerCertificateAreReused(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	ca, err := pki.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCertificate(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"ca.pem": 0o600, "ca-key.pem": 0o600, "tls.pem": 0o600, ".": 0o700} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, info.Mode().Perm(), mode)
		}
	}

	again, err := pki.LoadOrCreateCA(dir)
	if err != nil || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("the CA was not reused: %v", err)
	}
	certAgain, err := again.ServerCertificate(dir)
	if err != nil || !bytes.Equal(certAgain.Certificate[0], cert.Certificate[0]) {
		t.Fatalf("the server certificate was not reused: %v", err)
	}

	// A real TLS handshake for every loopback name the certificate covers.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	for _, host := range []string{"127.0.0.1", "localhost"} {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: host}}}
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatalf("TLS as %s: %v", host, err)
		}
		resp.Body.Close()
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if err := leaf.VerifyHostname("::1"); err != nil {
		t.Errorf("::1 not covered: %v", err)
	}
	if err := leaf.VerifyHostname("example.com"); err == nil {
		t.Error("the certificate covers a non-loopback name")
	}
}

func TestUnusableFilesAreReplaced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca-key.pem"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreateCA(dir)
	if err != nil || !ca.Cert.IsCA {
		t.Fatalf("a garbage CA was not replaced: %v", err)
	}
	// A server certificate from another CA is replaced.
	other, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ServerCertificate(dir); err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCertificate(dir)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err != nil {
		t.Fatalf("kept a certificate of another CA: %v", err)
	}
}

func TestKeyPair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kp, err := pki.LoadOrCreateKeyPair(dir, "app.pem", "app")
	if err != nil {
		t.Fatal(err)
	}
	again, err := pki.LoadOrCreateKeyPair(dir, "app.pem", "app")
	if err != nil || !again.Cert.Equal(kp.Cert) || !again.Key.Equal(kp.Key) {
		t.Fatalf("not reused: %v", err)
	}
	if kp.X5t() != pki.ThumbprintSHA1(kp.Cert) || len(kp.X5t()) != 27 || len(pki.ThumbprintSHA256(kp.Cert)) != 43 {
		t.Errorf("thumbprints: %s %s", kp.X5t(), pki.ThumbprintSHA256(kp.Cert))
	}
	if !pki.SameThumbprint(kp.X5t(), pki.SHA1(kp.Cert)) || pki.SameThumbprint("AAAA", pki.SHA1(kp.Cert)) || pki.SameThumbprint("!!", pki.SHA1(kp.Cert)) {
		t.Error("SameThumbprint")
	}
	if _, err := pki.ParseCertificatePEM([]byte("nothing")); err == nil {
		t.Error("ParseCertificatePEM accepted garbage")
	}
	// A certificate with someone else's key is refused.
	mismatched := append(append([]byte{}, kp.CertPEM...), mustKeyPEM(t)...)
	path := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(path, mismatched, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.LoadKeyPair(path); err == nil {
		t.Fatal("a certificate with a foreign key was accepted")
	}
}

func mustKeyPEM(t *testing.T) []byte {
	t.Helper()
	other, err := pki.NewKeyPair("other")
	if err != nil {
		t.Fatal(err)
	}
	return other.PEM[len(other.CertPEM):]
}
