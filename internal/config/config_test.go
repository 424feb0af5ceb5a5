package config

import (
	"os"
	"path/filepath"
	"testing"

	_ "github.com/hookctl/hookctl/internal/golden"
)

func lookup(env map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestDirectories(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		env               map[string]string
		wantConfig, state string
	}{
		{"home", map[string]string{"HOME": "/h"}, "/h/.config/hookctl", "/h/.local/state/hookctl"},
		{"xdg", map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "/x/c", "XDG_STATE_HOME": "/x/s"}, "/x/c/hookctl", "/x/s/hookctl"},
		{"hookctl wins", map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "/x/c", "HOOKCTL_CONFIG_DIR": "/k/c", "HOOKCTL_STATE_DIR": "/k/s"}, "/k/c", "/k/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ConfigDir(lookup(tt.env)); got != tt.wantConfig {
				t.Errorf("ConfigDir = %q, want %q", got, tt.wantConfig)
			}
			if got := StateDir(lookup(tt.env)); got != tt.state {
				t.Errorf("StateDir = %q, want %q", got, tt.state)
			}
		})
	}
}

func TestWriteFileAtomicModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state", "nested")
	path := filepath.Join(dir, "file.json")
	if err := WriteFileAtomic(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("two")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != "two" {
		t.Errorf("content %q", data)
	}
	fi, _ := os.Stat(path)
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("modes: file %v, dir %v", fi.Mode().Perm(), di.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := lookup(map[string]string{"HOOKCTL_CONFIG_DIR": dir, "HOOKCTL_LISTEN_ADDR": "scoped", "HOOKCTL_ADDR": "shared"})
	cfg, err := Load("", env)
	if err != nil {
		t.Fatalf("a missing default config file must not be an error: %v", err)
	}
	if v, src, ok := cfg.Lookup("listen", "addr"); !ok || v != "scoped" || src != "HOOKCTL_LISTEN_ADDR" {
		t.Errorf("Lookup = %v %q %v", v, src, ok)
	}
	if _, err := Load(filepath.Join(dir, "absent.yaml"), env); err == nil {
		t.Error("an explicit --config that does not exist must be an error")
	}
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("ngrok:\n  authtoken: abc\nlisten:\n  forward-to: [a, b]\n"), 0o600)
	cfg, err = Load("", lookup(map[string]string{"HOOKCTL_CONFIG_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GetString("ngrok.authtoken") != "abc" {
		t.Errorf("ngrok.authtoken = %q", cfg.GetString("ngrok.authtoken"))
	}
	if v, _, ok := cfg.Lookup("listen", "forward-to"); !ok || len(v.([]any)) != 2 {
		t.Errorf("listen.forward-to = %v", v)
	}
}
