// Package hubsim is the emulator's stand-in for an Azure Event Hubs namespace
// as Graph and Kafka clients see it: one hub with several partitions, served
// by an in-process Kafka-compatible broker (franz-go's kfake) over TLS, with
// SASL PLAIN checked against a generated connection string.
//
// Event Hubs' Kafka endpoint takes the user "$ConnectionString" and the
// connection string as the password; so does this broker. It writes nothing
// to disk: a restart starts with an empty hub, as a new namespace would.
package hubsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// Defaults of a hub.
const (
	DefaultHub        = "hookctl"
	DefaultPartitions = 4
	// SASLUser is the user Event Hubs' Kafka endpoint expects.
	SASLUser = "$ConnectionString"
	// KeyName is the shared access policy the connection string names.
	KeyName = "RootManageSharedAccessKey"
	// MaxMessageBytes is Event Hubs' limit on one event (standard tier).
	MaxMessageBytes = 1 << 20
	// minSessionTimeout lets tests and the demo show a consumer taking over
	// from a stopped one within seconds (real Event Hubs' minimum is 6 s).
	minSessionTimeout = time.Second
)

// Options configure Start.
type Options struct {
	// Addr is the broker's address; "" means 127.0.0.1:0 (a free port).
	Addr string
	// Certificate is the broker's TLS certificate; RootCAs verifies it (the
	// hub's own producer connects to it like any client).
	Certificate tls.Certificate
	RootCAs     *x509.CertPool
	// Hub is the hub's name ("" means DefaultHub); Partitions its partition
	// count (0 means DefaultPartitions).
	Hub        string
	Partitions int
	// Key is the shared access key; "" generates one.
	Key string
}

// Hub is a running namespace with one hub. Fields are read-only.
type Hub struct {
	// Namespace is the namespace's host and port, as in the Endpoint.
	Namespace string
	// Name is the hub's name (the EntityPath).
	Name       string
	Partitions int
	// ConnectionString is a secret: it admits anyone to the hub.
	ConnectionString string

	key      string
	cluster  *kfake.Cluster
	producer *kgo.Client
}

// Key is the shared access key in ConnectionString (a secret).
func (h *Hub) Key() string { return h.key }

// Start starts the broker and returns once it accepts connections.
func Start(ctx context.Context, opts Options) (*Hub, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Hub == "" {
		opts.Hub = DefaultHub
	}
	if opts.Partitions <= 0 {
		opts.Partitions = DefaultPartitions
	}
	if opts.Key == "" {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		opts.Key = base64.StdEncoding.EncodeToString(key)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("event hub: listening on %s: %w (is another emulator running?)", opts.Addr, err)
	}
	namespace := ln.Addr().String()
	h := &Hub{
		Namespace:  namespace,
		Name:       opts.Hub,
		Partitions: opts.Partitions,
		key:        opts.Key,
		ConnectionString: fmt.Sprintf("Endpoint=sb://%s/;SharedAccessKeyName=%s;SharedAccessKey=%s;EntityPath=%s",
			namespace, KeyName, opts.Key, opts.Hub),
	}
	h.cluster, err = kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{opts.Certificate}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", SASLUser, h.ConnectionString),
		kfake.SeedTopics(int32(opts.Partitions), opts.Hub),
		kfake.GroupMinSessionTimeout(minSessionTimeout),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": fmt.Sprint(MaxMessageBytes + 1024)}),
	)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("event hub: starting the broker: %w", err)
	}
	h.producer, err = kgo.NewClient(
		kgo.SeedBrokers(namespace),
		kgo.DialTLSConfig(&tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12}),
		kgo.SASL(plain.Auth{User: SASLUser, Pass: h.ConnectionString}.AsMechanism()),
		kgo.DefaultProduceTopic(opts.Hub),
		// Keyed by subscription: one subscription's notifications keep their
		// order on one partition, as Graph's do.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerLinger(0),
	)
	if err != nil {
		h.cluster.Close()
		return nil, fmt.Errorf("event hub: the emulator's producer: %w", err)
	}
	h.cluster.ControlKey(int16(kmsg.SASLAuthenticate), h.refuseWrongCredentials)
	return h, nil
}

