// Package httpclient builds the HTTP client hookctl uses for the identity
// platform and Graph: system roots plus the CA named by HOOKCTL_CA_FILE.
package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"
)

// CAFileEnv names a PEM file of extra CA certificates to trust (the emulator's CA).
const CAFileEnv = "HOOKCTL_CA_FILE"

// New returns a client that trusts the system roots and, when caFile is not
// empty, the certificates in it as well.
func New(caFile string) (*http.Client, error) {
	pool, err := RootPool(caFile)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	transport.MaxIdleConnsPerHost = 32
	return &http.Client{Transport: transport, Timeout: 60 * time.Second}, nil
}

// RootPool is the system pool plus the PEM certificates in caFile (if any).
func RootPool(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the CA file named by %s: %w; point it at the ca.pem that `hookctl emulator` prints, or unset it", CAFileEnv, err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the CA file %s (from %s) holds no PEM certificate; point it at the ca.pem that `hookctl emulator` prints, or unset it", caFile, CAFileEnv)
	}
	return pool, nil
}
