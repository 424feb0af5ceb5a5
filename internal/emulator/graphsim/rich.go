package graphsim

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // Graph's scheme: RSA-OAEP with SHA-1 and a SHA-1 thumbprint
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// ValidationTokenIssuer issues the JWTs rich notifications carry in
// `validationTokens`, one per receiving app. The emulator's identity platform
// implements it; when Config.Auth does, New uses it.
type ValidationTokenIssuer interface {
	ValidationToken(audienceAppID string) (string, error)
}

// parseEncryptionCertificate reads the base64 DER certificate a rich
// subscription carries and checks its key as Graph does: RSA, 2048 to 4096 bits.
func parseEncryptionCertificate(encoded string) (*x509.Certificate, *graphError) {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return nil, errInvalidRequest("encryptionCertificate is not base64: give the certificate's DER bytes, base64-encoded (public key only).")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errInvalidRequest("encryptionCertificate is not an X.509 certificate: %v.", err)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errInvalidRequest("encryptionCertificate must hold an RSA public key.")
	}
	if bits := key.N.BitLen(); bits < 2048 || bits > 4096 {
		return nil, errInvalidRequest("encryptionCertificate's RSA key has %d bits: use 2048 to 4096.", bits)
	}
	return cert, nil
}

// encryptResource builds encryptedContent for plaintext (PROTOCOL.md §5): a
// random 32-byte key wrapped with RSA-OAEP-SHA1, AES-256-CBC with PKCS#7 and
// IV = key[:16], and HMAC-SHA256 over the ciphertext.
func encryptResource(plaintext []byte, certDER []byte, certificateID string) (object, error) {
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, err
	}
	publicKey, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("encryption certificate has no RSA key")
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, publicKey, key, nil)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	padding := aes.BlockSize - len(plaintext)%aes.BlockSize
	padded := append(append([]byte{}, plaintext...), bytesOf(byte(padding), padding)...)
	ciphertext := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, key[:aes.BlockSize]).CryptBlocks(ciphertext, padded)
	mac := hmac.New(sha256.New, key)
	mac.Write(ciphertext)
	thumbprint := sha1.Sum(cert.Raw)
	return object{
		{"data", base64.StdEncoding.EncodeToString(ciphertext)},
		{"dataSignature", base64.StdEncoding.EncodeToString(mac.Sum(nil))},
		{"dataKey", base64.StdEncoding.EncodeToString(wrapped)},
		{"encryptionCertificateId", certificateID},
		{"encryptionCertificateThumbprint", strings.ToUpper(hex.EncodeToString(thumbprint[:]))},
	}, nil
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// richPlaintext is the resource a rich notification carries: the message as
// GET would return it, limited to the resource's $select when it has one.
func richPlaintext(m *Message, box *mailbox, selectList []string) ([]byte, error) {
	body := append(object{{"@odata.type", "#Microsoft.Graph.Message"}}, messageObject(m, box).selectFields(selectList)...)
	return json.Marshal(body)
}

// resourceSelect reads $select from a subscription resource such as
// me/mailFolders('Inbox')/messages?$select=subject,from.
func resourceSelect(resource string) ([]string, *graphError) {
	_, query, found := strings.Cut(resource, "?")
	if !found {
		return nil, nil
	}
	opts, e := parseQuery(parseQueryString(query), 1)
	if e != nil {
		return nil, e
	}
	if e := checkSelect(opts.selectList); e != nil {
		return nil, e
	}
	return opts.selectList, nil
}

// validationTokens issues one token per receiving app of a delivery.
func (s *Server) validationTokens(appIDs []string) []string {
	issuer := s.cfg.ValidationTokens
	if issuer == nil || len(appIDs) == 0 {
		return nil
	}
	var tokens []string
	for _, appID := range appIDs {
		token, err := issuer.ValidationToken(appID)
		if err != nil {
			s.log.Error("issuing a validation token failed", "appId", appID, "error", err)
			continue
		}
		tokens = append(tokens, token)
	}
	return tokens
}

// parseQueryString parses a query, keeping what it can of a malformed one.
func parseQueryString(query string) url.Values {
	values, _ := url.ParseQuery(query)
	return values
}
