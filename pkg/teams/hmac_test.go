package teams_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/pkg/teams"
)

// The published vector (PROTOCOL.md §6).
const (
	vectorKey    = "vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA="
	vectorBody   = `{"type":"message","text":"hello"}`
	vectorHeader = "HMAC u4mqRgrbVIFC3vtz7CZ6l6p1FlBrMrWdHGNjdU5ux2o="
)

func mustKey(t testing.TB, s string) teams.Key {
	t.Helper()
	key, err := teams.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestSignVector(t *testing.T) {
	t.Parallel()
	key := mustKey(t, vectorKey)
	if got := teams.Sign(key.Secret, []byte(vectorBody)); got != vectorHeader {
		t.Fatalf("Sign = %q, want %q", got, vectorHeader)
	}
	if err := teams.Verify(vectorHeader, []byte(vectorBody), []teams.Key{key}, ""); err != nil {
		t.Fatalf("Verify(vector) = %v", err)
	}
	// One byte more (a trailing newline) must not verify: the exact bytes count.
	if err := teams.Verify(vectorHeader, []byte(vectorBody+"\n"), []teams.Key{key}, ""); teams.ReasonOf(err) != teams.ReasonMismatch {
		t.Fatalf("Verify(body+newline) = %v, want mismatch", err)
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	secret, _ := base64.StdEncoding.DecodeString(vectorKey)
	tests := []struct {
		in       string
		wantName string
		wantErr  string
	}{
		{in: vectorKey},
		{in: "  " + vectorKey + "\n"},
		{in: strings.TrimRight(vectorKey, "="), wantName: ""}, // unpadded
		{in: "prod:" + vectorKey, wantName: "prod"},
		{in: "my-hook_2.x:" + vectorKey, wantName: "my-hook_2.x"},
		{in: "", wantErr: "empty"},
		{in: "prod:", wantErr: "empty"},
		{in: ":" + vectorKey, wantErr: "name before ':' is empty"},
		{in: "not base64!", wantErr: "not valid base64"},
		{in: "prod:%%%%", wantErr: `"prod" is not valid base64`},
		{in: "bad name:" + vectorKey, wantErr: "only letters"},
		{in: strings.Repeat("n", 65) + ":" + vectorKey, wantErr: "longer than 64"},
		{in: "a:b:" + vectorKey, wantErr: "not valid base64"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			key, err := teams.ParseKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), vectorKey) || strings.Contains(err.Error(), "%%%%") || strings.Contains(err.Error(), "base64!") {
					t.Fatalf("error leaks the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key.Name != tt.wantName || string(key.Secret) != string(secret) {
				t.Fatalf("key = %q/%x, want %q/%x", key.Name, key.Secret, tt.wantName, secret)
			}
			if s := fmt.Sprintf("%v %+v %#v %s", key, key, key, key); strings.Contains(s, string(key.Secret)) || strings.Contains(s, fmt.Sprint(key.Secret)) {
				t.Fatalf("formatting a key shows the secret: %s", s)
			}
		})
	}
}

