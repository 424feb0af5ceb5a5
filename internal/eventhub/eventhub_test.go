package eventhub

import (
	_ "github.com/hookctl/hookctl/internal/golden"

	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/hubsim"
	"github.com/hookctl/hookctl/internal/emulator/pki"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/httpclient"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/pkg/notification"
)

const secretKey = "c2VjcmV0LWtleS1ub3QtdG8tYmUtcHJpbnRlZA=="

func TestParseConnectionString(t *testing.T) {
	t.Parallel()
	good := "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=" + secretKey + ";EntityPath=graph"
	cs, err := ParseConnectionString(good)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Namespace != "contoso.servicebus.windows.net" || cs.Hub != "graph" || cs.KeyName != "listen" ||
		cs.Broker() != "contoso.servicebus.windows.net:9093" || cs.Password() != good {
		t.Errorf("parsed %#v, broker %s", cs, cs.Broker())
	}
	for _, shown := range []string{cs.String(), cs.GoString(), fmt.Sprintf("%v %+v %#v", cs, cs, cs)} {
		if strings.Contains(shown, secretKey) {
			t.Errorf("the key is shown: %s", shown)
		}
	}
	local, err := ParseConnectionString("Endpoint=sb://127.0.0.1:19093/;SharedAccessKeyName=k;SharedAccessKey=x;EntityPath=h")
	if err != nil || local.Broker() != "127.0.0.1:19093" {
		t.Errorf("a local broker's port: %v %v", local.Broker(), err)
	}
	for _, tc := range []struct{ value, want string }{
		{"", "empty"},
		{"just a key", "Name=value"},
		{"SharedAccessKeyName=k;SharedAccessKey=" + secretKey + ";EntityPath=h", "no Endpoint"},
		{"Endpoint=https://x/;SharedAccessKeyName=k;SharedAccessKey=" + secretKey + ";EntityPath=h", "sb://"},
		{"Endpoint=sb://x/;SharedAccessKeyName=k;EntityPath=h", "SharedAccessKey"},
		{"Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=" + secretKey, "EntityPath"},
	} {
		_, err := ParseConnectionString(tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), secretKey) {
			t.Errorf("ParseConnectionString(%q) = %v, want an error with %q and without the key", tc.value, err, tc.want)
		}
	}
}

// sink is a listener.Sink that keeps what it is given.
type sink struct {
	mu       sync.Mutex
	accepted [][]byte
	events   []listener.Event
	changed  chan struct{}
}

func newSink() *sink { return &sink{changed: make(chan struct{}, 1)} }

func (s *sink) Accept(_ context.Context, source string, body []byte, c *notification.Collection) error {
	s.mu.Lock()
	s.accepted = append(s.accepted, body)
	s.mu.Unlock()
	s.poke()
	return nil
}

func (s *sink) Report(e listener.Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	s.poke()
}

func (s *sink) poke() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *sink) waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		done := ok()
		s.mu.Unlock()
		if done {
			return
		}
		select {
		case <-s.changed:
		case <-deadline:
			t.Fatalf("timed out; accepted %d, events %+v", len(s.accepted), s.events)
		}
	}
}

func startHub(t testing.TB) (*hubsim.Hub, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCertificate(dir)
	if err != nil {
		t.Fatal(err)
	}
	hub, err := hubsim.Start(t.Context(), hubsim.Options{Certificate: cert, RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	return hub, ca.Pool()
}

func run(t *testing.T, opts Options, s listener.Sink) (stop func() error) {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, s) }()
	return func() error { cancel(); return <-done }
}

