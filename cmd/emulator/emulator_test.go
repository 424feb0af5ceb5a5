package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/emulator/hubsim"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

// run starts the command's body with opts on a free port, lets check look at
// the running emulator, then interrupts it as Ctrl+C would.
func run(t *testing.T, opts *Options, check func(*emulator.Emulator)) (stdout, stderr string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetWidth(500) // content checks; width_test.go checks the layout at 80 and 120 columns
	opts.IO = ios
	opts.Addr = "127.0.0.1:0"
	if opts.StateFile == "" {
		opts.StateFile = filepath.Join(t.TempDir(), "emulator", "state.json")
	}
	if opts.RetryBase == 0 {
		opts.RetryBase, opts.BatchWindow = time.Second, 10*time.Millisecond
	}
	opts.Secrets = &logging.Secrets{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts.Ready = func(e *emulator.Emulator) {
		if check != nil {
			check(e)
		}
		cancel()
	}
	if err := emulatorRun(ctx, opts); err != nil {
		t.Fatalf("emulatorRun: %v", err)
	}
	return out.String(), errOut.String()
}

func TestJSONSettings(t *testing.T) {
	t.Parallel()
	var running *emulator.Emulator
	stdout, stderr := run(t, &Options{JSON: true}, func(e *emulator.Emulator) {
		running = e
		// It accepts connections by the time the settings are out.
		resp, err := e.HTTPClient().Get(e.ControlURL + "/settings")
		if err != nil {
			t.Errorf("control API: %v", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /_emulator/settings: %d", resp.StatusCode)
		}
	})
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one JSON line on stdout, got %q", stdout)
	}
	var got struct {
		Authority    string `json:"authority"`
		GraphURL     string `json:"graphUrl"`
		CAFile       string `json:"caFile"`
		TenantID     string `json:"tenantId"`
		ControlURL   string `json:"controlUrl"`
		PublicClient struct {
			ClientID string `json:"clientId"`
		} `json:"publicClient"`
		ConfidentialClient struct {
			ClientID        string `json:"clientId"`
			ClientSecret    string `json:"clientSecret"`
			CertificateFile string `json:"certificateFile"`
		} `json:"confidentialClient"`
		Users []struct {
			ID                string `json:"id"`
			UserPrincipalName string `json:"userPrincipalName"`
		} `json:"users"`
		EventHub *struct {
			Namespace        string `json:"namespace"`
			Hub              string `json:"hub"`
			ConnectionString string `json:"connectionString"`
			Partitions       int    `json:"partitions"`
		} `json:"eventHub"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got.Authority != running.Authority || got.GraphURL != running.URL+"/v1.0" || got.ControlURL != running.URL+"/_emulator" ||
		got.TenantID != running.TenantID || got.PublicClient.ClientID != running.PublicClientID ||
		got.ConfidentialClient.ClientID != running.ConfidentialClientID || got.ConfidentialClient.ClientSecret != running.ClientSecret ||
		got.CAFile != running.CAFile || got.ConfidentialClient.CertificateFile != running.CertificateFile ||
		len(got.Users) != 2 || got.Users[0].UserPrincipalName != "adele@contoso.example" || got.Users[0].ID != running.Users[0].ID ||
		got.Users[1].UserPrincipalName != "megan@contoso.example" || got.Users[1].ID != running.Users[1].ID {
		t.Fatalf("settings: %+v", got)
	}
	for _, file := range []string{got.CAFile, got.ConfidentialClient.CertificateFile} {
		if _, err := os.Stat(file); err != nil {
			t.Errorf("printed file missing: %v", err)
		}
	}
	if !strings.Contains(stderr, "Emulator listening on "+running.URL+"; stop it with Ctrl+C or kill "+strconv.Itoa(os.Getpid())+".\n") ||
		!strings.Contains(stderr, "Emulator stopped") || strings.Contains(stderr, "reachable from other machines") {
		t.Errorf("stderr: %q", stderr)
	}
	if strings.Contains(stderr, running.ClientSecret) {
		t.Error("the client secret reached stderr")
	}
	if got.EventHub == nil || got.EventHub.Namespace != running.Hub.Namespace || got.EventHub.Hub != running.Hub.Name ||
		got.EventHub.ConnectionString != running.Hub.ConnectionString || got.EventHub.Partitions != hubsim.DefaultPartitions {
		t.Errorf("eventHub settings: %+v", got.EventHub)
	}
	if strings.Contains(stderr, running.Hub.Key()) {
		t.Error("the event hub's key reached stderr")
	}
}

func TestEnvLines(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "with space", "state.json")
	var running *emulator.Emulator
	stdout, _ := run(t, &Options{Env: true, StateFile: state}, func(e *emulator.Emulator) { running = e })
	want := "export HOOKCTL_AUTHORITY=" + running.Authority + "\n" +
		"export HOOKCTL_GRAPH_URL=" + running.GraphURL + "\n" +
		"export HOOKCTL_CA_FILE='" + filepath.Join(filepath.Dir(state), "ca.pem") + "'\n" +
		"export HOOKCTL_CLIENT_ID=" + running.PublicClientID + "\n" +
		"export HOOKCTL_EMULATOR_URL=" + running.URL + "\n" +
		"export HOOKCTL_EMULATOR_PID=" + strconv.Itoa(os.Getpid()) + "\n" +
		"export HOOKCTL_EMULATOR_EVENT_HUB='" + running.Hub.ConnectionString + "'\n"
	if stdout != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
}

// closeRecorder is a pipe-like stdout that records being closed.
type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestStdoutClosedAfterSettings: with --env or -o json on a pipe, stdout is
// closed once the settings are written, so eval "$(hookctl emulator --env &)"
// returns while the emulator keeps running. A terminal's stdout stays open.
func TestStdoutClosedAfterSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		opts       Options
		tty        bool
		wantClosed bool
	}{
		{"env on a pipe", Options{Env: true}, false, true},
		{"json on a pipe", Options{JSON: true}, false, true},
		{"pretty on a terminal", Options{}, true, false},
		{"env on a terminal", Options{Env: true}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			ios.SetTTY(false, tc.tty, false)
			out := &closeRecorder{}
			ios.Out = out
			opts := tc.opts
			opts.IO, opts.Addr = ios, "127.0.0.1:0"
			opts.StateFile = filepath.Join(t.TempDir(), "emulator", "state.json")
			opts.RetryBase, opts.BatchWindow = time.Second, 10*time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var closedWhileRunning bool
			opts.Ready = func(*emulator.Emulator) { closedWhileRunning = out.closed; cancel() }
			if err := emulatorRun(ctx, &opts); err != nil {
				t.Fatal(err)
			}
			if closedWhileRunning != tc.wantClosed || out.Len() == 0 {
				t.Errorf("stdout closed while running = %t, want %t (wrote %d bytes)", closedWhileRunning, tc.wantClosed, out.Len())
			}
		})
	}
}

func TestPrettyBlock(t *testing.T) {
	t.Parallel()
	var running *emulator.Emulator
	stdout, _ := run(t, &Options{AutoApprove: true}, func(e *emulator.Emulator) { running = e })
	for _, want := range []string{
		"hookctl emulator " + running.URL,
		"Authority              " + running.Authority,
		"CA file                " + running.CAFile,
		"client secret        " + running.ClientSecret,
		"Event hub              " + running.Hub.Namespace + "/hookctl (4 partitions)",
		"connection string    " + running.Hub.ConnectionString,
		"adele@contoso.example",
		"megan@contoso.example",
		"--auto-approve",
		"export HOOKCTL_AUTHORITY, HOOKCTL_GRAPH_URL, HOOKCTL_CA_FILE and HOOKCTL_CLIENT_ID",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(*testing.T, *Options)
	}{
		{name: "defaults", args: nil, check: func(t *testing.T, o *Options) {
			if o.Addr != DefaultAddr || !strings.HasSuffix(o.StateFile, filepath.Join("state-dir", "emulator", "state.json")) {
				t.Errorf("defaults: addr %s state %s", o.Addr, o.StateFile)
			}
		}},
		{name: "all flags", args: []string{"--addr", "127.0.0.1:9000", "--state", "/tmp/x/s.json", "--seed", "t.yaml", "--auto-approve", "--env", "--retry-base", "100ms", "--drop-rate", "0.5"}, check: func(t *testing.T, o *Options) {
			if o.Addr != "127.0.0.1:9000" || o.StateFile != "/tmp/x/s.json" || o.SeedFile != "t.yaml" || !o.AutoApprove || !o.Env || o.RetryBase != 100*time.Millisecond || o.DropRate != 0.5 {
				t.Errorf("parsed: %+v", o)
			}
		}},
		{name: "rate above one", args: []string{"--throttle-rate", "1.5"}, wantErr: "--throttle-rate must be between 0 and 1"},
		{name: "zero retry base", args: []string{"--retry-base", "0s"}, wantErr: "--retry-base and --batch-window must be positive"},
		{name: "throttle status 500", args: []string{"--throttle-status", "500"}, wantErr: "--throttle-status must be 429, 503 or 504, not 500"},
		{name: "zero retry-after", args: []string{"--retry-after", "0s"}, wantErr: "--retry-after must be positive"},
		{name: "state is a directory", args: []string{"--state", os.TempDir()}, wantErr: "--state names the state file, but " + os.TempDir() + " is a directory: pass a file inside it, such as " + filepath.Join(os.TempDir(), "state.json")},
		{name: "positional argument", args: []string{"extra"}, wantErr: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			f := &factory.Factory{IOStreams: ios, Secrets: &logging.Secrets{}, Env: func(k string) (string, bool) {
				if k == "HOOKCTL_STATE_DIR" {
					return "/tmp/state-dir", true
				}
				return "", false
			}}
			var got *Options
			cmd := NewCmdEmulator(f, func(o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			var sink bytes.Buffer
			cmd.SetOut(&sink)
			cmd.SetErr(&sink)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error %q, got %v", tt.wantErr, err)
				}
				if tt.name != "positional argument" && exitcode.Code(err) != exitcode.Usage {
					t.Errorf("exit code %d, want %d (usage)", exitcode.Code(err), exitcode.Usage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func TestSeedErrorIsUsage(t *testing.T) {
	t.Parallel()
	seed := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(seed, []byte("users:\n  - displayName: nobody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	err := emulatorRun(context.Background(), &Options{IO: ios, Addr: "127.0.0.1:0", SeedFile: seed, StateFile: filepath.Join(t.TempDir(), "emulator", "s.json"), RetryBase: time.Second, BatchWindow: time.Second})
	if err == nil || !strings.Contains(err.Error(), "needs an id and a userPrincipalName") || exitcode.Code(err) != exitcode.Usage {
		t.Fatalf("want a seed error, got %v", err)
	}
}

func TestStateDirMustBePrivate(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	err := emulatorRun(context.Background(), &Options{IO: ios, Addr: "127.0.0.1:0", StateFile: filepath.Join(shared, "state.json"), RetryBase: time.Second, BatchWindow: time.Second})
	if err == nil || exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "the directory "+shared+" would also hold the emulator's private keys, so it must be new or private (0700), and it is -rwxr-xr-x\nUse a dedicated directory, such as --state "+filepath.Join(shared, "hookctl-emulator", "state.json")) {
		t.Fatalf("want a usage error, got %v", err)
	}
	if info, _ := os.Stat(shared); info.Mode().Perm() != 0o755 {
		t.Fatalf("the directory's mode changed to %v", info.Mode().Perm())
	}
}

// TestGraphFlagsReachTheService checks that the pacing, reauthorization and
// fault flags are in force in the running Graph service, not just parsed.
func TestGraphFlagsReachTheService(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := iostreams.Test()
	f := &factory.Factory{IOStreams: ios, Secrets: &logging.Secrets{}, Env: func(string) (string, bool) { return "", false }}
	var opts *Options
	cmd := NewCmdEmulator(f, func(o *Options) error { opts = o; return nil })
	cmd.SetArgs([]string{"--retry-base", "150ms", "--batch-window", "20ms", "--renew-reauthorizes",
		"--latency", "5ms", "--throttle-rate", "0.25", "--throttle-status", "503", "--retry-after", "2s",
		"--drop-rate", "0.5", "--duplicate-rate", "0.75", "--state", filepath.Join(t.TempDir(), "emulator", "state.json")})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	run(t, opts, func(e *emulator.Emulator) {
		got := e.Graph.CurrentFaults()
		want := graphsim.Faults{Latency: graphsim.Duration(5 * time.Millisecond), ThrottleRate: 0.25, ThrottleStatus: 503,
			RetryAfter: graphsim.Duration(2 * time.Second), DropRate: 0.5, DuplicateRate: 0.75}
		if got != want {
			t.Errorf("faults in force = %+v, want %+v", got, want)
		}
		cfg := e.Graph.Config()
		if cfg.RetryBase != 150*time.Millisecond || cfg.BatchWindow != 20*time.Millisecond || !cfg.RenewReauthorizes {
			t.Errorf("config = retry base %s, batch window %s, renew reauthorizes %t", cfg.RetryBase, cfg.BatchWindow, cfg.RenewReauthorizes)
		}
	})
}

// TestJSONSeedFile starts the command with a JSON seed written the way JSON
// tools write it (tabs, escaped slashes) and finds the seeded user printed.
func TestJSONSeedFile(t *testing.T) {
	t.Parallel()
	seed := filepath.Join(t.TempDir(), "tenant.json")
	content := "{\n\t\"users\": [\n\t\t{\"userPrincipalName\": \"kim@contoso.example\", \"displayName\": \"Kim \\/ Ops\"}\n\t]\n}\n"
	if err := os.WriteFile(seed, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, _ := run(t, &Options{JSON: true, SeedFile: seed}, nil)
	var settings emulator.Settings
	if err := json.Unmarshal([]byte(stdout), &settings); err != nil {
		t.Fatal(err)
	}
	if len(settings.Users) != 3 || settings.Users[2].UserPrincipalName != "kim@contoso.example" || settings.Users[2].DisplayName != "Kim / Ops" || settings.Users[2].ID == "" {
		t.Fatalf("users = %+v", settings.Users)
	}
}

func TestLoopbackOnly(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8443": true, "[::1]:8443": true, "localhost:8443": true, "127.0.0.2:0": true,
		":8443": false, "0.0.0.0:8443": false, "[::]:8443": false, "192.168.1.10:8443": false, "example.com:8443": false, "nonsense": false,
	} {
		if got := loopbackOnly(addr); got != want {
			t.Errorf("loopbackOnly(%q) = %t, want %t", addr, got, want)
		}
	}
}
