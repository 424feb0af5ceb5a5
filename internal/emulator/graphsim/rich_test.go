package graphsim

import (
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
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// decryptForTest follows PROTOCOL.md §5 step by step, independently of the
// emulator's encryption code.
func decryptForTest(t *testing.T, key *rsa.PrivateKey, content map[string]any) []byte {
	t.Helper()
	decode := func(name string) []byte {
		b, err := base64.StdEncoding.DecodeString(content[name].(string))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return b
	}
	symmetric, err := rsa.DecryptOAEP(sha1.New(), nil, key, decode("dataKey"), nil)
	if err != nil || len(symmetric) != 32 {
		t.Fatalf("dataKey: %v (%d bytes)", err, len(symmetric))
	}
	data := decode("data")
	mac := hmac.New(sha256.New, symmetric)
	mac.Write(data)
	if !hmac.Equal(mac.Sum(nil), decode("dataSignature")) {
		t.Fatal("dataSignature does not match")
	}
	block, _ := aes.NewCipher(symmetric)
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, symmetric[:16]).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 16 {
		t.Fatalf("bad padding %d", pad)
	}
	return plain[:len(plain)-pad]
}

// TestDecryptorMatchesMicrosoftVector proves the test decryptor against
// Microsoft's published vector, so the round trip below means something.
func TestDecryptorMatchesMicrosoftVector(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/rich-notification-chatmessage.json")
	if err != nil {
		t.Fatal(err)
	}
	var vector struct {
		PKCS12Base64     string         `json:"pkcs12Base64"`
		PKCS12Password   string         `json:"pkcs12Password"`
		EncryptedContent map[string]any `json:"encryptedContent"`
	}
	if err := json.Unmarshal(raw, &vector); err != nil {
		t.Fatal(err)
	}
	pfx, _ := base64.StdEncoding.DecodeString(vector.PKCS12Base64)
	key, cert, err := pkcs12.Decode(pfx, vector.PKCS12Password)
	if err != nil {
		t.Fatal(err)
	}
	plain := decryptForTest(t, key.(*rsa.PrivateKey), vector.EncryptedContent)
	sum := sha256.Sum256(plain)
	if hex.EncodeToString(sum[:]) != "e1a9e5a8030d2df677b075feebf1e02dca4080b36990cc4d1b0391c98d0b0930" {
		t.Errorf("plaintext SHA-256 = %x", sum)
	}
	thumb := sha1.Sum(cert.Raw)
	if strings.ToUpper(hex.EncodeToString(thumb[:])) != vector.EncryptedContent["encryptionCertificateThumbprint"] {
		t.Errorf("thumbprint = %X", thumb)
	}
}

// selfSigned returns a base64 DER certificate for key.
func selfSigned(t *testing.T, key any, public any) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rich test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, public, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// issuingAuth is the test authenticator that also issues validation tokens.
type issuingAuth struct{ testAuth }

func (issuingAuth) ValidationToken(appID string) (string, error) {
	if appID == "" {
		return "", errors.New("no app")
	}
	return "validation-token-for-" + appID, nil
}

