// Package eventhub is hookctl listen's Event Hubs intake: a member of a Kafka
// consumer group on an Azure Event Hubs namespace that hands each message (a
// Graph notification collection) to the listener's journal, and commits its
// offset only once the journal has it.
package eventhub

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// KafkaPort is Event Hubs' Kafka endpoint port.
const KafkaPort = "9093"

// ConnectionString is a parsed Event Hubs connection string:
// Endpoint=sb://<namespace>/;SharedAccessKeyName=...;SharedAccessKey=...;EntityPath=<hub>.
// It is a secret: String and GoString never show the key.
type ConnectionString struct {
	// Namespace is the Endpoint's host, with its port when it has one.
	Namespace string
	// KeyName is the shared access policy.
	KeyName string
	// Hub is the EntityPath: the hub, which Kafka clients see as a topic.
	Hub string
	// raw is the whole string: the SASL PLAIN password.
	raw string
}

// ParseConnectionString reads a connection string. Its errors name the part
// that is wrong and never repeat the value.
func ParseConnectionString(raw string) (ConnectionString, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ConnectionString{}, errors.New("the connection string is empty")
	}
	parts := map[string]string{}
	for _, part := range strings.Split(raw, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return ConnectionString{}, errors.New("the connection string is not a list of Name=value parts separated by ';'")
		}
		parts[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
	}
	endpoint := parts["endpoint"]
	if endpoint == "" {
		return ConnectionString{}, errors.New("the connection string has no Endpoint=sb://<namespace>.servicebus.windows.net/")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Scheme, "sb") {
		return ConnectionString{}, errors.New("the connection string's Endpoint is not of the form sb://<namespace>.servicebus.windows.net/")
	}
	cs := ConnectionString{Namespace: u.Host, KeyName: parts["sharedaccesskeyname"], Hub: parts["entitypath"], raw: raw}
	switch {
	case cs.KeyName == "" || parts["sharedaccesskey"] == "":
		return ConnectionString{}, errors.New("the connection string needs SharedAccessKeyName and SharedAccessKey (copy it from the hub's shared access policy)")
	case cs.Hub == "":
		return ConnectionString{}, errors.New("the connection string has no EntityPath=<hub>: copy it from a policy of the hub itself, not of the namespace")
	}
	return cs, nil
}

// Broker is the Kafka bootstrap address: the namespace on port 9093, or on
// the port the Endpoint names (a local broker such as the emulator's).
func (c ConnectionString) Broker() string {
	if _, _, err := net.SplitHostPort(c.Namespace); err == nil {
		return c.Namespace
	}
	return net.JoinHostPort(c.Namespace, KafkaPort)
}

// Password is the SASL PLAIN password Event Hubs expects: the whole string.
func (c ConnectionString) Password() string { return c.raw }

// String implements fmt.Stringer without the key.
func (c ConnectionString) String() string {
	return fmt.Sprintf("Endpoint=sb://%s/;SharedAccessKeyName=%s;SharedAccessKey=(hidden);EntityPath=%s", c.Namespace, c.KeyName, c.Hub)
}

// GoString implements fmt.GoStringer without the key.
func (c ConnectionString) GoString() string { return "eventhub.ConnectionString(" + c.String() + ")" }
