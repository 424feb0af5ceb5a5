package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/clitest"
)

// TestCIRecipeRunsAsWritten runs the CI recipes of README.md and
// docs/quickstart.md against the emulator, as written but for what only a
// real tenant has: the sign-in line becomes the emulator's, and the tunnel
// is --tunnel none. It passes when the mail's notification arrives; and
// when listen cannot run (not signed in), the recipe must fail at once
// rather than wait forever for a subscription that will never exist.
func TestCIRecipeRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CI recipes against the emulator (-short skips it)")
	}
	for _, tool := range []string{"bash", "jq", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s on PATH: the recipes use it", tool)
		}
	}
	bin := filepath.Dir(clitest.Binary(t))
	for _, recipe := range []struct{ name, script, profile string }{
		{"README.md", readmeRecipe(t), "default"},
		{"docs/quickstart.md", quickstartRecipe(t), "ci"},
	} {
		if !strings.Contains(recipe.script, `"type":"subscribed"`) {
			t.Fatalf("%s: the recipe does not wait for the subscribed event:\n%s", recipe.name, recipe.script)
		}
		script := strings.ReplaceAll(recipe.script, "hookctl listen ", "hookctl listen --tunnel none ")
		t.Run(recipe.name+"/arrives", func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			signedIn := "hookctl emulator start --auto-approve 2>/dev/null\neval \"$(hookctl emulator env)\"\nhookctl login --profile " + recipe.profile + " >/dev/null 2>&1\n"
			code, output := runScript(t, bin, home, home, signedIn+script)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, output)
			}
			events, _ := os.ReadFile(filepath.Join(home, "events.jsonl"))
			for _, want := range []string{`"type":"subscribed"`, `"type":"notification"`, `"type":"unsubscribed"`} {
				if !strings.Contains(string(events), want) {
					t.Errorf("events.jsonl lacks %s:\n%s", want, events)
				}
			}
		})
		t.Run(recipe.name+"/listen fails", func(t *testing.T) {
			t.Parallel()
			// The emulator runs, but nobody signed in: listen exits 3 at once.
			noSignIn := "hookctl emulator start --auto-approve 2>/dev/null\neval \"$(hookctl emulator env)\"\n"
			home := t.TempDir()
			code, output := runScript(t, bin, home, home, noSignIn+script)
			if code == 0 || code == -1 {
				t.Fatalf("the recipe did not fail when listen stopped (exit %d):\n%s", code, output)
			}
			if !strings.Contains(output, "hookctl login") {
				t.Errorf("listen's reason is not in the output:\n%s", output)
			}
		})
	}
}

// readmeRecipe is the README's CI block without its sign-in line.
func readmeRecipe(t *testing.T) string {
	t.Helper()
	for _, b := range docBlocks(t) {
		if strings.HasPrefix(b.name, "README.md:") && strings.Contains(b.code, "hookctl trigger mail") && strings.Contains(b.code, "--count 1") {
			var kept []string
			for _, line := range strings.Split(b.code, "\n") {
				if !strings.HasPrefix(line, "hookctl login ") {
					kept = append(kept, line)
				}
			}
			return strings.Join(kept, "\n")
		}
	}
	t.Fatal("README.md has no CI recipe")
	return ""
}

// quickstartRecipe is the `run: |` script of the GitHub Actions step in
// docs/quickstart.md that listens and sends the mail.
func quickstartRecipe(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("docs", "quickstart.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		if strings.TrimSpace(line) != "run: |" || i == 0 || !strings.Contains(lines[i-1], "arrives as a notification") {
			continue
		}
		indent := len(lines[i+1]) - len(strings.TrimLeft(lines[i+1], " "))
		var script []string
		for _, l := range lines[i+1:] {
			if strings.TrimSpace(l) == "```" || len(l)-len(strings.TrimLeft(l, " ")) < indent && strings.TrimSpace(l) != "" {
				break
			}
			script = append(script, strings.TrimPrefix(l, strings.Repeat(" ", indent)))
		}
		return strings.Join(script, "\n") + "\n"
	}
	t.Fatal("docs/quickstart.md has no CI step that listens")
	return ""
}
