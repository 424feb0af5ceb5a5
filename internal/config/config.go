// Package config finds hookctl's configuration and state directories and loads config.yaml.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every environment variable hookctl reads for a flag: --teams-secret is HOOKCTL_TEAMS_SECRET.
const EnvPrefix = "HOOKCTL"

// Configurable is the flag annotation that lets a flag be read from HOOKCTL_*
// and config.yaml when it is not on the command line. Configuration is opt-in:
// a flag without it is read from the command line only, so a value meant for
// one command, or left in the environment, cannot reveal a secret or destroy
// anything in another. Mark flags with MarkConfigurable.
const Configurable = "hookctl_configurable"

// MarkConfigurable marks the named flags of fs Configurable; it panics on a
// name fs does not have, so a renamed flag cannot silently lose its marking.
func MarkConfigurable(fs *pflag.FlagSet, names ...string) {
	for _, name := range names {
		if err := fs.SetAnnotation(name, Configurable, []string{"true"}); err != nil {
			panic(fmt.Sprintf("config.MarkConfigurable: %v", err))
		}
	}
}

// IsConfigurable reports whether fl may be read from HOOKCTL_* and config.yaml.
func IsConfigurable(fl *pflag.Flag) bool {
	_, ok := fl.Annotations[Configurable]
	return ok
}

// FileOnlyKey reports the config.yaml keys that are settings but not flags:
// ngrok.authtoken, read by the ngrok tunnel (internal/tunnel).
func FileOnlyKey(key string) bool { return key == "ngrok.authtoken" }

// SourceAnnotation is set on a flag filled from the environment or the config
// file; its value names where the value came from.
const SourceAnnotation = "hookctl_source"

// FromCommandLine reports whether fl was given on the command line itself
// rather than filled from HOOKCTL_* or config.yaml.
func FromCommandLine(fl *pflag.Flag) bool {
	return fl != nil && fl.Changed && len(fl.Annotations[SourceAnnotation]) == 0
}

// Source names where fl's value came from, for messages: "--name" when it
// was typed (or is its default), else the environment variable
// ("HOOKCTL_AUTHORITY") or the config.yaml key and file ("listen.addr in
// /home/me/.config/hookctl/config.yaml").
func Source(fl *pflag.Flag) string {
	if source := fl.Annotations[SourceAnnotation]; len(source) > 0 {
		return source[0]
	}
	return "--" + fl.Name
}

// Lookup reads the environment; tests substitute a map.
type Lookup func(string) (string, bool)

// ConfigDir is $HOOKCTL_CONFIG_DIR, else $XDG_CONFIG_HOME/hookctl, else ~/.config/hookctl.
func ConfigDir(env Lookup) string {
	if d, ok := env("HOOKCTL_CONFIG_DIR"); ok && d != "" {
		return d
	}
	if d, ok := env("XDG_CONFIG_HOME"); ok && d != "" {
		return filepath.Join(d, "hookctl")
	}
	return filepath.Join(homeDir(env), ".config", "hookctl")
}

// StateDir is $HOOKCTL_STATE_DIR, else $XDG_STATE_HOME/hookctl, else ~/.local/state/hookctl.
// It holds the journal, the subscription store and the token cache.
func StateDir(env Lookup) string {
	if d, ok := env("HOOKCTL_STATE_DIR"); ok && d != "" {
		return d
	}
	if d, ok := env("XDG_STATE_HOME"); ok && d != "" {
		return filepath.Join(d, "hookctl")
	}
	return filepath.Join(homeDir(env), ".local", "state", "hookctl")
}

func homeDir(env Lookup) string {
	if h, ok := env("HOME"); ok && h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "."
}

// EnsurePrivateDir creates dir (and parents) and makes dir itself 0700.
func EnsurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("securing %s: %w", dir, err)
	}
	return nil
}

// WriteFileAtomic writes data to path with mode 0600 through a temporary file in
// the same directory and a rename, so readers see the old or the new file, never half.
// The directory is created 0700 if missing.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := EnsurePrivateDir(dir); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Config is the loaded config.yaml plus the environment.
type Config struct {
	// File is the config file's path (it may not exist).
	File string
	// ConfigDir and StateDir are the resolved directories.
	ConfigDir string
	StateDir  string

	v   *viper.Viper
	env Lookup
}

// Load reads the config file at path, or config.yaml in the config directory when
// path is empty. A missing file is not an error; a malformed one is.
func Load(path string, env Lookup) (*Config, error) {
	c := &Config{ConfigDir: ConfigDir(env), StateDir: StateDir(env), env: env}
	explicit := path != ""
	if !explicit {
		path = filepath.Join(c.ConfigDir, "config.yaml")
	}
	c.File = path
	c.v = viper.New()
	c.v.SetConfigFile(path)
	c.v.SetConfigType("yaml")
	if err := c.v.ReadInConfig(); err != nil {
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			return c, nil
		}
		var notFound viper.ConfigFileNotFoundError
		if (errors.As(err, &notFound) || errors.Is(err, fs.ErrNotExist)) && explicit {
			return nil, fmt.Errorf("config file %s does not exist", path)
		}
		return nil, fmt.Errorf("reading config file %s: %w", path, err)
	}
	return c, nil
}

// EnvName is the environment variable for a flag name: "teams-secret" -> HOOKCTL_TEAMS_SECRET.
func EnvName(flag string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Lookup finds the value for a flag that was not given on the command line: the
// environment first (the command-scoped HOOKCTL_LISTEN_TIMEOUT before the shared
// HOOKCTL_TIMEOUT), then the config file under the command's own section
// (e.g. `listen: {addr: ...}`), then the file's top level. scope is the command
// path below the root, such as "listen" or "subscriptions renew".
func (c *Config) Lookup(scope, flag string) (value any, source string, ok bool) {
	if scope != "" {
		name := EnvName(strings.ReplaceAll(scope, " ", "_") + "_" + flag)
		if v, ok := c.env(name); ok {
			return v, name, true
		}
	}
	if v, ok := c.env(EnvName(flag)); ok {
		return v, EnvName(flag), true
	}
	if scope != "" {
		key := strings.ReplaceAll(scope, " ", ".") + "." + flag
		if c.v.IsSet(key) {
			return c.v.Get(key), key + " in " + c.File, true
		}
	}
	if c.v.IsSet(flag) {
		return c.v.Get(flag), flag + " in " + c.File, true
	}
	return nil, "", false
}

// Keys lists the config file's keys, dotted and lower-case ("listen.addr").
func (c *Config) Keys() []string { return c.v.AllKeys() }

// Get returns a config-file value by dotted key (e.g. "ngrok.authtoken"), or nil.
func (c *Config) Get(key string) any { return c.v.Get(key) }

// GetString returns a config-file value by dotted key as a string.
func (c *Config) GetString(key string) string { return c.v.GetString(key) }

// Env reads an environment variable through the lookup the config was loaded with.
func (c *Config) Env(name string) (string, bool) { return c.env(name) }
