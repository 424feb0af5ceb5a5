package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/clitest"
)

// TestDocsRunAsWritten runs every shell block (```sh, ```bash, ```shell) of
// README.md and docs/*.md, exactly as written, with bash -e: each command must
// succeed. Blocks that need what a test cannot have (a real tenant, ngrok,
// the network) carry a marker on the line before the fence with the reason:
//
//	<!-- doctest: skip: needs a real tenant -->
//
// Two other markers say how a block runs: `signed-in` (the sandbox has an
// emulator started and `hookctl login` done first, as the reader's shell
// would after the guide's earlier steps) and `in-clone` (run in the
// repository, for `go run .`). ```console blocks are transcripts, a prompt
// and what was printed, and are not run.
//
// Each block runs in a sandbox: a fresh HOME (so state and config are new),
// the hookctl binary first on PATH, no HOOKCTL_* from the developer's
// environment, and three settings of the test machine: tokens in files
// (HOOKCTL_TOKEN_STORE=file; there is no OS keyring here), and the emulator
// and listen on ports of their own choosing (HOOKCTL_EMULATOR_ADDR,
// HOOKCTL_LISTEN_ADDR), so runs on a shared machine do not collide; a block
// that types a port binds that port.
func TestDocsRunAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the documentation's shell blocks against the emulator (-short skips it)")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash on PATH: the documented blocks are bash")
	}
	blocks := docBlocks(t)
	if len(blocks) == 0 {
		t.Fatal("no shell blocks found: the parser is broken")
	}
	bin := filepath.Dir(clitest.Binary(t))
	repo, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		t.Run(b.name, func(t *testing.T) {
			switch {
			case b.skip != "":
				t.Skip(b.skip)
			case b.mode != "" && b.mode != "signed-in" && b.mode != "in-clone":
				t.Fatalf("unknown doctest marker %q", b.mode)
			}
			t.Parallel()
			runBlock(t, b, bin, repo)
		})
	}
}

// docBlock is one shell block of the documentation.
type docBlock struct {
	name string // file:line
	code string
	skip string // the reason, for a skipped block
	mode string // "", "signed-in" or "in-clone"
}

var (
	fence  = regexp.MustCompile("^( *)```(\\w*)\\s*$")
	marker = regexp.MustCompile(`^\s*<!-- doctest: ([\w-]+)(?::\s*(.*?))?\s*-->\s*$`)
)

// docBlocks parses README.md and docs/*.md.
func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("docs", "*.md"))
	files = append([]string{"README.md"}, files...)
	var blocks []docBlock
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for i := 0; i < len(lines); i++ {
			m := fence.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			indent, lang := m[1], m[2]
			start := i
			var code []string
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
				code = append(code, strings.TrimPrefix(lines[i], indent))
			}
			if lang != "sh" && lang != "bash" && lang != "shell" {
				continue
			}
			b := docBlock{name: fmt.Sprintf("%s:%d", file, start+1), code: strings.Join(code, "\n") + "\n"}
			if start > 0 {
				if mm := marker.FindStringSubmatch(lines[start-1]); mm != nil {
					if mm[1] == "skip" {
						b.skip = mm[2]
						if b.skip == "" {
							t.Errorf("%s: a skipped block must say why", b.name)
						}
					} else {
						b.mode = mm[1]
					}
				}
			}
			blocks = append(blocks, b)
		}
	}
	return blocks
}

// signIn is what the reader's shell has done before a `signed-in` block.
const signIn = `hookctl emulator start --auto-approve 2>/dev/null
eval "$(hookctl emulator env)"
hookctl login >/dev/null 2>&1
`

func runBlock(t *testing.T, b docBlock, bin, repo string) {
	home := t.TempDir()
	script := b.code
	if b.mode == "signed-in" {
		script = signIn + script
	}
	dir := home
	if b.mode == "in-clone" {
		dir = repo
	}
	code, output := runScript(t, bin, home, dir, script)
	switch code {
	case 0:
	case -1:
		t.Fatalf("%s did not finish within two minutes when run as written:\n%s\n--- output:\n%s", b.name, b.code, output)
	default:
		t.Fatalf("%s failed (exit %d) when run as written:\n%s\n--- output:\n%s", b.name, code, b.code, output)
	}
}

// sandboxEnv is the environment of a sandbox whose HOME is home.
func sandboxEnv(t *testing.T, bin, home string) []string {
	t.Helper()
	goEnv, err := exec.Command("go", "env", "GOMODCACHE", "GOCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	goDirs := strings.Split(strings.TrimSpace(string(goEnv)), "\n")
	env := clitest.Environ(map[string]string{
		// The new HOME must not mean a new Go module and build cache.
		"GOMODCACHE": goDirs[0], "GOCACHE": goDirs[1], "GOPATH": goDirs[2],
		"HOME":                  home,
		"PATH":                  bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOOKCTL_TOKEN_STORE":   "file",
		"HOOKCTL_EMULATOR_ADDR": "127.0.0.1:0",
		"HOOKCTL_LISTEN_ADDR":   "127.0.0.1:0",
	})
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "XDG_") {
			kept = append(kept, kv)
		}
	}
	return kept
}

// runScript runs script with bash -e in dir, in the sandbox of home, and
// returns its exit code (-1: still running after two minutes) and output.
func runScript(t *testing.T, bin, home, dir, script string) (int, string) {
	t.Helper()
	env := sandboxEnv(t, bin, home)
	// Whatever the script leaves running in the background is the sandbox's.
	t.Cleanup(func() {
		stop := exec.Command(filepath.Join(bin, "hookctl"), "emulator", "stop")
		stop.Env, stop.Dir = env, home
		if out, err := stop.CombinedOutput(); err != nil {
			t.Errorf("stopping what the block left running: %v\n%s", err, out)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-c", script)
	cmd.Env, cmd.Dir = env, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A file, not a pipe: a background job still holding a pipe would keep
	// Run waiting after the script itself has finished.
	out, err := os.Create(filepath.Join(t.TempDir(), "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	// Background jobs (a listen the script did not stop) end with it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	printed, _ := os.ReadFile(out.Name())
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return -1, string(printed)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(printed)
	case err != nil:
		t.Fatalf("running bash: %v", err)
	}
	return 0, string(printed)
}
