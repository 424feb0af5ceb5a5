package emulator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"syscall"

	"github.com/hookctl/hookctl/internal/emulator/hubsim"
)

// EventHubOptions shape the Event Hubs stand-in.
type EventHubOptions struct {
	// Off runs the emulator without it.
	Off bool
	// Addr is the broker's address; "" means 127.0.0.1:0 (a free port).
	Addr string
	// AnyPortIfTaken falls back to a free port when Addr is taken (Addr is
	// a default, not the user's choice).
	AnyPortIfTaken bool
	// Hub and Partitions name and size the hub ("" and 0: hubsim's defaults).
	Hub        string
	Partitions int
}

// EventHubSettings describe the Event Hubs stand-in. ConnectionString is a
// secret of the emulator's own test tenant, printed with the settings as the
// confidential client's secret is.
type EventHubSettings struct {
	// Namespace is the host and port of the broker, as in the Endpoint.
	Namespace        string `json:"namespace"`
	Hub              string `json:"hub"`
	ConnectionString string `json:"connectionString"`
	Partitions       int    `json:"partitions"`
}

// startHub starts the Event Hubs stand-in with the emulator's CA, reusing
// the persisted key so that the connection string survives a restart.
func (e *Emulator) startHub(ctx context.Context, st *persisted, cert tls.Certificate) error {
	opts := e.opts.EventHub
	if opts.Off {
		return nil
	}
	hubOpts := hubsim.Options{
		Addr:        opts.Addr,
		Certificate: cert,
		RootCAs:     e.CAPool,
		Hub:         opts.Hub,
		Partitions:  opts.Partitions,
		Key:         st.EventHubKey,
	}
	hub, err := hubsim.Start(ctx, hubOpts)
	if err != nil && opts.AnyPortIfTaken && errors.Is(err, syscall.EADDRINUSE) {
		e.log.Info("event hub address taken; using a free port", "addr", opts.Addr)
		hubOpts.Addr = "127.0.0.1:0"
		hub, err = hubsim.Start(ctx, hubOpts)
	}
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	e.Hub, e.hubKey = hub, hub.Key()
	return nil
}

func (e *Emulator) eventHubSettings() *EventHubSettings {
	if e.Hub == nil {
		return nil
	}
	return &EventHubSettings{Namespace: e.Hub.Namespace, Hub: e.Hub.Name, ConnectionString: e.Hub.ConnectionString, Partitions: e.Hub.Partitions}
}
