package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
	"github.com/hookctl/hookctl/pkg/teams"
)

const (
	sampleClientState = "hookctl-sample-client-state"
	sampleTeamsKey    = "vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA="
)

// recorder collects the receiver's events.
type recorder struct {
	mu     sync.Mutex
	events []receiver.Event
}

func (r *recorder) Report(e receiver.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var kinds []string
	for _, e := range r.events {
		switch e.Kind() {
		case "notification", "lifecycle", "teams", "dropped", "rejected":
			kinds = append(kinds, e.Kind())
		}
	}
	sort.Strings(kinds)
	return kinds
}

// TestSamplePayloads runs every file in testdata/payloads through the real
// receiver over HTTP, so the samples the docs point at stay true.
func TestSamplePayloads(t *testing.T) {
	t.Parallel()
	key, err := base64.StdEncoding.DecodeString(sampleTeamsKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file       string
		route      string
		sign       bool
		wantStatus int
		wantKinds  []string
		wantBody   string
	}{
		{"graph-mail-created.json", "/notifications", false, http.StatusAccepted, []string{"notification"}, ""},
		{"graph-batch-mixed.json", "/notifications", false, http.StatusAccepted, []string{"dropped", "notification", "notification"}, ""},
		{"lifecycle-reauthorizationRequired.json", "/lifecycle", false, http.StatusAccepted, []string{"lifecycle"}, ""},
		{"lifecycle-subscriptionRemoved.json", "/lifecycle", false, http.StatusAccepted, []string{"lifecycle"}, ""},
		{"lifecycle-missed.json", "/lifecycle", false, http.StatusAccepted, []string{"lifecycle"}, ""},
		{"teams-message.json", "/teams", true, http.StatusOK, []string{"teams"}, `"type":"message"`},
		{"teams-message.json", "/teams", false, http.StatusUnauthorized, []string{"rejected"}, ""},
		{"malformed-not-json.txt", "/notifications", false, http.StatusBadRequest, []string{"rejected"}, ""},
		{"malformed-value-not-array.json", "/notifications", false, http.StatusBadRequest, []string{"rejected"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file+tt.route+map[bool]string{true: " signed"}[tt.sign], func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(filepath.Join("testdata", "payloads", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			rcv, err := receiver.New(receiver.Options{
				ClientStates: notification.NewClientStates(sampleClientState),
				Reporter:     rec,
				TeamsKeys:    []teams.Key{{Secret: key}},
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(rcv)
			t.Cleanup(func() {
				srv.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = rcv.Close(ctx)
			})

			req, _ := http.NewRequest(http.MethodPost, srv.URL+tt.route, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if tt.sign {
				req.Header.Set("Authorization", teams.Sign(key, body))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			reply, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tt.wantStatus, reply)
			}
			if !strings.Contains(string(reply), tt.wantBody) {
				t.Errorf("body %q does not contain %q", reply, tt.wantBody)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(rec.kinds()) < len(tt.wantKinds) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := strings.Join(rec.kinds(), ","); got != strings.Join(tt.wantKinds, ",") {
				t.Errorf("events %s, want %s", got, strings.Join(tt.wantKinds, ","))
			}
			if strings.Contains(string(reply), sampleClientState) {
				t.Errorf("the reply echoes the clientState")
			}
		})
	}
}
