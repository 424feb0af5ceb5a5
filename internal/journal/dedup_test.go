package journal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// TestDuplicateWindowSurvivesRestart is item 5 of issue 9: a redelivery that
// arrives after a restart with the same journal is dropped, not emitted twice.
func TestDuplicateWindowSurvivesRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	body := `{"value":[{"id":"n1","subscriptionId":"sub","clientState":"cs","changeType":"created","resource":"Users/u/Messages/m1","resourceData":{"@odata.etag":"W/1"}}]}`
	run := func(compact bool) (emitted, duplicates int) {
		t.Helper()
		opts := Options{}
		if compact {
			opts.CompactBytes = 1 // every batch compacts: the keys must survive it
		}
		j, entries := open(t, path, opts)
		var mu sync.Mutex
		done := make(chan struct{}, 10)
		r, err := receiver.New(receiver.Options{
			Store:        j,
			ClientStates: notification.NewClientStates("cs"),
			Reporter: receiver.ReporterFunc(func(e receiver.Event) error {
				mu.Lock()
				defer mu.Unlock()
				switch e := e.(type) {
				case receiver.NotificationEvent:
					emitted++
					done <- struct{}{}
				case receiver.DroppedEvent:
					if e.Reason == receiver.DropDuplicate {
						duplicates++
					}
					done <- struct{}{}
				}
				return nil
			}),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Fatalf("%d entries left from the earlier run", len(entries))
		}
		server := httptest.NewServer(r)
		resp, err := http.Post(server.URL+receiver.NotificationsPath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d", resp.StatusCode)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the notification was not processed")
		}
		server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return emitted, duplicates
	}
	if emitted, _ := run(false); emitted != 1 {
		t.Fatalf("first delivery emitted %d times", emitted)
	}
	for _, compact := range []bool{false, true} {
		if emitted, duplicates := run(compact); emitted != 0 || duplicates != 1 {
			t.Errorf("redelivery after a restart (compacting: %v): emitted %d, dropped as duplicate %d; want 0 and 1", compact, emitted, duplicates)
		}
	}
}

// TestMemosAgeOut: keys older than the window are not kept across restarts.
func TestMemosAgeOut(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	j, _ := open(t, path, Options{Now: clock, MemoWindow: 10 * time.Minute})
	j.Remember([]byte("old"), now.Add(-11*time.Minute))
	j.Remember([]byte("new"), now.Add(-time.Minute))
	j.Close()
	j2, _ := open(t, path, Options{Now: clock, MemoWindow: 10 * time.Minute})
	defer j2.Close()
	var kept []string
	j2.RangeMemos(func(value []byte, at time.Time) { kept = append(kept, string(value)) })
	if strings.Join(kept, ",") != "new" {
		t.Errorf("memos after restart = %v, want [new]", kept)
	}
}
