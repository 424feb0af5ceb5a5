package graphsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// fastReceiver answers validations and counts notifications, answering 202 at once.
func fastReceiver(b *testing.B, tls bool) (*httptest.Server, *atomic.Int64) {
	b.Helper()
	var received atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token := r.URL.Query().Get("validationToken"); token != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, token)
			return
		}
		var body struct {
			Value []json.RawMessage `json:"value"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		received.Add(int64(len(body.Value)))
		w.WriteHeader(http.StatusAccepted)
	})
	srv := httptest.NewUnstartedServer(handler)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	b.Cleanup(srv.Close)
	return srv, &received
}

// BenchmarkDelivery measures notifications delivered per second from the
// emulator to a receiver that answers 202 at once: each iteration is one
// message arriving in a subscribed Inbox.
//
//	go test -run '^$' -bench BenchmarkDelivery -benchtime 20000x ./internal/emulator/graphsim/
func BenchmarkDelivery(b *testing.B) {
	for _, tc := range []struct {
		name      string
		tls       bool
		batchSize int
	}{
		{"http/batched", false, DefaultMaxBatchSize},
		{"https/batched", true, DefaultMaxBatchSize},
		{"https/one-per-POST", true, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rcv, received := fastReceiver(b, tc.tls)
			cfg := fastConfig()
			cfg.BatchWindow = 5 * time.Millisecond
			cfg.MaxBatchSize = tc.batchSize
			cfg.DeliveryClient = rcv.Client()
			cfg.DeliveryClient.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
			s := New(cfg)
			b.Cleanup(s.Close)
			e := &env{s: s}
			mux := http.NewServeMux()
			mux.Handle("/v1.0/", s.GraphHandler())
			e.srv = httptest.NewServer(mux)
			b.Cleanup(e.srv.Close)
			createSubscription(b, e.srv.URL, rcv.URL)

			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := s.SendMail("", adele.ID, "bench", "x"); err != nil {
					b.Fatal(err)
				}
			}
			for received.Load() < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "notifications/s")
			b.ReportMetric(float64(s.Stats().Posts), "posts")
		})
	}
}

// BenchmarkCreateValidatedSubscription measures POST /subscriptions including
// the validation handshake against a local receiver.
//
//	go test -run '^$' -bench BenchmarkCreateValidatedSubscription ./internal/emulator/graphsim/
func BenchmarkCreateValidatedSubscription(b *testing.B) {
	rcv, _ := fastReceiver(b, false)
	s := New(fastConfig())
	b.Cleanup(s.Close)
	mux := http.NewServeMux()
	mux.Handle("/v1.0/", s.GraphHandler())
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		createSubscription(b, srv.URL, rcv.URL)
	}
}

func createSubscription(b *testing.B, emulatorURL, receiverURL string) {
	b.Helper()
	data, _ := json.Marshal(subscriptionBody(receiverURL, nil))
	req, _ := http.NewRequest("POST", emulatorURL+"/v1.0/subscriptions", bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+adeleToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("create subscription: %d", resp.StatusCode)
	}
}
