package receiver_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"testing"

	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/journal"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// BenchmarkServeNotification drives the real handler with one-notification
// collections of about 600 bytes, as hookctl listen receives them under
// load: parse, journal, 202, then processing (clientState, duplicates,
// the Reporter, the journal's memos and completion). The journal is real but
// does not fsync, whose latency would drown the CPU this measures; the
// processing of every request is inside the timing, since Close drains it.
//
//	go test -run '^$' -bench BenchmarkServeNotification -benchmem ./pkg/receiver/
func BenchmarkServeNotification(b *testing.B) {
	store, _, err := journal.Open(filepath.Join(b.TempDir(), "journal"), journal.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	r, err := receiver.New(receiver.Options{
		ClientStates:   notification.NewClientStates(clientState),
		Store:          store,
		Reporter:       receiver.ReporterFunc(func(receiver.Event) error { return nil }),
		MaxQueuedBytes: 1 << 30,
	})
	if err != nil {
		b.Fatal(err)
	}
	const idDigits = "0000000"
	body := []byte(`{"value":[{"id":"load-` + idDigits + `","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-11-26T10:00:00.0000000Z","clientState":"` + clientState + `","changeType":"created","resource":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","@odata.etag":"W/\"CQAAABYAAAD\"","id":"AAMkAGI2THVAAA0000042="}}]}`)
	id := bytes.Index(body, []byte(idDigits))
	req, err := http.NewRequest(http.MethodPost, "http://localhost"+receiver.NotificationsPath, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = int64(len(body))
	var reqBody readCloser
	w := &discardWriter{header: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// A new id each time, or duplicate detection would drop the items.
		for d, n := id+len(idDigits)-1, i; d >= id; d, n = d-1, n/10 {
			body[d] = byte('0' + n%10)
		}
		reqBody.Reset(body)
		req.Body = &reqBody
		clear(w.header)
		w.status = 0
		r.ServeHTTP(w, req)
		if w.status != http.StatusAccepted {
			b.Fatalf("status %d", w.status)
		}
	}
	if err := r.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := r.Stats().Emitted; got != int64(b.N) {
		b.Fatalf("%d notifications emitted of %d", got, b.N)
	}
}

// readCloser is a request body that can be refilled, so that the benchmark
// measures the handler's allocations, not its own.
type readCloser struct{ bytes.Reader }

func (*readCloser) Close() error { return nil }

// discardWriter is an http.ResponseWriter keeping only the status.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
