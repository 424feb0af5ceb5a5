package auth

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/hookctl/hookctl/internal/exitcode"
)

// appCredential builds the app-only credential an app profile names. secret is
// a client secret read at login (stdin); later runs re-read the environment
// variable, certificate file or federated token file the profile records.
// A secret or certificate that is not available after login yields a
// credential that fails only when MSAL needs it, so a cached app token still
// works; at login (atLogin) a bad certificate is a usage error at once.
func (m *Manager) appCredential(p Profile, secret string, atLogin bool) (confidential.Credential, error) {
	switch {
	case p.CertificateFile != "":
		certs, key, err := m.loadCertificate(p)
		if err != nil && atLogin {
			return confidential.Credential{}, err
		}
		if err != nil {
			unusable := &Error{Code: exitcode.SignIn, Cause: fmt.Sprintf("the certificate profile %q signs in with is unusable: %v", p.Name, err),
				Next: fmt.Sprintf("put it back, or run `hookctl login --profile %s --certificate FILE` again", p.Name)}
			return confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
				return "", unusable
			}), nil
		}
		cred, err := confidential.NewCredFromCert(certs, key)
		if err != nil {
			return confidential.Credential{}, exitcode.Usagef("certificate %s cannot sign a client assertion: %v", p.CertificateFile, err)
		}
		return cred, nil
	case p.FederatedTokenFile != "":
		path := p.FederatedTokenFile
		return confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
			data, err := os.ReadFile(path)
			if err != nil {
				return "", &Error{Code: exitcode.SignIn, Cause: fmt.Sprintf("cannot read the federated token file %s", path),
					Next: "check --federated-token-file (GitHub Actions: request an OIDC token in this job first)"}
			}
			assertion := strings.TrimSpace(string(data))
			if assertion == "" {
				return "", &Error{Code: exitcode.SignIn, Cause: fmt.Sprintf("the federated token file %s is empty", path),
					Next: "write the CI provider's OIDC token into it before running hookctl"}
			}
			m.addSecret(assertion)
			return assertion, nil
		}), nil
	}
	if secret == "" && p.ClientSecretEnv != "" {
		secret = m.env(p.ClientSecretEnv)
	}
	if secret != "" {
		m.addSecret(secret)
		return confidential.NewCredFromSecret(secret)
	}
	missing := &Error{Code: exitcode.SignIn, Cause: "the app's client secret is not available",
		Next: "it was read from stdin at login and is not kept: run `hookctl login --client-secret-stdin` again, or use --client-secret-env"}
	if p.ClientSecretEnv != "" {
		missing = &Error{Code: exitcode.SignIn,
			Cause: fmt.Sprintf("environment variable %s (the app's client secret) is not set", p.ClientSecretEnv),
			Next:  "set it in this step's environment (CI: in every step that runs hookctl)"}
	}
	return confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
		return "", missing
	}), nil
}

// loadCertificate reads a PEM file (certificate and private key) or a PKCS#12
// (.pfx/.p12) file, with the password from the environment variable the
// profile names.
func (m *Manager) loadCertificate(p Profile) ([]*x509.Certificate, crypto.PrivateKey, error) {
	data, err := os.ReadFile(p.CertificateFile)
	if err != nil {
		return nil, nil, exitcode.Usagef("cannot read certificate: %v", err)
	}
	password := ""
	if p.CertificatePasswordEnv != "" {
		v, ok := m.Env(p.CertificatePasswordEnv)
		if !ok {
			return nil, nil, exitcode.Usagef("environment variable %s (the certificate's password) is not set", p.CertificatePasswordEnv)
		}
		password = v
		m.addSecret(password)
	}
	if strings.Contains(string(data), "-----BEGIN") {
		certs, key, err := confidential.CertFromPEM(data, password)
		if err != nil {
			return nil, nil, exitcode.Usagef("certificate %s: %v (want a PEM file with the certificate and its unencrypted private key, or a .pfx)", p.CertificateFile, err)
		}
		return certs, key, nil
	}
	key, cert, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		hint := "check --certificate-password-env"
		if p.CertificatePasswordEnv == "" {
			hint = "if it has a password, name its environment variable with --certificate-password-env"
		}
		return nil, nil, exitcode.Usagef("certificate %s is neither PEM nor a readable PKCS#12 file (%v): %s", p.CertificateFile, err, hint)
	}
	return append([]*x509.Certificate{cert}, chain...), key, nil
}
