package connector_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/cmd"
	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

// event is any line `connector test -o json` prints.
type event struct {
	Type         string          `json:"type"`
	Rule         string          `json:"rule"`
	Message      string          `json:"message"`
	Severity     string          `json:"severity"`
	Status       int             `json:"status"`
	Location     string          `json:"location"`
	URL          string          `json:"url"`
	Body         json.RawMessage `json:"body"`
	SchemaValid  *bool           `json:"schemaValid"`
	SchemaErrors []string        `json:"schemaErrors"`
	Reason       string          `json:"reason"`
	Errors       int             `json:"errors"`
	Received     int             `json:"received"`
}

func githubTest(api *webhookAPI, extra ...string) []string {
	return append([]string{"connector", "test", definition("github.swagger.json"), "--trigger", "WebhookTrigger",
		"--base-url", api.srv.URL, "--param", "owner=octo", "--param", "repo=demo", "--header", "Authorization: " + apiKey, "-o", "json"}, extra...)
}

// TestConnectorTestAgainstEachFault runs `connector test` against the webhook
// API with each of its faults and asserts the exact findings and exit code.
func TestConnectorTestAgainstEachFault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fault    fault
		timeout  string
		findings []string
		types    []string // the event types, in order
		code     int
	}{
		{healthy, "30s", nil,
			[]string{"callback", "registered", "waiting", "notification", "unregistered", "summary"}, 0},
		{answers200, "30s", []string{"RegistrationNot201"},
			[]string{"callback", "registered", "finding", "waiting", "notification", "unregistered", "summary"}, 4},
		{noLocation, "30s", []string{"RegistrationMissingLocation"},
			[]string{"callback", "registered", "finding", "waiting", "notification", "kept", "summary"}, 4},
		{relativeLocation, "30s", []string{"RegistrationLocationNotAbsolute"},
			[]string{"callback", "registered", "finding", "waiting", "notification", "unregistered", "summary"}, 4},
		{locationNoDelete, "30s", []string{"LocationMatchesNoDeleteOperation"},
			[]string{"callback", "registered", "finding", "waiting", "notification", "unregistered", "summary"}, 4},
		{delete500, "30s", []string{"UnregisterFailed"},
			[]string{"callback", "registered", "waiting", "notification", "unregistered", "finding", "summary"}, 4},
		{invalidNotification, "30s", nil,
			[]string{"callback", "registered", "waiting", "notification", "unregistered", "summary"}, 4},
		{mangledCallback, "5s", []string{"CallbackSignatureInvalid"},
			[]string{"callback", "registered", "waiting", "finding", "timeout", "unregistered", "summary"}, 4},
		{noNotification, "1s", nil,
			[]string{"callback", "registered", "waiting", "timeout", "unregistered", "summary"}, 5},
	} {
		name := string(tc.fault)
		if name == "" {
			name = "healthy"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			api := newWebhookAPI(t, tc.fault)
			res := runCLI(t, githubTest(api, "--timeout", tc.timeout)...)
			events := clitest.DecodeLines[event](t, res)
			var types, findings []string
			for _, e := range events {
				types = append(types, e.Type)
				if e.Type == "finding" {
					findings = append(findings, e.Rule)
				}
			}
			if res.Code != tc.code || !slices.Equal(findings, tc.findings) || !slices.Equal(types, tc.types) {
				t.Fatalf("exit %d (want %d), findings %v (want %v)\nevents %v\nwant   %v\nstdout:\n%s\nstderr:\n%s",
					res.Code, tc.code, findings, tc.findings, types, tc.types, res.Stdout, res.Stderr)
			}
			for _, e := range events {
				switch e.Type {
				case "registered":
					if want := map[bool]int{true: 200, false: 201}[tc.fault == answers200]; e.Status != want {
						t.Errorf("registered status %d", e.Status)
					}
				case "notification":
					valid := tc.fault != invalidNotification
					if e.SchemaValid == nil || *e.SchemaValid != valid || (len(e.SchemaErrors) > 0) == valid {
						t.Errorf("notification: schemaValid %v, errors %q", e.SchemaValid, e.SchemaErrors)
					}
				case "unregistered":
					want := 204
					if tc.fault == delete500 {
						want = 500
					}
					if e.Status != want {
						t.Errorf("unregistered status %d, want %d", e.Status, want)
					}
				}
			}
			// No hook is left behind, except when it cannot be deleted.
			remaining := api.remaining()
			if leftBehind := tc.fault == noLocation || tc.fault == delete500; (len(remaining) > 0) != leftBehind {
				t.Errorf("hooks left registered: %v", remaining)
			}
			if strings.Contains(res.Stdout+res.Stderr, "s3cret-api-key") {
				t.Error("the API key was printed")
			}
		})
	}
}

