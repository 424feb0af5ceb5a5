package graph

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// EventHubNamespaceSuffix completes a bare namespace name.
const EventHubNamespaceSuffix = ".servicebus.windows.net"

// EventHubURL is the notificationUrl (and lifecycleNotificationUrl) that has
// Graph deliver to an Azure Event Hubs hub instead of a webhook:
// EventHub:https://<namespace>/eventhubname/<hub>?tenantId=<domain>.
// hub is NAMESPACE/HUB, where NAMESPACE is a name ("contoso" for
// contoso.servicebus.windows.net) or a host with an optional port (a local
// broker such as the emulator's). Or, with vault set, the older Key Vault
// form EventHub:https://<vault>.vault.azure.net/secrets/<secret>?tenantId=<domain>,
// whose secret holds the hub's connection string. Graph sends no validation
// request to either: it puts a notification with subscriptionId "NA" on the
// hub instead.
func EventHubURL(hub, vault, tenantDomain string) (string, error) {
	if tenantDomain == "" || strings.ContainsAny(tenantDomain, "/?&# ") {
		return "", errors.New("a tenant domain name is needed, such as contoso.onmicrosoft.com (Graph's Change Tracking app writes to the hub in that tenant)")
	}
	query := "?tenantId=" + url.QueryEscape(tenantDomain)
	switch {
	case hub != "" && vault != "":
		return "", errors.New("name the hub or the Key Vault secret that holds its connection string, not both")
	case vault != "":
		u, err := url.Parse(vault)
		if err != nil || u.Scheme != "https" || !strings.HasSuffix(strings.ToLower(u.Hostname()), ".vault.azure.net") ||
			!strings.HasPrefix(u.Path, "/secrets/") || len(strings.Trim(u.Path, "/")) <= len("secrets") || u.RawQuery != "" {
			return "", fmt.Errorf("%q is not a Key Vault secret URL: https://<vault>.vault.azure.net/secrets/<secret>", vault)
		}
		return "EventHub:https://" + u.Host + strings.TrimRight(u.Path, "/") + query, nil
	}
	namespace, name, ok := strings.Cut(hub, "/")
	if !ok || namespace == "" || name == "" || strings.ContainsAny(name, "/?#& ") || strings.ContainsAny(namespace, "/?#& @") {
		return "", fmt.Errorf("%q is not NAMESPACE/HUB, such as contoso/graph-notifications", hub)
	}
	if !strings.ContainsAny(namespace, ".:") {
		namespace += EventHubNamespaceSuffix
	}
	return "EventHub:https://" + namespace + "/eventhubname/" + name + query, nil
}

// IsEventHubURL reports whether a notification URL is of the EventHub: form.
func IsEventHubURL(raw string) bool {
	return len(raw) >= len("EventHub:") && strings.EqualFold(raw[:len("EventHub:")], "EventHub:")
}
