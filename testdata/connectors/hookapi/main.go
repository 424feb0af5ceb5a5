// Command hookapi is a small webhook API shaped like github.swagger.json, to
// try `hookctl connector test` without an API of your own
// (docs/power-automate.md):
//
//	POST   /repos/{owner}/{repo}/hooks           registers a hook: 201, Location
//	DELETE /repos/{owner}/{repo}/hooks/{hook_Id} removes it: 204
//	POST   /repos/{owner}/{repo}/push            "pushes a commit": POSTs a push
//	                                             notification to the repository's hooks
//
// Every call needs the header `Authorization: token TOKEN` (--token). It
// prints one line, "listening on http://ADDR", once it accepts connections.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	token := flag.String("token", "", "the API key callers must send as `Authorization: token TOKEN` (required)")
	flag.Parse()
	if *token == "" {
		log.Fatal("--token is required")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	api := &api{token: *token, base: "http://" + ln.Addr().String(), hooks: map[string]string{}}
	fmt.Printf("listening on %s\n", api.base)
	log.Fatal((&http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}).Serve(ln))
}

type api struct {
	token, base string

	mu     sync.Mutex
	nextID int
	hooks  map[string]string // the hook's path → its callback URL, exactly as given
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "token "+a.token {
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 4 || parts[0] != "repos" {
		http.NotFound(w, r)
		return
	}
	repo := "/repos/" + parts[1] + "/" + parts[2]
	switch {
	case r.Method == http.MethodPost && len(parts) == 4 && parts[3] == "hooks":
		a.register(w, r, repo)
	case r.Method == http.MethodDelete && len(parts) == 5 && parts[3] == "hooks":
		a.mu.Lock()
		_, ok := a.hooks[r.URL.Path]
		delete(a.hooks, r.URL.Path)
		a.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && len(parts) == 4 && parts[3] == "push":
		a.push(w, parts[1]+"/"+parts[2], repo)
	default:
		http.NotFound(w, r)
	}
}

// register stores the callback URL from config.url and answers 201 with the
// hook's absolute URL in Location.
func (a *api) register(w http.ResponseWriter, r *http.Request, repo string) {
	var body struct {
		Config struct {
			URL string `json:"url"`
		} `json:"config"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Config.URL == "" {
		http.Error(w, "the body needs config.url", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.nextID++
	id := a.nextID
	path := fmt.Sprintf("%s/hooks/%d", repo, id)
	a.hooks[path] = body.Config.URL
	a.mu.Unlock()
	w.Header().Set("Location", a.base+path)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":%d}`+"\n", id)
}

// push POSTs a push notification to every hook of the repository, to its
// callback URL byte for byte (decoding or re-escaping it would break its sig).
func (a *api) push(w http.ResponseWriter, fullName, repo string) {
	notification, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "after": "6dcb09b", "repository": map[string]string{"full_name": fullName}})
	a.mu.Lock()
	var callbacks []string
	for path, callback := range a.hooks {
		if strings.HasPrefix(path, repo+"/hooks/") {
			callbacks = append(callbacks, callback)
		}
	}
	a.mu.Unlock()
	for _, callback := range callbacks {
		resp, err := http.Post(callback, "application/json", bytes.NewReader(notification))
		if err != nil {
			http.Error(w, "notifying a hook: "+err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
	}
	noun := "hooks"
	if len(callbacks) == 1 {
		noun = "hook"
	}
	fmt.Fprintf(w, "notified %d %s\n", len(callbacks), noun)
}