func TestConnectorTestReportsSchemaErrors(t *testing.T) {
	t.Parallel()
	api := newWebhookAPI(t, invalidNotification)
	res := runCLI(t, githubTest(api)...)
	var got []string
	for _, e := range clitest.DecodeLines[event](t, res) {
		if e.Type == "notification" {
			got = e.SchemaErrors
		}
	}
	want := []string{"/ref: got number, want string", "/repository: missing property 'full_name'"}
	if !slices.Equal(got, want) {
		t.Errorf("schema errors %q, want %q", got, want)
	}
}

// TestConnectorTestRegistrationRequest checks the request the API received:
// path parameters in place, body defaults filled, the callback URL in its
// field shaped like a flow's, the API key sent on registration and DELETE.
func TestConnectorTestRegistrationRequest(t *testing.T) {
	t.Parallel()
	api := newWebhookAPI(t, healthy)
	res := runCLI(t, githubTest(api, "--param", `events=["push","release"]`)...)
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}
	body := api.bodies[0]
	config := body["config"].(map[string]any)
	callback := config["url"].(string)
	if body["name"] != "web" || body["active"] != true || config["content_type"] != "json" || !slices.Equal(toStrings(body["events"]), []string{"push", "release"}) {
		t.Errorf("registration body %v", body)
	}
	for _, part := range []string{"/triggers/WebhookTrigger/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2FWebhookTrigger%2Frun&sv=1.0&sig="} {
		if !strings.Contains(callback, part) || !strings.HasPrefix(callback, "http://127.0.0.1:") {
			t.Errorf("callback URL %q lacks %q", callback, part)
		}
	}
	if !slices.Equal(api.deleted, []string{"/repos/octo/demo/hooks/1"}) {
		t.Errorf("deleted %v", api.deleted)
	}
	// The printed callback URL hides its sig.
	if sig := callback[strings.Index(callback, "sig=")+4:]; strings.Contains(res.Stdout, sig) || !strings.Contains(res.Stdout, "sig=REDACTED") {
		t.Errorf("the callback's sig was printed:\n%s", res.Stdout)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, item := range v.([]any) {
		out = append(out, item.(string))
	}
	return out
}

// TestConnectorTestBatch: a batch trigger's array becomes one notification
// event per item, each counted and validated against the items schema.
func TestConnectorTestBatch(t *testing.T) {
	t.Parallel()
	api := newWebhookAPI(t, healthy)
	res := runCLI(t, "connector", "test", definition("batch.swagger.json"), "--trigger", "OnNewTasks", "--base-url", api.srv.URL,
		"--param", "project=docs", "--header", "Authorization: "+apiKey, "--count", "2", "-o", "json")
	var bodies []string
	for _, e := range clitest.DecodeLines[event](t, res) {
		if e.Type == "notification" {
			if e.SchemaValid == nil || !*e.SchemaValid {
				t.Errorf("item %s: %q", e.Body, e.SchemaErrors)
			}
			bodies = append(bodies, string(e.Body))
		}
	}
	want := []string{`{"id":1,"title":"Write the docs","priority":"high"}`, `{"id":2,"title":"Review","priority":"low"}`}
	if res.Code != 0 || !slices.Equal(bodies, want) {
		t.Errorf("exit %d, notifications %q\n%s", res.Code, bodies, res.Stderr)
	}
	if api.queries[0] != "api-version=2024-01-01" || api.bodies[0]["project"] != "docs" {
		t.Errorf("internal query default or body parameter missing: %q %v", api.queries[0], api.bodies[0])
	}
	if !slices.Equal(api.deleted, []string{"/api/subscriptions/1"}) {
		t.Errorf("deleted %v", api.deleted)
	}
}