func TestRichNotifications(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, key, &key.PublicKey)
	e := newEnv(t, func(c *Config) { c.Auth = issuingAuth{newTestAuth()} })
	rcv := newReceiver(t)
	r := e.do("POST", "/v1.0/subscriptions", adeleToken, subscriptionBody(rcv.URL, map[string]any{
		"resource":            "me/mailFolders('Inbox')/messages?$select=subject,from",
		"includeResourceData": true, "encryptionCertificate": cert, "encryptionCertificateId": "my-key-1",
	}))
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	created := r.json(t)
	if created["includeResourceData"] != true || created["encryptionCertificateId"] != "my-key-1" || created["encryptionCertificate"] != cert {
		t.Errorf("created = %v", created)
	}
	msgID, _ := e.s.SendMail(megan.UserPrincipalName, adele.UserPrincipalName, "Secret plans", "body text")
	post := rcv.waitPosts(t, 1)[0]
	if tokens, _ := post["validationTokens"].([]any); len(tokens) != 1 || tokens[0] != "validation-token-for-"+newTestAuth()[adeleToken].AppID {
		t.Errorf("validationTokens = %v", post["validationTokens"])
	}
	n := notifications([]map[string]any{post})[0]
	content := n["encryptedContent"].(map[string]any)
	der, _ := base64.StdEncoding.DecodeString(cert)
	thumb := sha1.Sum(der)
	if content["encryptionCertificateId"] != "my-key-1" || content["encryptionCertificateThumbprint"] != strings.ToUpper(hex.EncodeToString(thumb[:])) {
		t.Errorf("encryptedContent = %v", content)
	}
	var message map[string]any
	if err := json.Unmarshal(decryptForTest(t, key, content), &message); err != nil {
		t.Fatal(err)
	}
	from := message["from"].(map[string]any)["emailAddress"].(map[string]any)
	if message["id"] != msgID || message["subject"] != "Secret plans" || from["address"] != megan.UserPrincipalName || message["body"] != nil {
		t.Errorf("decrypted = %v", message)
	}
}

func TestRichSubscriptionEnforcement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	rcv := newReceiver(t)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, _ := rsa.GenerateKey(rand.Reader, 2048)
	goodCert := selfSigned(t, good, &good.PublicKey)
	rich := func(extra map[string]any) map[string]any {
		body := map[string]any{"includeResourceData": true, "encryptionCertificate": goodCert, "encryptionCertificateId": "k",
			"resource": "me/mailFolders('Inbox')/messages?$select=subject"}
		for k, v := range extra {
			body[k] = v
		}
		return subscriptionBody(rcv.URL, body)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		code string
		msg  string
	}{
		{"no certificate", rich(map[string]any{"encryptionCertificate": nil}), "InvalidRequest", "encryptionCertificate and encryptionCertificateId are required"},
		{"no certificate id", rich(map[string]any{"encryptionCertificateId": ""}), "InvalidRequest", "required"},
		{"certificate id of 129", rich(map[string]any{"encryptionCertificateId": strings.Repeat("k", 129)}), "InvalidRequest", "128"},
		{"not base64", rich(map[string]any{"encryptionCertificate": "%%%"}), "InvalidRequest", "not base64"},
		{"not a certificate", rich(map[string]any{"encryptionCertificate": base64.StdEncoding.EncodeToString([]byte("hello"))}), "InvalidRequest", "not an X.509 certificate"},
		{"EC key", rich(map[string]any{"encryptionCertificate": selfSigned(t, ec, &ec.PublicKey)}), "InvalidRequest", "RSA public key"},
		{"RSA-1024", rich(map[string]any{"encryptionCertificate": selfSigned(t, small, &small.PublicKey)}), "InvalidRequest", "1024 bits"},
		{"past 1440 minutes", rich(map[string]any{"expirationDateTime": time.Now().Add(25 * time.Hour).UTC().Format(time.RFC3339)}), "ExtensionError", "1440 minutes"},
		{"no $select", rich(map[string]any{"resource": "me/messages"}), "InvalidRequest", "need $select in the resource"},
		{"bad $select in resource", subscriptionBody(rcv.URL, map[string]any{"resource": "me/messages?$select=nonsense"}), "BadRequest", "nonsense"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			for k, v := range body {
				if v == nil {
					delete(body, k)
				}
			}
			r := e.do("POST", "/v1.0/subscriptions", adeleToken, body)
			expectError(t, r, 400, tc.code)
			if !strings.Contains(r.errorMessage(t), tc.msg) {
				t.Errorf("message %q lacks %q", r.errorMessage(t), tc.msg)
			}
		})
	}
	// A rich subscription's renewal is held to 1440 minutes too.
	id := e.subscribe(adeleToken, rich(nil))
	r := e.do("PATCH", "/v1.0/subscriptions/"+id, adeleToken, map[string]any{"expirationDateTime": time.Now().Add(30 * time.Hour).UTC().Format(time.RFC3339)})
	expectError(t, r, 400, "ExtensionError")
}