// TestConsumerJournalsCollectionsAndSkipsTheRest: collections reach the
// sink; the "NA" message and a message that is not a collection are
// reported and skipped; and a second member of the group started afterwards
// reads nothing again: the offsets were committed.
func TestConsumerJournalsCollectionsAndSkipsTheRest(t *testing.T) {
	t.Parallel()
	hub, roots := startHub(t)
	ctx := t.Context()
	for _, value := range []string{
		`{"value":[{"subscriptionId":"NA","clientState":null,"resource":"NA"}]}`,
		`{"value":[{"subscriptionId":"s1","clientState":"x","changeType":"created","resource":"Users/u/Messages/1"}]}`,
		`not json`,
		`{"value":[{"subscriptionId":"s1","clientState":"x","changeType":"created","resource":"Users/u/Messages/2"}]}`,
	} {
		if err := hub.Produce(ctx, "s1", []byte(value)); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := ParseConnectionString(hub.ConnectionString)
	if err != nil {
		t.Fatal(err)
	}
	first := newSink()
	stop := run(t, Options{ConnectionString: cs, Group: "g", RootCAs: roots}, first)
	first.waitUntil(t, func() bool { return len(first.accepted) == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var tests, skipped, assigned int
	for _, e := range first.events {
		switch e := e.(type) {
		case TestMessage:
			tests++
		case Skipped:
			skipped++
			if e.Offset != 2 {
				t.Errorf("skipped offset %d, want 2", e.Offset)
			}
		case Partitions:
			assigned += len(e.Assigned)
		}
	}
	if tests != 1 || skipped != 1 || assigned != hubsim.DefaultPartitions {
		t.Errorf("%d test messages, %d skipped, %d partitions assigned; events %+v", tests, skipped, assigned, first.events)
	}
	if !strings.Contains(string(first.accepted[0]), "Messages/1") || !strings.Contains(string(first.accepted[1]), "Messages/2") {
		t.Errorf("accepted out of order: %s", first.accepted)
	}

	if err := hub.Produce(ctx, "s1", []byte(`{"value":[{"subscriptionId":"s1","clientState":"x","changeType":"created","resource":"Users/u/Messages/3"}]}`)); err != nil {
		t.Fatal(err)
	}
	second := newSink()
	stop = run(t, Options{ConnectionString: cs, Group: "g", RootCAs: roots}, second)
	second.waitUntil(t, func() bool { return len(second.accepted) >= 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(second.accepted) != 1 || !strings.Contains(string(second.accepted[0]), "Messages/3") {
		t.Errorf("the next member read %q, want only the message after the last commit", second.accepted)
	}
}

// TestConsumerFaultsAreOneLine: refused credentials exit 3 and a broker that
// is down exits 1, each in one line naming the namespace, within seconds,
// and never with the key.
func TestConsumerFaultsAreOneLine(t *testing.T) {
	t.Parallel()
	hub, roots := startHub(t)
	wrong, err := ParseConnectionString(strings.Replace(hub.ConnectionString, "SharedAccessKey=", "SharedAccessKey=x", 1))
	if err != nil {
		t.Fatal(err)
	}
	refused, err := New(Options{ConnectionString: wrong, RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	err = refused.Run(context.Background(), newSink())
	if exitcode.Code(err) != exitcode.SignIn || !strings.Contains(err.Error(), "event hub "+hub.Namespace+" refused the connection string") ||
		strings.Contains(err.Error(), hub.Key()) || strings.Contains(err.Error(), "\n") {
		t.Errorf("wrong key: exit %d: %v", exitcode.Code(err), err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nothing listens there now
	downCS, err := ParseConnectionString("Endpoint=sb://" + down + "/;SharedAccessKeyName=k;SharedAccessKey=" + secretKey + ";EntityPath=h")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{ConnectionString: downCS, RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(context.Background(), newSink())
	if exitcode.Code(err) != exitcode.Error || !strings.Contains(err.Error(), "event hub "+down) || !strings.Contains(err.Error(), "refused") ||
		strings.Contains(err.Error(), secretKey) || strings.Contains(err.Error(), "\n") {
		t.Errorf("broker down: exit %d: %v", exitcode.Code(err), err)
	}
}

// TestRealEventHub reads from a real Azure Event Hubs hub: set
// HOOKCTL_TEST_EVENTHUB to a connection string with Listen rights (and
// EntityPath). It joins a group of its own and checks that the namespace
// takes the credentials and assigns partitions.
func TestRealEventHub(t *testing.T) {
	value := os.Getenv("HOOKCTL_TEST_EVENTHUB")
	if value == "" {
		t.Skip("set HOOKCTL_TEST_EVENTHUB to a real Event Hubs connection string (Listen rights, with EntityPath) to run this test")
	}
	cs, err := ParseConnectionString(value)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := httpclient.RootPool(os.Getenv(httpclient.CAFileEnv))
	if err != nil {
		t.Fatal(err)
	}
	s := newSink()
	stop := run(t, Options{ConnectionString: cs, Group: "$Default", RootCAs: roots}, s)
	s.waitUntil(t, func() bool {
		for _, e := range s.events {
			if p, ok := e.(Partitions); ok && len(p.Held) > 0 {
				return true
			}
		}
		return false
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("joined %s/%s: %d events, %d collections read", cs.Namespace, cs.Hub, len(s.events), len(s.accepted))
}
