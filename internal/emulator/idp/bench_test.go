package idp_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Benchmarks of token issuance over HTTPS (keep-alive connections), as a
// client sees it. docs/emulator.md records the figures and how to rerun them.

func benchPost(b *testing.B, client *http.Client, endpoint string, form url.Values) string {
	resp, err := client.Post(endpoint, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%d %s", resp.StatusCode, body)
	}
	return string(body)
}

func BenchmarkTokenClientSecret(b *testing.B) {
	f := newFixture(b, nil)
	endpoint := f.srv.URL + "/" + tenantID + "/oauth2/v2.0/token"
	form := secretForm(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPost(b, f.client, endpoint, form)
		}
	})
}

func BenchmarkTokenClientAssertion(b *testing.B) {
	f := newFixture(b, nil)
	_, app, _ := testKeys(b)
	endpoint := f.srv.URL + "/" + tenantID + "/oauth2/v2.0/token"
	form := assertionForm(f.assertion(app, nil))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPost(b, f.client, endpoint, form)
		}
	})
}

// BenchmarkTokenRefresh redeems a chain of rotating refresh tokens: access
// token, ID token and a new refresh token per operation.
func BenchmarkTokenRefresh(b *testing.B) {
	f := newFixture(b, nil)
	userCode, deviceCode := f.deviceCode(publicID, "Mail.Read offline_access openid profile")
	if err := f.idp.ApproveDeviceCode(userCode, adele); err != nil {
		b.Fatal(err)
	}
	endpoint := f.srv.URL + "/" + tenantID + "/oauth2/v2.0/token"
	refresh := extract(benchPost(b, f.client, endpoint, pollForm(publicID, deviceCode)), "refresh_token")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		refresh = extract(benchPost(b, f.client, endpoint, refreshForm(refresh)), "refresh_token")
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	f := newFixture(b, nil)
	token, err := f.idp.MintUserToken(publicID, adele, []string{"Mail.Read"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.idp.Authenticate(token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// extract pulls a string member out of a JSON object without a full decode.
func extract(body, key string) string {
	_, rest, ok := strings.Cut(body, `"`+key+`":"`)
	if !ok {
		return ""
	}
	value, _, _ := strings.Cut(rest, `"`)
	return value
}
