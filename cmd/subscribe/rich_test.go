package subscribe_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/enccert"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/pkg/graph"
)

type richView struct {
	ID                      string    `json:"id"`
	Resource                string    `json:"resource"`
	IncludeResourceData     bool      `json:"includeResourceData"`
	EncryptionCertificateID string    `json:"encryptionCertificateId"`
	EncryptionCertificate   string    `json:"encryptionCertificate"`
	Expiry                  time.Time `json:"expirationDateTime"`
}

func decodeRich(t *testing.T, res clitest.Result) richView {
	t.Helper()
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	var v richView
	if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil {
		t.Fatalf("%v: %s", err, res.Stdout)
	}
	return v
}

// TestSubscribeRich creates rich subscriptions against the emulator with
// hookctl's own key pair and with a .pfx, and reads them back with show.
func TestSubscribeRich(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	c.LoginUser("default")
	base := endpoint(t)

	res := c.Run("subscribe", "mail", "--include-resource-data", "--notification-url", base+"/notifications", "-o", "json")
	v := decodeRich(t, res)
	own, err := enccert.Load(enccert.ProfilePath(c.StateDir(), "default"), "")
	if err != nil {
		t.Fatalf("the profile's key pair: %v", err)
	}
	if info, err := os.Stat(own.Path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", info, err)
	}
	if !strings.Contains(squeeze(res.Stderr), "Created an encryption key pair for profile \"default\" (certificate "+own.ID) {
		t.Errorf("stderr: %s", res.Stderr)
	}
	if v.Resource != "me/messages?$select=subject,from,receivedDateTime" || !v.IncludeResourceData || v.EncryptionCertificateID != own.ID ||
		v.EncryptionCertificate != "hookctl's own (profile default)" {
		t.Errorf("created %+v", v)
	}
	// The rich maximum: a day, not a week.
	if left := time.Until(v.Expiry); left > graph.LifetimeOutlookResourceData || left < graph.LifetimeOutlookResourceData-5*time.Minute {
		t.Errorf("expiry in %v, want about a day", left)
	}
	server := c.Em.Graph.Subscriptions()
	if len(server) != 1 || server[0].EncryptionCertificate != own.Encoded() || server[0].EncryptionCertificateID != own.ID || !server[0].IncludeResourceData {
		t.Errorf("emulator has %+v", server)
	}
	// A second subscription reuses the pair.
	res = c.Run("subscribe", "inbox", "--include-resource-data", "--notification-url", base+"/notifications", "-o", "json")
	if second := decodeRich(t, res); second.EncryptionCertificateID != own.ID || strings.Contains(res.Stderr, "Created") {
		t.Errorf("second subscription: %+v %s", second, res.Stderr)
	}

	res = c.Run("subscriptions", "show", v.ID, "-o", "pretty")
	if res.Code != 0 || !strings.Contains(squeeze(res.Stdout), "Encryption: "+own.ID+" (hookctl's own (profile default))") ||
		!strings.Contains(res.Stdout, "Resource data:") {
		t.Errorf("show: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	// Renew keeps to the rich maximum, with a notice.
	res = c.Run("subscriptions", "renew", v.ID, "--expires", "3d", "-o", "json")
	if res.Code != 0 || !strings.Contains(res.Stderr, "past Graph's maximum") || !strings.Contains(res.Stderr, "(1d)") {
		t.Errorf("renew: %d %s", res.Code, res.Stderr)
	}

	// A .pfx of the user's, its password from the environment.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "mine"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	pfx, err := pkcs12.Modern.Encode(key, cert, nil, "pfx-password-value")
	if err != nil {
		t.Fatal(err)
	}
	pfxPath := filepath.Join(t.TempDir(), "mine.pfx")
	if err := os.WriteFile(pfxPath, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	res = c.Run("subscribe", "inbox", "--include-resource-data", "--encryption-cert", pfxPath, "--encryption-cert-password-env", "PFX_PASSWORD",
		"--notification-url", base+"/notifications", "-o", "json")
	if res.Code != exitcode.Usage || !strings.Contains(res.Stderr, "PFX_PASSWORD") {
		t.Errorf("unset password variable: %d %s", res.Code, res.Stderr)
	}
	c.Env["PFX_PASSWORD"] = "pfx-password-value"
	v = decodeRich(t, c.Run("subscribe", "inbox", "--include-resource-data", "--encryption-cert", pfxPath, "--encryption-cert-password-env", "PFX_PASSWORD",
		"--notification-url", base+"/notifications", "-o", "json"))
	if v.EncryptionCertificateID != enccert.IDOf(cert) || v.EncryptionCertificate != pfxPath {
		t.Errorf("with --encryption-cert: %+v", v)
	}
	for _, sub := range c.Em.Graph.Subscriptions() {
		if sub.ID == v.ID && sub.EncryptionCertificate != base64.StdEncoding.EncodeToString(der) {
			t.Error("the emulator got another certificate")
		}
	}
	c.AssertNotPrinted("pfx-password-value")
}
