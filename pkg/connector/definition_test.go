package connector

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func loadTestdata(t *testing.T, name string) *Definition {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "connectors", name))
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestTrailingCommas(t *testing.T) {
	t.Parallel()
	in := "{\"a\": [1, 2,],\n \"b\": {\"c,]\": {\"d\": 1,},},\n \"e\": \"x,}\",}"
	out, commas := stripTrailingCommas([]byte(in))
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	var got []string
	for _, c := range commas {
		got = append(got, c.container)
	}
	if want := []string{"/a", "/b/c,]", "/b", ""}; !slices.Equal(got, want) {
		t.Errorf("containers %q, want %q", got, want)
	}
	if commas[0].line != 1 || commas[0].column != 12 || commas[1].line != 2 {
		t.Errorf("positions %+v", commas)
	}
	if _, commas := stripTrailingCommas([]byte(`{"a": "],}", "b": [1, 2]}`)); len(commas) != 0 {
		t.Errorf("commas inside strings were taken: %+v", commas)
	}
}

func TestLoadRefusesWhatIsNotSwagger2(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`[]`, `{"openapi":"3.0.3"}`, `{"swagger": "2.0"`, `{"swagger": 2}`} {
		var loadErr *LoadError
		if _, _, err := Load([]byte(in)); !errors.As(err, &loadErr) {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestUnresolvedRefIsFound(t *testing.T) {
	t.Parallel()
	d, _, err := Load([]byte(`{"swagger":"2.0","info":{"title":"t","version":"1"},"host":"a.b","schemes":["https"],
		"paths":{"/x":{"get":{"operationId":"X","summary":"X","description":"X.","responses":{"200":{"description":"ok","schema":{"$ref":"#/definitions/Nope"}}}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	findings := Lint(context.Background(), d)
	if len(findings) != 1 || findings[0].Rule != RuleSwaggerInvalid || findings[0].Pointer != "/paths/~1x/get/responses/200/schema/$ref" {
		t.Errorf("findings %+v", findings)
	}
}

// TestDeleteOperationFor matches a Location by path template, wherever the
// DELETE sits, never by prefix of the registration path.
func TestDeleteOperationFor(t *testing.T) {
	t.Parallel()
	github := loadTestdata(t, "github.swagger.json")
	batch := loadTestdata(t, "batch.swagger.json")
	for _, tc := range []struct {
		d    *Definition
		path string
		want string
	}{
		{github, "/repos/octo/demo/hooks/12", "DeleteTrigger"},
		{github, "/repos/octo/demo/hooks/12/", "DeleteTrigger"},
		{github, "/repos/octo/demo/hooks", ""},
		{github, "/repos/octo/demo/hooks/12/pings", ""},
		{github, "/hooks/12", ""},
		{batch, "/api/subscriptions/7", "DeleteSubscription"},
		{batch, "/subscriptions/7", ""},
	} {
		got, _ := tc.d.DeleteOperationFor(tc.path)
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestRegistrationRequest(t *testing.T) {
	t.Parallel()
	trigger, err := loadTestdata(t, "batch.swagger.json").Trigger("OnNewTasks")
	if err != nil {
		t.Fatal(err)
	}
	req, err := trigger.Request(context.Background(), Registration{
		BaseURL: "http://127.0.0.1:8080/prefix/", CallbackURL: "http://cb/x?sp=%2F",
		Params: map[string]string{"project": `{"id":3}`, "api-version": "2025-01-01"},
		Header: http.Header{"x-api-key": {"k"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	if req.Method != "POST" || req.URL.String() != "http://127.0.0.1:8080/prefix/api/subscriptions?api-version=2025-01-01" ||
		req.Header.Get("X-Api-Key") != "k" || req.Header.Get("Content-Type") != "application/json" ||
		string(body) != `{"callbackUrl":"http://cb/x?sp=%2F","project":{"id":3}}` {
		t.Errorf("%s %s %v\n%s", req.Method, req.URL, req.Header, body)
	}

	github, _ := loadTestdata(t, "github.swagger.json").Trigger("WebhookTrigger")
	req, err = github.Request(context.Background(), Registration{BaseURL: "https://api.example", CallbackURL: "cb",
		Params: map[string]string{"owner": "a b", "repo": "r/s"}})
	if err != nil || req.URL.EscapedPath() != "/repos/a%20b/r%2Fs/hooks" {
		t.Errorf("%v %v", req.URL, err)
	}
	if _, err := github.Request(context.Background(), Registration{BaseURL: "ftp://x", Params: map[string]string{"owner": "a", "repo": "b"}}); err == nil {
		t.Error("an ftp base URL was accepted")
	}
}

func TestSampleNotificationFitsItsSchema(t *testing.T) {
	t.Parallel()
	trigger, _ := loadTestdata(t, "batch.swagger.json").Trigger("OnNewTasks")
	sample, err := trigger.SampleNotification()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(sample)
	if string(raw) != `[{"due":"2026-01-02T03:04:05Z","id":42,"priority":"low","title":"Write the docs"}]` {
		t.Errorf("sample %s", raw)
	}
}

func TestDynamicSchemaIsNotCheckable(t *testing.T) {
	t.Parallel()
	d, _, err := Load([]byte(`{"swagger":"2.0","info":{"title":"t","version":"1"},"host":"a.b","schemes":["https"],
		"paths":{"/hooks":{"x-ms-notification-content":{"schema":{"$ref":"#/definitions/Dyn"}},
		"post":{"operationId":"On","x-ms-trigger":"single","parameters":[],"responses":{"201":{"description":"ok"}}}}},
		"definitions":{"Dyn":{"type":"object","x-ms-dynamic-schema":{"operationId":"GetSchema"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	trigger, _ := d.Trigger("On")
	v, err := trigger.NotificationValidator()
	if trigger.NotificationSchema != SchemaDynamic || err != nil || v.Checkable() || v.Validate([]byte(`1`)) != nil {
		t.Errorf("kind %s, checkable %v, %v", trigger.NotificationSchema, v.Checkable(), err)
	}
	if _, err := trigger.SampleNotification(); err == nil || !strings.Contains(err.Error(), "pass --body") {
		t.Errorf("sample of a dynamic schema: %v", err)
	}
}

func TestBatchSplit(t *testing.T) {
	t.Parallel()
	batch, _ := loadTestdata(t, "batch.swagger.json").Trigger("OnNewTasks")
	single, _ := loadTestdata(t, "github.swagger.json").Trigger("WebhookTrigger")
	var events []Event
	report := func(e Event) { events = append(events, e) }
	if items := (&Test{Trigger: batch}).split(json.RawMessage(`[{"id":1}, {"id":2}]`), report); len(items) != 2 || string(items[1]) != `{"id":2}` || len(events) != 0 {
		t.Errorf("batch array: %q, %v", items, events)
	}
	if items := (&Test{Trigger: single}).split(json.RawMessage(`[1,2]`), report); len(items) != 1 || len(events) != 0 {
		t.Errorf("single trigger: %q", items)
	}
	items := (&Test{Trigger: batch}).split(json.RawMessage(`{"id":1}`), report)
	if len(items) != 1 || len(events) != 1 || events[0].(FindingEvent).Rule != RuleNotificationNotArray {
		t.Errorf("batch object: %q, %+v", items, events)
	}
}