func TestParseKeysDuplicateNames(t *testing.T) {
	t.Parallel()
	if _, err := teams.ParseKeys([]string{"a:" + vectorKey, "b:" + vectorKey, vectorKey, vectorKey}); err != nil {
		t.Fatalf("distinct names: %v", err)
	}
	_, err := teams.ParseKeys([]string{"a:" + vectorKey, "a:" + vectorKey})
	if err == nil || !strings.Contains(err.Error(), `"a" is used twice`) {
		t.Fatalf("err = %v", err)
	}
	_, err = teams.ParseKeys([]string{vectorKey, "zz"})
	if err == nil || !strings.HasPrefix(err.Error(), "key 2:") {
		t.Fatalf("err = %v", err)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(vectorBody)
	prod := mustKey(t, "prod:"+vectorKey)
	other := teams.Key{Name: "other", Secret: []byte("another key entirely, 32 bytes!!")}
	unnamed := teams.Key{Secret: []byte("unnamed key")}
	all := []teams.Key{other, unnamed, prod}
	rawSig := strings.TrimPrefix(vectorHeader, "HMAC ")

	tests := []struct {
		name    string
		header  string
		keys    []teams.Key
		keyName string
		want    teams.Reason // "" = valid
	}{
		{name: "vector, any key", header: vectorHeader, keys: all},
		{name: "vector, named key", header: vectorHeader, keys: all, keyName: "prod"},
		{name: "lower-case scheme", header: "hmac " + rawSig, keys: all},
		{name: "extra spaces", header: "  HMAC   " + rawSig + " ", keys: all},
		{name: "tab separator", header: "HMAC\t" + rawSig, keys: all},
		{name: "unpadded signature", header: "HMAC " + strings.TrimRight(rawSig, "="), keys: all},
		{name: "unnamed key selected by name is unknown", header: vectorHeader, keys: []teams.Key{unnamed}, keyName: "prod", want: teams.ReasonUnknownKey},
		{name: "other named key", header: vectorHeader, keys: all, keyName: "other", want: teams.ReasonMismatch},
		{name: "unknown name", header: vectorHeader, keys: all, keyName: "nope", want: teams.ReasonUnknownKey},
		{name: "no keys", header: vectorHeader, want: teams.ReasonNoKeys},
		{name: "missing", header: "", keys: all, want: teams.ReasonMissingHeader},
		{name: "blank", header: "   ", keys: all, want: teams.ReasonMissingHeader},
		{name: "bearer", header: "Bearer " + rawSig, keys: all, want: teams.ReasonWrongScheme},
		{name: "no scheme", header: rawSig, keys: all, want: teams.ReasonWrongScheme},
		{name: "HMAC-SHA256 scheme", header: "HMAC-SHA256 " + rawSig, keys: all, want: teams.ReasonWrongScheme},
		{name: "scheme only", header: "HMAC", keys: all, want: teams.ReasonBadBase64},
		{name: "not base64", header: "HMAC ***", keys: all, want: teams.ReasonBadBase64},
		{name: "url-safe alphabet", header: "HMAC u4mq-grbVIFC3vtz7CZ6l6p1FlBrMrWdHGNjdU5ux2o=", keys: all, want: teams.ReasonBadBase64},
		{name: "truncated signature", header: "HMAC " + base64.StdEncoding.EncodeToString([]byte("short")), keys: all, want: teams.ReasonMismatch},
		{name: "wrong key", header: vectorHeader, keys: []teams.Key{other, unnamed}, want: teams.ReasonMismatch},
		{name: "signature of another body", header: teams.Sign(prod.Secret, []byte(`{"type":"message","text":"hellO"}`)), keys: all, want: teams.ReasonMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := teams.Verify(tt.header, body, tt.keys, tt.keyName)
			if got := teams.ReasonOf(err); got != tt.want {
				t.Fatalf("Verify = %v (reason %q), want reason %q", err, got, tt.want)
			}
			if err == nil {
				return
			}
			var verifyErr *teams.VerifyError
			if !errors.As(err, &verifyErr) {
				t.Fatalf("error %T is not a *VerifyError", err)
			}
			if strings.Contains(err.Error(), rawSig) || strings.Contains(err.Error(), vectorKey) {
				t.Fatalf("error text leaks: %v", err)
			}
			if err.Error() == "" || err.Error() == string(tt.want) {
				t.Fatalf("error text %q is not human", err.Error())
			}
		})
	}
}

func TestReasonTextIsHuman(t *testing.T) {
	t.Parallel()
	want := map[teams.Reason]string{
		teams.ReasonMissingHeader: "missing Authorization header",
		teams.ReasonWrongScheme:   `wrong Authorization scheme (want "HMAC <base64>")`,
		teams.ReasonBadBase64:     "signature is not valid base64",
		teams.ReasonMismatch:      "signature mismatch",
		teams.ReasonUnknownKey:    "unknown key name",
		teams.ReasonNoKeys:        "no HMAC key configured",
		teams.Reason("other"):     "other",
	}
	for reason, text := range want {
		if got := (&teams.VerifyError{Reason: reason}).Error(); got != text {
			t.Errorf("%s: %q, want %q", reason, got, text)
		}
	}
	if teams.ReasonOf(errors.New("x")) != "" || teams.ReasonOf(nil) != "" {
		t.Error("ReasonOf of a foreign error should be empty")
	}
	if teams.ReasonOf(fmt.Errorf("wrapped: %w", &teams.VerifyError{Reason: teams.ReasonMismatch})) != teams.ReasonMismatch {
		t.Error("ReasonOf should unwrap")
	}
}

