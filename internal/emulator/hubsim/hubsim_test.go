package hubsim

import (
	_ "github.com/hookctl/hookctl/internal/golden"

	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/hookctl/hookctl/internal/emulator/pki"
)

func startHub(t *testing.T) (*Hub, *tls.Config) {
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
	hub, err := Start(t.Context(), Options{Certificate: cert, RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	return hub, &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
}

func client(t *testing.T, hub *Hub, tlsConfig *tls.Config, password string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	c, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(hub.Namespace),
		kgo.DialTLSConfig(tlsConfig),
		kgo.SASL(plain.Auth{User: SASLUser, Pass: password}.AsMechanism()),
		kgo.RetryTimeout(2 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestProducedEventsAreReadWithTheConnectionString(t *testing.T) {
	t.Parallel()
	hub, tlsConfig := startHub(t)
	if hub.Partitions != DefaultPartitions || hub.Name != DefaultHub {
		t.Fatalf("hub = %s with %d partitions", hub.Name, hub.Partitions)
	}
	for _, want := range []string{"Endpoint=sb://" + hub.Namespace + "/;", "SharedAccessKeyName=" + KeyName + ";", ";EntityPath=" + DefaultHub} {
		if !strings.Contains(hub.ConnectionString, want) {
			t.Errorf("connection string lacks %q", want)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	keys := []string{"sub-a", "sub-b", "sub-c", "sub-a"}
	for _, key := range keys {
		if err := hub.Produce(ctx, key, []byte(`{"value":[]}`)); err != nil {
			t.Fatal(err)
		}
	}
	consumer := client(t, hub, tlsConfig, hub.ConnectionString, kgo.ConsumeTopics(hub.Name), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	partitionOf := map[string]int32{}
	for got := 0; got < len(keys); {
		fetches := consumer.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			t.Fatal(err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			got++
			if p, seen := partitionOf[string(r.Key)]; seen && p != r.Partition {
				t.Errorf("key %s on partitions %d and %d: one subscription must keep one partition", r.Key, p, r.Partition)
			}
			partitionOf[string(r.Key)] = r.Partition
		})
	}
}

func TestWrongConnectionStringIsRefused(t *testing.T) {
	t.Parallel()
	hub, tlsConfig := startHub(t)
	wrong := strings.Replace(hub.ConnectionString, "SharedAccessKey=", "SharedAccessKey=x", 1)
	c := client(t, hub, tlsConfig, wrong)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := c.Ping(ctx)
	if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), "Invalid SAS token") {
		t.Fatalf("ping with the wrong key: %v, want a SASL failure", err)
	}
}

func TestTooLargeEventIsRefused(t *testing.T) {
	t.Parallel()
	hub, _ := startHub(t)
	if err := hub.Produce(t.Context(), "k", make([]byte, MaxMessageBytes+1)); err == nil || !strings.Contains(err.Error(), "1 MB") {
		t.Fatalf("Produce over 1 MB: %v", err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	hub := &Hub{Namespace: "127.0.0.1:9093", Name: "graph"}
	for _, tc := range []struct {
		url, wantErr string
	}{
		{"EventHub:https://127.0.0.1:9093/eventhubname/graph?tenantId=contoso.example", ""},
		{"eventhub:https://127.0.0.1:9093/eventhubname/graph?tenantId=contoso.example", ""},
		{"EventHub:https://myvault.vault.azure.net/secrets/hub?tenantId=contoso.example", ""},
		{"EventHub:https://myvault.vault.azure.net/keys/hub?tenantId=contoso.example", "name a secret"},
		{"EventHub:https://127.0.0.1:9093/eventhubname/other?tenantId=contoso.example", "serves the hub \"graph\""},
		{"EventHub:https://contoso.servicebus.windows.net/eventhubname/graph?tenantId=contoso.example", "serves the hub"},
		{"EventHub:https://127.0.0.1:9093/eventhubname/graph", "tenantId"},
		{"EventHub:https://127.0.0.1:9093/graph?tenantId=x", "form"},
		{"https://127.0.0.1:9093/eventhubname/graph?tenantId=x", "not an EventHub"},
	} {
		err := hub.Check(tc.url)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("Check(%s) = %v, want %q", tc.url, err, tc.wantErr)
		}
	}
}
