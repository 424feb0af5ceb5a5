package version

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "732d5b2f0c0ffee0123456789abcdef012345678"}, {Key: "vcs.time", Value: "2026-12-02T15:00:00Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, tt := range []struct {
		name, ldflags string
		build         *debug.BuildInfo
		want          string
	}{
		{"go install @version", "dev", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.4.0"}}, "hookctl v1.4.0 (go1.26.0, "},
		{"ldflags win", "v2.0.0", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.4.0"}}, "hookctl v2.0.0 (go1.26.0, "},
		{"checkout with -buildvcs", "dev", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			"hookctl dev (commit 732d5b2f0c0f, modified, 2026-12-02T15:00:00Z, go1.26.0, "},
		{"no build info", "dev", nil, "hookctl dev ("},
	} {
		if got := fromBuildInfo(tt.ldflags, tt.build).String(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: %q, want prefix %q", tt.name, got, tt.want)
		}
	}
}

func TestVersionJSONHasAType(t *testing.T) {
	t.Parallel()
	ios, _, out, _ := iostreams.Test()
	info := Info{Version: "v1.0.0", Revision: "abc", Time: "2026-12-02T11:13:35.123456+01:00", Go: "go1.26.0", Platform: "linux/amd64"}
	if err := versionRun(&Options{IO: ios, JSON: func() bool { return true }, Info: info}); err != nil {
		t.Fatal(err)
	}
	if out.String() != `{"type":"version","version":"v1.0.0","revision":"abc","time":"2026-12-02T10:13:35.123Z","go":"go1.26.0","platform":"linux/amd64"}`+"\n" {
		t.Errorf("got %s", out)
	}
}

// TestVersionFitsTheWidth: the pretty line at 80 and 120 columns (golden
// files), the details wrapped between words, the revision never cut.
func TestVersionFitsTheWidth(t *testing.T) {
	t.Parallel()
	info := Info{Version: "v1.4.0-rc.1", Revision: "d6b83f8e41c2a7b05f9e3d21", Modified: true, Time: "2026-12-02T11:13:35Z", Go: "go1.26.0", Platform: "linux/amd64"}
	for _, width := range golden.Widths {
		ios, _, out, _ := iostreams.Test()
		ios.SetWidth(width)
		if err := versionRun(&Options{IO: ios, JSON: func() bool { return false }, Info: info}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "commit d6b83f8e41c2, modified") {
			t.Errorf("%d columns: the revision was cut:\n%s", width, out)
		}
		golden.AssertFits(t, "version", width, out.Bytes())
	}
}

// TestBuildFromACheckoutCarriesTheCommit builds hookctl, as the README says,
// from a git checkout of this tree with -buildvcs=true (these machines set
// GOFLAGS=-buildvcs=false), and checks `hookctl version -o json` names the commit.
func TestBuildFromACheckoutCarriesTheCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hookctl (-short skips it)")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git on PATH")
	}
	t.Parallel()
	repo := filepath.Join("..", "..")
	files, err := exec.Command("git", "-C", repo, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	checkout := t.TempDir()
	for _, name := range strings.Split(strings.TrimSpace(string(files)), "\n") {
		data, err := os.ReadFile(filepath.Join(repo, name))
		if err != nil {
			continue // deleted in the working tree
		}
		dst := filepath.Join(checkout, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = checkout
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "snapshot")
	head := git("rev-parse", "HEAD")

	bin := filepath.Join(t.TempDir(), "hookctl")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Dir = checkout
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout bytes.Buffer
	run := exec.Command(bin, "version", "-o", "json")
	run.Stdout = &stdout
	if err := run.Run(); err != nil {
		t.Fatal(err)
	}
	var info struct {
		Type string `json:"type"`
		Info
	}
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if info.Type != "version" || info.Revision != head || info.Time == "" || info.Modified {
		t.Errorf("version -o json = %+v, want revision %s, a time, unmodified", info, head)
	}
}
