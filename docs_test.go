package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/clitest"
)

// TestDocsRunAsWritten runs every shell block (```sh, ```bash, ```shell) of
// README.md and docs/*.md, exactly as written, with bash -e: each command must
// succeed. A ```console block is a transcript: its commands (the lines after
// a `$ ` prompt, with their `\` continuation lines) run the same way, and the
// output printed between them is not run. Blocks that need what a test
// cannot have (a real tenant, ngrok, the network, a value only the reader
// has) carry a marker on the line before the fence with the reason:
//
//	<!-- doctest: skip: needs a real tenant -->
//
// Two other markers say how a block runs: `signed-in` (the sandbox has an
// emulator started and `hookctl login` done first, as the reader's shell
// would after the guide's earlier steps) and `in-clone` (run in the
// repository, for `go run .`).
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
			defer holdPorts(b.code)()
			runBlock(t, b, bin, repo)
		})
	}
}

// typedPort finds the loopback ports a block types (--addr 127.0.0.1:8787,
// http://127.0.0.1:8787/...).
var typedPort = regexp.MustCompile(`127\.0\.0\.1:(\d+)`)

// portLocks serialise the blocks that type the same port: run in parallel,
// two of them would fight over it.
var portLocks sync.Map // port → *sync.Mutex

// holdPorts waits until no other block holds a port code types, holds them
// all, and returns what lets them go, each once it is free again. Ports are
// taken in order, so two blocks never wait for each other.
func holdPorts(code string) (release func()) {
	var ports []string
	for _, m := range typedPort.FindAllStringSubmatch(code, -1) {
		if !slices.Contains(ports, m[1]) {
			ports = append(ports, m[1])
		}
	}
	slices.Sort(ports)
	var held []*sync.Mutex
	for _, port := range ports {
		lock, _ := portLocks.LoadOrStore(port, &sync.Mutex{})
		mu := lock.(*sync.Mutex)
		mu.Lock()
		held = append(held, mu)
	}
	return func() {
		for i, mu := range held {
			// What the block left running ends on a signal: the next block
			// gets the port once that process has let it go.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if ln, err := net.Listen("tcp", "127.0.0.1:"+ports[i]); err == nil {
					ln.Close()
					break
				}
			}
			mu.Unlock()
		}
	}
}

// TestDocBlocksRunOrSayWhy parses the documentation without running it (so
// -short checks it too): every ```console block has a command to run or a
// skip marker with its reason, and every marker is known.
func TestDocBlocksRunOrSayWhy(t *testing.T) {
	t.Parallel()
	consoles := 0
	for _, b := range docBlocks(t) {
		if b.mode != "" && b.mode != "signed-in" && b.mode != "in-clone" {
			t.Errorf("%s: unknown doctest marker %q", b.name, b.mode)
		}
		if b.console {
			consoles++
		}
	}
	if consoles == 0 {
		t.Error("no ```console blocks found: the parser is broken")
	}
}

// TestConsoleCommands: the commands of a transcript are its prompt lines and
// their continuations, never the output.
func TestConsoleCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"output only", []string{"✓ Sent", "  ID: 1"}, ""},
		{"commands between output", []string{"$ hookctl whoami", "Profile: default", "$ hookctl token >/dev/null", "eyJ…"},
			"hookctl whoami\nhookctl token >/dev/null\n"},
		{"continuation", []string{`$ hookctl subscribe inbox \`, `    --expires 1h`, "✓ Subscribed"},
			"hookctl subscribe inbox \\\n    --expires 1h\n"},
		{"a prompt without a space is output", []string{"$HOME/bin", "$"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := consoleCommands(tt.lines); got != tt.want {
				t.Errorf("consoleCommands(%q) = %q, want %q", tt.lines, got, tt.want)
			}
		})
	}
}

// docBlock is one shell block of the documentation.
type docBlock struct {
	name string // file:line
	code string // the script: a shell block's text, a console block's commands
	skip string // the reason, for a skipped block
	mode string // "", "signed-in" or "in-clone"
	// console is a ```console block: a transcript whose `$ ` lines run.
	console bool
}

// consoleCommands is the script of a ```console transcript: each line after
// a "$ " prompt, with the lines that continue it (after a trailing
// backslash); the printed output between them is not run.
func consoleCommands(lines []string) string {
	var script strings.Builder
	continued := false
	for _, line := range lines {
		switch {
		case continued:
		case strings.HasPrefix(line, "$ "):
			line = strings.TrimPrefix(line, "$ ")
		default:
			continue // output
		}
		script.WriteString(line + "\n")
		continued = strings.HasSuffix(line, "\\")
	}
	return script.String()
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
			var b docBlock
			switch lang {
			case "sh", "bash", "shell":
				b = docBlock{code: strings.Join(code, "\n") + "\n"}
			case "console":
				b = docBlock{code: consoleCommands(code), console: true}
			default:
				continue
			}
			b.name = fmt.Sprintf("%s:%d", file, start+1)
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
			if b.console && b.code == "" && b.skip == "" {
				t.Errorf("%s: a ```console block with no `$ ` command: give the command, mark it skipped with the reason, or make it ```text if it is only output", b.name)
				continue
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
