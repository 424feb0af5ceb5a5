package notification

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

// vector is Microsoft's published known-answer vector (PROTOCOL.md §5).
type vector struct {
	key     *rsa.PrivateKey
	cert    *x509.Certificate
	content EncryptedContent
}

func loadVector(t testing.TB) vector {
	t.Helper()
	raw, err := os.ReadFile("testdata/rich-notification-chatmessage.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		PKCS12Base64     string           `json:"pkcs12Base64"`
		PKCS12Password   string           `json:"pkcs12Password"`
		EncryptedContent EncryptedContent `json:"encryptedContent"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	pfx, err := base64.StdEncoding.DecodeString(file.PKCS12Base64)
	if err != nil {
		t.Fatal(err)
	}
	key, cert, err := pkcs12.Decode(pfx, file.PKCS12Password)
	if err != nil {
		t.Fatal(err)
	}
	return vector{key: key.(*rsa.PrivateKey), cert: cert, content: file.EncryptedContent}
}

func TestDecryptKnownAnswer(t *testing.T) {
	t.Parallel()
	v := loadVector(t)
	plain, err := Decrypt(&v.content, v.key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(plain)
	if got := hex.EncodeToString(sum[:]); got != "e1a9e5a8030d2df677b075feebf1e02dca4080b36990cc4d1b0391c98d0b0930" {
		t.Errorf("plaintext SHA-256 = %s", got)
	}
	var message struct {
		ETag string `json:"etag"`
		Body struct {
			Content, ContentType string
		} `json:"body"`
	}
	if err := json.Unmarshal(plain, &message); err != nil {
		t.Fatal(err)
	}
	if message.ETag != "1625126194597" || message.Body.Content != "Hello World" || message.Body.ContentType != "text" {
		t.Errorf("decrypted = %+v", message)
	}
	if got := Thumbprint(v.cert); got != v.content.EncryptionCertificateThumbprint {
		t.Errorf("Thumbprint = %s, want %s", got, v.content.EncryptionCertificateThumbprint)
	}
}

// encryptForTest encrypts padded (already padded) as Graph does, so tests
// can build content with any padding.
func encryptForTest(t *testing.T, public *rsa.PublicKey, padded []byte) EncryptedContent {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, public, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	data := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(data, padded)
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return EncryptedContent{
		Data: base64.StdEncoding.EncodeToString(data), DataKey: base64.StdEncoding.EncodeToString(wrapped),
		DataSignature: base64.StdEncoding.EncodeToString(mac.Sum(nil)), EncryptionCertificateID: "test-cert",
	}
}

func pkcs7(plain []byte) []byte {
	n := aes.BlockSize - len(plain)%aes.BlockSize
	return append(append([]byte{}, plain...), []byte(strings.Repeat(string(rune(n)), n))...)
}

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key
})

func TestDecryptFailures(t *testing.T) {
	t.Parallel()
	v := loadVector(t)
	other := testKey()
	flipBase64 := func(s string) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		b[len(b)/2] ^= 0x01
		return base64.StdEncoding.EncodeToString(b)
	}
	tests := []struct {
		name   string
		mutate func(c *EncryptedContent)
		key    *rsa.PrivateKey
		want   error
	}{
		{"tampered data", func(c *EncryptedContent) { c.Data = flipBase64(c.Data) }, v.key, ErrBadSignature},
		{"tampered signature", func(c *EncryptedContent) { c.DataSignature = flipBase64(c.DataSignature) }, v.key, ErrBadSignature},
		{"tampered dataKey", func(c *EncryptedContent) { c.DataKey = flipBase64(c.DataKey) }, v.key, ErrWrongKey},
		{"wrong key", func(*EncryptedContent) {}, other, ErrWrongKey},
		{"data not base64", func(c *EncryptedContent) { c.Data = "%%%" }, v.key, ErrMalformed},
		{"no signature", func(c *EncryptedContent) { c.DataSignature = "" }, v.key, ErrMalformed},
		{"no dataKey", func(c *EncryptedContent) { c.DataKey = "" }, v.key, ErrMalformed},
	}
	for _, tt := range tests {
		content := v.content
		tt.mutate(&content)
		plain, err := Decrypt(&content, tt.key)
		if !errors.Is(err, tt.want) || plain != nil {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		var decryptErr *DecryptError
		if !errors.As(err, &decryptErr) || strings.Contains(err.Error(), v.content.DataKey[:16]) {
			t.Errorf("%s: error %q is not a *DecryptError or quotes the input", tt.name, err)
		}
	}

	for name, padded := range map[string][]byte{
		"padding byte 0":         append([]byte(`{"a":1}`), make([]byte, 9)...),
		"padding byte 17":        []byte(strings.Repeat("\x11", 16)),
		"inconsistent padding":   append([]byte(`{"a":1}xxxxxx`), 1, 2, 3),
		"not whole AES blocks":   []byte(`{"a":1}`),
		"valid padding, 1 block": pkcs7([]byte(`{"a":1}`)),
	} {
		want := ErrBadPadding
		switch name {
		case "not whole AES blocks":
			want = ErrMalformed
		case "valid padding, 1 block":
			want = nil
		}
		var content EncryptedContent
		if name == "not whole AES blocks" {
			content = encryptForTestRaw(t, &other.PublicKey, padded)
		} else {
			content = encryptForTest(t, &other.PublicKey, padded)
		}
		plain, err := Decrypt(&content, other)
		if !errors.Is(err, want) || (want == nil && string(plain) != `{"a":1}`) {
			t.Errorf("%s: %q, %v; want %v", name, plain, err, want)
		}
	}
}

// encryptForTestRaw signs data that is not a whole number of blocks (no AES).
func encryptForTestRaw(t *testing.T, public *rsa.PublicKey, data []byte) EncryptedContent {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, public, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return EncryptedContent{Data: base64.StdEncoding.EncodeToString(data), DataKey: base64.StdEncoding.EncodeToString(wrapped),
		DataSignature: base64.StdEncoding.EncodeToString(mac.Sum(nil))}
}

func TestDecryptorItems(t *testing.T) {
	t.Parallel()
	v := loadVector(t)
	var d Decryptor
	if _, err := d.Decrypt(&v.content); !errors.Is(err, ErrUnknownCertificate) {
		t.Errorf("empty Decryptor: %v", err)
	}
	d.Add("another-id", v.cert, v.key)
	if _, err := d.Decrypt(&v.content); err != nil {
		t.Errorf("found by thumbprint: %v", err)
	}
	var byID Decryptor
	byID.Add("custom-id-for-testing", nil, v.key)
	item, _ := json.Marshal(map[string]any{"subscriptionId": "s", "changeType": "created", "encryptedContent": v.content})
	collection, err := Parse([]byte(`{"value":[` + string(item) + `,{"subscriptionId":"s","changeType":"created"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	content, err := byID.DecryptItem(collection.Value[0])
	if err != nil || !strings.Contains(string(content), `"Hello World"`) {
		t.Errorf("DecryptItem = %.60s, %v", content, err)
	}
	if content, err := byID.DecryptItem(collection.Value[1]); content != nil || err != nil {
		t.Errorf("an item without encryptedContent: %s, %v", content, err)
	}
	unknown := v.content
	unknown.EncryptionCertificateID, unknown.EncryptionCertificateThumbprint = "nope", "00"
	if _, err := byID.Decrypt(&unknown); !errors.Is(err, ErrUnknownCertificate) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown certificate: %v", err)
	}
	notObject := encryptForTest(t, &testKey().PublicKey, pkcs7([]byte(`[1,2]`)))
	byID.Add("test-cert", nil, testKey())
	item, _ = json.Marshal(map[string]any{"subscriptionId": "s", "encryptedContent": notObject})
	collection, _ = Parse([]byte(`{"value":[` + string(item) + `]}`))
	if _, err := byID.DecryptItem(collection.Value[0]); !errors.Is(err, ErrMalformed) {
		t.Errorf("a non-object resource: %v", err)
	}
}

// BenchmarkDecrypt measures one rich item with Microsoft's RSA-4096 vector:
// the RSA unwrap dominates.
//
//	go test -run '^$' -bench BenchmarkDecrypt ./pkg/notification/
func BenchmarkDecrypt(b *testing.B) {
	v := loadVector(b)
	var d Decryptor
	d.Add(v.content.EncryptionCertificateID, v.cert, v.key)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Decrypt(&v.content); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAppendJSONWithout(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`{"value":[{"subscriptionId":"s","clientState":"secret","encryptedContent":{"data":"x"},"changeType":"created"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := string(c.Value[0].AppendJSONWithout(nil, []string{"encryptedContent"}, [2]string{"content", `{"id":"1"}`}))
	if got != `{"content":{"id":"1"},"subscriptionId":"s","changeType":"created"}` {
		t.Errorf("got %s", got)
	}
}
