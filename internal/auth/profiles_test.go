package auth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hookctl/hookctl/internal/exitcode"
)

func TestStorePutGetDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &Store{Path: filepath.Join(t.TempDir(), "auth", "profiles.json")}
	if _, ok, err := s.Get("default"); err != nil || ok {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	work := Profile{Name: "work", Kind: KindUser, Authority: "https://login.microsoftonline.com/organizations", ClientID: "c1", Username: "adele@contoso.example", HomeAccountID: "u.t"}
	ci := Profile{Name: "ci", Kind: KindApp, Authority: "https://login.microsoftonline.com/t", ClientID: "c2", ClientSecretEnv: "CI_SECRET", User: "megan@contoso.example"}
	for _, p := range []Profile{work, ci} {
		if err := s.Put(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	assertMode(t, s.Path, 0o600)
	assertMode(t, filepath.Dir(s.Path), 0o700)
	got, ok, err := s.Get("ci")
	if err != nil || !ok || got.ClientSecretEnv != "CI_SECRET" || got.Name != "ci" || got.Mailbox() != "users/megan@contoso.example" {
		t.Fatalf("Get(ci) = %+v %v %v", got, ok, err)
	}
	list, _ := s.List()
	if len(list) != 2 || list[0].Name != "ci" || list[1].Name != "work" {
		t.Fatalf("List = %+v", list)
	}
	if err := s.Delete(ctx, "ci", "missing"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get("ci"); ok {
		t.Fatal("ci still there after Delete")
	}
	if w, _, _ := s.Get("work"); w.Mailbox() != "me" || w.Identity() != "adele@contoso.example" {
		t.Fatalf("work = %+v", w)
	}
}

func TestStoreConcurrentPutsKeepAll(t *testing.T) {
	t.Parallel()
	s := &Store{Path: filepath.Join(t.TempDir(), "profiles.json")}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other := &Store{Path: s.Path} // as another process would
			if err := other.Put(context.Background(), Profile{Name: fmt.Sprintf("p%d", i), Kind: KindUser}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	list, err := s.List()
	if err != nil || len(list) != 8 {
		t.Fatalf("List = %d profiles, %v", len(list), err)
	}
}

func TestStoreMalformedAndNames(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "profiles.json")
	if err := os.WriteFile(path, []byte("[1,2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Store{Path: path}).List(); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("malformed file: %v", err)
	}
	for _, bad := range []string{"", "../x", ".hidden", "a/b", strings.Repeat("x", 65), "sp ace"} {
		if ValidProfileName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"default", "work", "ci-2", "a.b_c"} {
		if err := ValidProfileName(good); err != nil {
			t.Errorf("%q rejected: %v", good, err)
		}
	}
}

func TestResolveAuthority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		authority, tenant, want, err string
	}{
		{"", "", "https://login.microsoftonline.com/organizations", ""},
		{"", "contoso.onmicrosoft.com", "https://login.microsoftonline.com/contoso.onmicrosoft.com", ""},
		{"https://login.microsoftonline.us/", "t1", "https://login.microsoftonline.us/t1", ""},
		{"https://127.0.0.1:8443/72f9", "", "https://127.0.0.1:8443/72f9", ""},
		{"https://127.0.0.1:8443/72f9", "72F9", "https://127.0.0.1:8443/72f9", ""},
		{"https://127.0.0.1:8443/72f9", "other", "", "drop one of them"},
		{"http://127.0.0.1:8443", "", "", "only reached over https"},
		{"login.microsoftonline.com", "", "", "want an https:// URL"},
		{"https://host/a/b", "", "", "invalid tenant"},
		{"https://host?x=1", "", "", "no query"},
	}
	for _, tt := range tests {
		got, err := ResolveAuthority(tt.authority, tt.tenant)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || exitcode.Code(err) != exitcode.Usage {
				t.Errorf("ResolveAuthority(%q, %q) err = %v, want usage error with %q", tt.authority, tt.tenant, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResolveAuthority(%q, %q) = %q, %v; want %q", tt.authority, tt.tenant, got, err, tt.want)
		}
	}
	if !instanceDiscovery("https://login.microsoftonline.com/x") || instanceDiscovery("https://127.0.0.1:8443/x") {
		t.Error("instance discovery should be on for Microsoft hosts only")
	}
}

func TestTokenTenant(t *testing.T) {
	t.Parallel()
	// header {"alg":"none"}, payload {"tid":"t-1"}
	if got := tokenTenant("eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ0LTEifQ.sig"); got != "t-1" {
		t.Errorf("tokenTenant = %q", got)
	}
	for _, bad := range []string{"", "opaque", "a.b.c", "a.!!.c"} {
		if got := tokenTenant(bad); got != "" {
			t.Errorf("tokenTenant(%q) = %q", bad, got)
		}
	}
}

func TestProfileNamesStayInTheStateDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim.json")
	if err := os.WriteFile(victim, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &Manager{StateDir: filepath.Join(dir, "state")}
	for _, name := range []string{"../../victim", "../x", ""} {
		if err := m.Logout(context.Background(), name); exitcode.Code(err) != exitcode.Usage {
			t.Errorf("Logout(%q) = %v", name, err)
		}
		if _, err := m.Acquire(context.Background(), name, nil); exitcode.Code(err) != exitcode.Usage {
			t.Errorf("Acquire(%q) = %v", name, err)
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("a file outside the state directory was touched: %v", err)
	}
}