// refuseWrongCredentials answers a PLAIN authentication with the wrong user
// or password as Event Hubs does, with SASL_AUTHENTICATION_FAILED and a
// reason, where kfake would only close the connection: clients tell bad
// credentials from a broker that is down by this answer.
func (h *Hub) refuseWrongCredentials(req kmsg.Request) (kmsg.Response, error, bool) {
	h.cluster.KeepControl()
	auth := req.(*kmsg.SASLAuthenticateRequest)
	fields := bytes.SplitN(auth.SASLAuthBytes, []byte{0}, 3)
	if len(fields) == 3 && string(fields[1]) == SASLUser &&
		subtle.ConstantTimeCompare(fields[2], []byte(h.ConnectionString)) == 1 {
		return nil, nil, false // kfake completes the authentication
	}
	resp := auth.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
	message := "Invalid SAS token: the connection string's key does not match the namespace's " + KeyName + " policy"
	resp.ErrorMessage = &message
	return resp, nil, true
}

// Close stops the producer and the broker.
func (h *Hub) Close() {
	h.producer.Close()
	h.cluster.Close()
}

// Produce puts one event on the hub, keyed (and so partitioned) by key, and
// returns once the broker has it.
func (h *Hub) Produce(ctx context.Context, key string, value []byte) error {
	if len(value) > MaxMessageBytes {
		return fmt.Errorf("event hub: an event of %d bytes is over Event Hubs' 1 MB limit", len(value))
	}
	return h.producer.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: value}).FirstErr()
}

// ErrOtherHub is an EventHub: URL that names a hub the emulator does not serve.
var ErrOtherHub = errors.New("not the emulator's event hub")

// Check says whether raw, a notificationUrl of the form
// EventHub:https://<namespace>/eventhubname/<hub>?tenantId=<domain>, names
// this hub; a Key Vault form (https://<vault>.vault.azure.net/secrets/...)
// is accepted too and taken to mean this hub, since the emulator has no vault.
func (h *Hub) Check(raw string) error {
	rest, ok := CutEventHubPrefix(raw)
	if !ok {
		return fmt.Errorf("%q is not an EventHub: URL", raw)
	}
	u, err := url.Parse(rest)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("the EventHub: URL must continue with an absolute https URL")
	}
	if u.Query().Get("tenantId") == "" {
		return fmt.Errorf("the EventHub: URL must end with ?tenantId=<tenant domain name>")
	}
	if strings.HasSuffix(strings.ToLower(u.Hostname()), ".vault.azure.net") {
		if !strings.HasPrefix(u.Path, "/secrets/") || len(u.Path) == len("/secrets/") {
			return fmt.Errorf("a Key Vault EventHub: URL must name a secret: https://<vault>.vault.azure.net/secrets/<secret>")
		}
		return nil
	}
	hub, found := strings.CutPrefix(u.Path, "/eventhubname/")
	if !found || hub == "" || strings.Contains(hub, "/") {
		return fmt.Errorf("the EventHub: URL must have the form EventHub:https://<namespace>/eventhubname/<hub>?tenantId=<domain>")
	}
	if !strings.EqualFold(u.Host, h.Namespace) || hub != h.Name {
		return fmt.Errorf("%w: it serves the hub %q in the namespace %s", ErrOtherHub, h.Name, h.Namespace)
	}
	return nil
}

// CutEventHubPrefix removes the case-insensitive "EventHub:" scheme.
func CutEventHubPrefix(raw string) (string, bool) {
	const prefix = "eventhub:"
	if len(raw) < len(prefix) || !strings.EqualFold(raw[:len(prefix)], prefix) {
		return raw, false
	}
	return raw[len(prefix):], true
}