// FuzzParseAuthHeader: any header either parses to a signature that Verify
// then judges by comparison alone, or fails with one of the defined reasons;
// it never panics.
func FuzzParseAuthHeader(f *testing.F) {
	for _, seed := range []string{vectorHeader, "", "HMAC", "HMAC ", "hmac abc=", "Bearer x", "HMAC ***", "HMAC\tYQ==", "HMAC YQ", " HMAC  YQ== "} {
		f.Add(seed)
	}
	key := mustKey(f, vectorKey)
	body := []byte(vectorBody)
	f.Fuzz(func(t *testing.T, header string) {
		signature, err := teams.ParseAuthHeader(header)
		verifyErr := teams.Verify(header, body, []teams.Key{key}, "")
		if err != nil {
			switch teams.ReasonOf(err) {
			case teams.ReasonMissingHeader, teams.ReasonWrongScheme, teams.ReasonBadBase64:
			default:
				t.Fatalf("ParseAuthHeader(%q) = %v: not a defined reason", header, err)
			}
			if teams.ReasonOf(verifyErr) != teams.ReasonOf(err) {
				t.Fatalf("Verify and ParseAuthHeader disagree: %v vs %v", verifyErr, err)
			}
			return
		}
		valid := teams.Sign(key.Secret, body) == "HMAC "+base64.StdEncoding.EncodeToString(signature)
		if valid != (verifyErr == nil) {
			t.Fatalf("header %q: signature valid=%v but Verify = %v", header, valid, verifyErr)
		}
	})
}

// BenchmarkVerify measures checking a typical Teams message (about 2 KiB)
// against one key and against ten keys (the worst case: no ?id=NAME).
func BenchmarkVerify(b *testing.B) {
	key := mustKey(b, vectorKey)
	activity := teams.NewMessageActivity(teams.MentionText("hookctl", "deploy staging please"), "Adele Vance")
	body, err := activity.Encode()
	if err != nil {
		b.Fatal(err)
	}
	header := teams.Sign(key.Secret, body)
	tenKeys := make([]teams.Key, 10)
	for i := range tenKeys {
		tenKeys[i] = teams.Key{Secret: []byte(fmt.Sprintf("other key number %d, 32 bytes..", i))}
	}
	tenKeys[9] = key
	for _, bc := range []struct {
		name string
		keys []teams.Key
	}{{"1key", []teams.Key{key}}, {"10keys", tenKeys}} {
		b.Run(fmt.Sprintf("%s/%dB", bc.name, len(body)), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := teams.Verify(header, body, bc.keys, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzParseKey: any input parses or fails without panicking; a parsed key
// re-encodes to a value that parses to the same key, and an error never
// repeats the token part of the input.
func FuzzParseKey(f *testing.F) {
	for _, seed := range []string{vectorKey, "prod:" + vectorKey, "", ":", "a:", ":" + vectorKey, "YQ", "a:b:c", "bad name:YQ==", "\x00:YQ=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		key, err := teams.ParseKey(input)
		if err != nil {
			_, token, found := strings.Cut(strings.TrimSpace(input), ":")
			if !found {
				token = strings.TrimSpace(input)
			}
			if len(token) >= 8 && strings.Contains(err.Error(), token) {
				t.Fatalf("error %q repeats the token", err)
			}
			return
		}
		if len(key.Secret) == 0 {
			t.Fatal("parsed an empty secret")
		}
		again := base64.StdEncoding.EncodeToString(key.Secret)
		if key.Name != "" {
			again = key.Name + ":" + again
		}
		back, err := teams.ParseKey(again)
		if err != nil || back.Name != key.Name || string(back.Secret) != string(key.Secret) {
			t.Fatalf("%q -> %q does not round-trip: %v", input, again, err)
		}
	})
}
