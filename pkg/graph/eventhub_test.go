package graph

import (
	"strings"
	"testing"
)

func TestEventHubURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		hub, vault, domain, want, wantErr string
	}{
		{hub: "contoso/graph", domain: "contoso.onmicrosoft.com", want: "EventHub:https://contoso.servicebus.windows.net/eventhubname/graph?tenantId=contoso.onmicrosoft.com"},
		{hub: "ns.servicebus.windows.net/graph", domain: "contoso.example", want: "EventHub:https://ns.servicebus.windows.net/eventhubname/graph?tenantId=contoso.example"},
		{hub: "127.0.0.1:9093/hookctl", domain: "contoso.example", want: "EventHub:https://127.0.0.1:9093/eventhubname/hookctl?tenantId=contoso.example"},
		{vault: "https://kv1.vault.azure.net/secrets/hub/", domain: "contoso.example", want: "EventHub:https://kv1.vault.azure.net/secrets/hub?tenantId=contoso.example"},
		{hub: "contoso/graph", domain: "", wantErr: "tenant domain"},
		{hub: "contoso", domain: "d", wantErr: "NAMESPACE/HUB"},
		{hub: "contoso/a/b", domain: "d", wantErr: "NAMESPACE/HUB"},
		{hub: "contoso/graph", vault: "https://kv1.vault.azure.net/secrets/hub", domain: "d", wantErr: "not both"},
		{vault: "https://example.com/secrets/hub", domain: "d", wantErr: "Key Vault"},
		{vault: "https://kv1.vault.azure.net/keys/hub", domain: "d", wantErr: "Key Vault"},
	} {
		got, err := EventHubURL(tc.hub, tc.vault, tc.domain)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("EventHubURL(%q, %q, %q) = %q, %v; want an error with %q", tc.hub, tc.vault, tc.domain, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want || !IsEventHubURL(got) {
			t.Errorf("EventHubURL(%q, %q, %q) = %q, %v; want %q", tc.hub, tc.vault, tc.domain, got, err, tc.want)
		}
	}
}
