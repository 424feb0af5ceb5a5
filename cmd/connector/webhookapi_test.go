package connector_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// fault is a way a real webhook API goes wrong.
type fault string

const (
	healthy             fault = ""
	answers200          fault = "200 instead of 201"
	noLocation          fault = "no Location"
	relativeLocation    fault = "relative Location"
	locationNoDelete    fault = "Location with no DELETE operation"
	delete500           fault = "DELETE answers 500"
	invalidNotification fault = "notification violates the schema"
	mangledCallback     fault = "callback URL re-escaped"
	noNotification      fault = "no notification"
	apiKey                    = "token s3cret-api-key"
)

// webhookAPI is a small webhook API like the GitHub example's: POST
// /repos/{owner}/{repo}/hooks registers a hook and, unless told otherwise,
// posts one push notification to its callback URL at once; DELETE
// /repos/{owner}/{repo}/hooks/{id} removes it. POST /api/subscriptions is the
// batch API of batch.swagger.json (two tasks per notification). Every call
// needs the API key.
type webhookAPI struct {
	t     *testing.T
	fault fault
	srv   *httptest.Server

	mu         sync.Mutex
	nextID     int
	hooks      map[string]string // path of the hook → its callback URL
	deleted    []string
	bodies     []map[string]any // registration bodies
	queries    []string
	registered chan string // each registered hook's path
	// callbackStatus is what the callback answered to each notification.
	callbackStatus []int
}

func newWebhookAPI(t *testing.T, f fault) *webhookAPI {
	api := &webhookAPI{t: t, fault: f, hooks: map[string]string{}, registered: make(chan string, 8)}
	api.srv = httptest.NewServer(api)
	t.Cleanup(api.srv.Close)
	return api
}

func (api *webhookAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != apiKey {
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && len(parts) == 4 && parts[0] == "repos" && parts[3] == "hooks":
		api.register(w, r, func(body map[string]any) string {
			config, _ := body["config"].(map[string]any)
			callback, _ := config["url"].(string)
			return callback
		}, pushNotification(api.fault))
	case r.Method == http.MethodPost && r.URL.Path == "/api/subscriptions":
		api.register(w, r, func(body map[string]any) string {
			callback, _ := body["callbackUrl"].(string)
			return callback
		}, `[{"id":1,"title":"Write the docs","priority":"high"},{"id":2,"title":"Review","priority":"low"}]`)
	case r.Method == http.MethodDelete:
		api.mu.Lock()
		defer api.mu.Unlock()
		if _, ok := api.hooks[r.URL.Path]; !ok {
			http.Error(w, "no such hook", http.StatusNotFound)
			return
		}
		if api.fault == delete500 {
			http.Error(w, "database unavailable", http.StatusInternalServerError)
			return
		}
		delete(api.hooks, r.URL.Path)
		api.deleted = append(api.deleted, r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func pushNotification(f fault) string {
	if f == invalidNotification {
		return `{"ref":42,"repository":{}}`
	}
	return `{"ref":"refs/heads/main","after":"6dcb09b","repository":{"full_name":"octo/demo"}}`
}

// register records the hook, answers as the fault says, then notifies.
func (api *webhookAPI) register(w http.ResponseWriter, r *http.Request, callbackOf func(map[string]any) string, notification string) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "body is not JSON", http.StatusBadRequest)
		return
	}
	callback := callbackOf(body)
	if callback == "" {
		http.Error(w, "no callback URL in the body", http.StatusBadRequest)
		return
	}
	api.mu.Lock()
	api.nextID++
	hookPath := fmt.Sprintf("%s/%d", r.URL.Path, api.nextID)
	if api.fault == locationNoDelete {
		hookPath = fmt.Sprintf("/webhooks/%d", api.nextID)
	}
	api.hooks[hookPath] = callback
	api.bodies = append(api.bodies, body)
	api.queries = append(api.queries, r.URL.RawQuery)
	api.mu.Unlock()

	switch api.fault {
	case noLocation:
	case relativeLocation:
		w.Header().Set("Location", hookPath)
	default:
		w.Header().Set("Location", api.srv.URL+hookPath)
	}
	status := http.StatusCreated
	if api.fault == answers200 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"id":%d}`, api.nextID)
	api.registered <- hookPath

	if api.fault == noNotification {
		return
	}
	if api.fault == mangledCallback {
		// What an API does when it decodes the URL and escapes it again its own way.
		callback = strings.ReplaceAll(callback, "%2F", "%252F")
	}
	go api.notify(callback, notification)
}

func (api *webhookAPI) notify(callback, notification string) {
	resp, err := http.Post(callback, "application/json", strings.NewReader(notification))
	if err != nil {
		api.t.Errorf("notifying the callback: %v", err)
		return
	}
	resp.Body.Close()
	api.mu.Lock()
	api.callbackStatus = append(api.callbackStatus, resp.StatusCode)
	api.mu.Unlock()
}

// remaining lists the hooks still registered.
func (api *webhookAPI) remaining() []string {
	api.mu.Lock()
	defer api.mu.Unlock()
	var paths []string
	for path := range api.hooks {
		paths = append(paths, path)
	}
	return paths
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