func TestConnectorTestKeep(t *testing.T) {
	t.Parallel()
	api := newWebhookAPI(t, healthy)
	res := runCLI(t, githubTest(api, "--keep", "-o", "pretty")...)
	if res.Code != 0 || len(api.deleted) != 0 || len(api.remaining()) != 1 {
		t.Fatalf("exit %d, deleted %v\n%s", res.Code, api.deleted, res.Stdout)
	}
	for _, want := range []string{"✓ registered: 201 Created, Location " + api.srv.URL + "/repos/octo/demo/hooks/1",
		"! not unregistered: --keep: the hook stays registered", "✓ every step held: 1 notification received"} {
		if !strings.Contains(squeeze(res.Stdout), want) {
			t.Errorf("pretty output lacks %q:\n%s", want, res.Stdout)
		}
	}
}

// TestConnectorTestExec: --exec runs after registration with the callback and
// Location URLs in its environment, its output kept off stdout.
func TestConnectorTestExec(t *testing.T) {
	t.Parallel()
	api := newWebhookAPI(t, noNotification)
	out := filepath.Join(t.TempDir(), "location")
	// The command is what makes the API fire: here it posts to the callback itself.
	script := `printf %s "$HOOKCTL_LOCATION" > ` + out + ` && echo fired && curl -sf -o /dev/null -H 'Content-Type: application/json' ` +
		`-d '{"ref":"refs/heads/x","repository":{"full_name":"octo/demo"}}' "$HOOKCTL_CALLBACK_URL"`
	res := runCLI(t, githubTest(api, "--exec", script)...)
	location, _ := os.ReadFile(out)
	if res.Code != 0 || string(location) != api.srv.URL+"/repos/octo/demo/hooks/1" || strings.Contains(res.Stdout, "fired") || !strings.Contains(res.Stderr, "fired") {
		t.Errorf("exit %d, location %q\nstdout %s\nstderr %s", res.Code, location, res.Stdout, res.Stderr)
	}
	res = runCLI(t, githubTest(api, "--exec", "exit 3")...)
	if res.Code != 1 || !strings.Contains(res.Stderr, "--exec: exit status 3") || len(api.remaining()) != 0 {
		t.Errorf("failing --exec: exit %d, remaining %v\n%s", res.Code, api.remaining(), res.Stderr)
	}
}

