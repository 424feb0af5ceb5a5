package connector_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/golden"
)

// definitions is the testdata every golden test runs on.
var definitions = filepath.Join("..", "..", "testdata", "connectors")

func definition(name string) string { return filepath.Join(definitions, name) }

func runCLI(t *testing.T, args ...string) clitest.Result {
	t.Helper()
	return clitest.Run(t, map[string]string{"HOOKCTL_CONFIG_DIR": t.TempDir()}, "", args...)
}

// squeeze is text with each run of spaces and line breaks made one space:
// what a pretty line says, however the terminal's width wrapped it.
func squeeze(text string) string { return strings.Join(strings.Fields(text), " ") }

// TestLintGolden pins `connector lint` output for every testdata definition
// in both output modes (go test ./cmd/connector -update rewrites them).
func TestLintGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		file       string
		properties string
		code       int
	}{
		{"github", "github.swagger.json", "", 0},
		{"github-properties", "github.swagger.json", "github.apiProperties.json", 0},
		{"github-broken-properties", "github.swagger.json", "broken.apiProperties.json", 4},
		{"batch", "batch.swagger.json", "", 0},
		{"trailing-commas", "trailing-commas.swagger.json", "", 0},
		{"broken-webhook", "broken-webhook.swagger.json", "", 4},
		{"broken-general", "broken-general.swagger.json", "", 4},
	} {
		for _, mode := range []string{"json", "pretty"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				args := []string{"connector", "lint", definition(tc.file), "-o", mode}
				if tc.properties != "" {
					args = append(args, "--properties", definition(tc.properties))
				}
				res := runCLI(t, args...)
				if res.Code != tc.code || res.Stderr != "" {
					t.Errorf("exit %d, want %d; stderr %q", res.Code, tc.code, res.Stderr)
				}
				ext := map[string]string{"json": ".jsonl", "pretty": ".txt"}[mode]
				golden.Assert(t, filepath.Join("testdata", "lint", tc.name+ext), []byte(res.Stdout))
			})
		}
	}
}

// TestLintBreaksEveryRule checks that the broken definitions break each
// rule the issue names, so the goldens cannot silently lose one.
func TestLintBreaksEveryRule(t *testing.T) {
	t.Parallel()
	type finding struct{ Rule, Severity, Pointer string }
	seen := map[string]string{}
	for _, file := range []string{"broken-webhook.swagger.json", "broken-general.swagger.json"} {
		for _, f := range clitest.DecodeLines[finding](t, runCLI(t, "connector", "lint", definition(file), "-o", "json")) {
			if f.Rule != "" {
				seen[f.Rule] = f.Severity
			}
		}
	}
	for _, rule := range []string{"WebhookOperationsMissingNotificationUrlProperty", "OperationMustHaveNotificationContentExtension",
		"NotificationUrlNotAllowedInThisPosition", "NotificationUrlNotInternal", "NotificationUrlNotRequired", "NotificationUrlNotString",
		"XMsTriggerInvalid", "WebhookMissingDeleteOperation", "WebhookMissingLocationHeader", "WebhookNot201",
		"OperationIdRequired", "OperationIdNotUnique", "PathParameterMustBeRequired", "OperationMissingPathParameter",
		"OperationSummaryTooLong", "SchemeNotValid", "HostNameNotValid", "SwaggerInvalid"} {
		if seen[rule] != "error" {
			t.Errorf("%s: severity %q, want an error", rule, seen[rule])
		}
	}
	for _, rule := range []string{"DeleteOperationNotInternal", "OperationSummaryMissing", "OperationSummaryNotCertifiable", "OperationDescriptionMissing", "OperationDescriptionNotSentence"} {
		if seen[rule] != "warning" {
			t.Errorf("%s: severity %q, want a warning", rule, seen[rule])
		}
	}
}

func TestLintUnreadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"missing.json", "", "no such file"},
		{"openapi3.json", `{"openapi": "3.0.0"}`, `not a Swagger 2.0 document: "swagger" is ""`},
		{"broken.json", "{\"swagger\": \"2.0\",\n  \"info\": }", "line 2, column 11"},
	} {
		path := filepath.Join(dir, tc.name)
		if tc.content != "" {
			writeFile(t, path, tc.content)
		}
		res := runCLI(t, "connector", "lint", path)
		if res.Code != 1 || !strings.Contains(squeeze(res.Stderr), squeeze(tc.want)) || res.Stdout != "" {
			t.Errorf("%s: exit %d, stderr %q, stdout %q", tc.name, res.Code, res.Stderr, res.Stdout)
		}
	}
	if res := runCLI(t, "connector", "lint"); res.Code != 2 {
		t.Errorf("no file: exit %d", res.Code)
	}
}

func TestTriggers(t *testing.T) {
	t.Parallel()
	res := runCLI(t, "connector", "triggers", definition("github.swagger.json"), "-o", "json")
	want := `{"type":"trigger","operationId":"WebhookTrigger","method":"POST","path":"/repos/{owner}/{repo}/hooks","kind":"single","callbackField":"/config/url","notificationSchema":"static","deleteOperationId":"DeleteTrigger"}` + "\n"
	if res.Code != 0 || res.Stdout != want {
		t.Errorf("exit %d\n got %s\nwant %s", res.Code, res.Stdout, want)
	}
	res = runCLI(t, "connector", "triggers", definition("broken-general.swagger.json"), "-o", "json")
	if res.Code != 0 || !strings.Contains(res.Stdout, `"operationId":"OnEvent"`) || !strings.Contains(res.Stdout, `"deleteOperationId":null`) {
		t.Errorf("exit %d: %s", res.Code, res.Stdout)
	}
	res = runCLI(t, "connector", "triggers", definition("batch.swagger.json"), "-o", "pretty")
	for _, want := range []string{"OnNewTasks  POST /subscriptions  (batch)", "callback field:       /callbackUrl", "unregistered by:      DeleteSubscription", "hint:                 To see it work, create a task in the project."} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("pretty output lacks %q:\n%s", want, res.Stdout)
		}
	}
}