// TestConnectorTestInterrupted: Ctrl-C while waiting still unregisters.
func TestConnectorTestInterrupted(t *testing.T) {
	t.Parallel()
	api := newWebhookAPI(t, noNotification)
	ios, _, out, errOut := iostreams.Test()
	f := &factory.Factory{IOStreams: ios, Version: "test", Profile: "default", Secrets: &logging.Secrets{},
		Env: func(k string) (string, bool) {
			if k == "HOOKCTL_CONFIG_DIR" {
				return t.TempDir(), true
			}
			return "", false
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-api.registered
		cancel() // what signal.NotifyContext does on Ctrl-C
	}()
	code := cmd.Run(ctx, f, githubTest(api, "--timeout", "1m", "-o", "pretty"))
	// Ctrl-C ends the command with 130 and no error line (cmd.Run), after the hook is deleted.
	if code != exitcode.Interrupted || !slices.Equal(api.deleted, []string{"/repos/octo/demo/hooks/1"}) || strings.Contains(errOut.String(), "✗") {
		t.Errorf("exit %d, deleted %v\nstdout %s\nstderr %s", code, api.deleted, out, errOut)
	}
	if !strings.Contains(squeeze(out.String()), "✓ unregistered: DELETE "+api.srv.URL+"/repos/octo/demo/hooks/1 answered 204 No Content") || strings.Contains(out.String(), "every step held") {
		t.Errorf("stdout:\n%s", out)
	}
}

func TestConnectorTestUsage(t *testing.T) {
	t.Parallel()
	api := newWebhookAPI(t, healthy)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"connector", "test", definition("github.swagger.json"), "--trigger", "Nope", "--base-url", api.srv.URL}, `no webhook trigger has operationId "Nope"; the definition's triggers are WebhookTrigger`},
		{[]string{"connector", "test", definition("github.swagger.json"), "--trigger", "WebhookTrigger", "--base-url", api.srv.URL}, `path parameter "owner" is required and has no default: give it with --param owner=VALUE`},
		{githubTest(api, "--param", "colour=blue"), "--param colour: WebhookTrigger has no parameter or top-level body property of that name"},
		{githubTest(api, "--param", "novalue"), `--param "novalue" is not NAME=VALUE`},
		{githubTest(api, "--count", "0"), "--count must be at least 1"},
		{[]string{"connector", "test", definition("github.swagger.json"), "--trigger", "WebhookTrigger"}, `required flag(s) "base-url" not set`},
	} {
		res := runCLI(t, tc.args...)
		if res.Code != 2 || !strings.Contains(squeeze(res.Stderr), squeeze(tc.want)) {
			t.Errorf("%v: exit %d, stderr %q", tc.args[3:], res.Code, res.Stderr)
		}
	}
	if len(api.bodies) != 0 {
		t.Errorf("a usage error still registered: %v", api.bodies)
	}
	res := runCLI(t, "connector", "test", definition("broken-webhook.swagger.json"), "--trigger", "UrlInQuery", "--base-url", api.srv.URL)
	if res.Code != 4 || !strings.Contains(res.Stderr, "UrlInQuery has no body property marked x-ms-notification-url") {
		t.Errorf("a trigger without a callback field: exit %d, %s", res.Code, res.Stderr)
	}
}

// TestConnectorTestRegistrationRefused: an API that refuses (here: no API
// key) stops the run after the finding, which quotes its answer.
func TestConnectorTestRegistrationRefused(t *testing.T) {
	t.Parallel()
	api := newWebhookAPI(t, healthy)
	res := runCLI(t, "connector", "test", definition("github.swagger.json"), "--trigger", "WebhookTrigger",
		"--base-url", api.srv.URL, "--param", "owner=octo", "--param", "repo=demo", "-o", "json")
	var types []string
	var message string
	for _, e := range clitest.DecodeLines[event](t, res) {
		types = append(types, e.Type)
		if e.Type == "finding" {
			message = e.Message
		}
	}
	if res.Code != 4 || !slices.Equal(types, []string{"callback", "registered", "finding", "summary"}) ||
		message != "the registration answered 401 Unauthorized: bad credentials; the platform expects 201 Created" {
		t.Errorf("exit %d, events %v, message %q", res.Code, types, message)
	}
}

func TestConnectorTestDebugLogsExchangesWithoutSecrets(t *testing.T) {
	t.Parallel()
	api := newWebhookAPI(t, healthy)
	res := runCLI(t, githubTest(api, "--debug")...)
	if res.Code != 0 || !strings.Contains(res.Stderr, "registering the webhook") || !strings.Contains(res.Stderr, "unregistering the webhook") {
		t.Errorf("exit %d, stderr:\n%s", res.Code, res.Stderr)
	}
	callback := api.bodies[0]["config"].(map[string]any)["url"].(string)
	if strings.Contains(res.Stderr+res.Stdout, "s3cret-api-key") || strings.Contains(res.Stderr+res.Stdout, callback[strings.Index(callback, "sig=")+4:]) {
		t.Errorf("a secret was printed:\n%s", res.Stderr)
	}
}
