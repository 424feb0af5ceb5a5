package send

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// graphFaker builds changeNotificationCollections shaped like the ones Graph
// sends for Outlook messages (PROTOCOL.md §3, §4), with fresh ids each time.
type graphFaker struct {
	subscriptionID string
	clientState    string
	tenantID       string
	userID         string
	changeType     string
	resource       string // "" = a fresh message resource per notification
	lifecycleEvent string // "" = change notifications
	expiration     time.Time
}

// changeNotification is one item, in the member order Graph uses. Lifecycle
// items leave id, changeType, resource and resourceData out.
type changeNotification struct {
	ID                             string        `json:"id,omitempty"`
	SubscriptionID                 string        `json:"subscriptionId"`
	SubscriptionExpirationDateTime string        `json:"subscriptionExpirationDateTime"`
	ClientState                    string        `json:"clientState"`
	ChangeType                     string        `json:"changeType,omitempty"`
	Resource                       string        `json:"resource,omitempty"`
	TenantID                       string        `json:"tenantId"`
	LifecycleEvent                 string        `json:"lifecycleEvent,omitempty"`
	ResourceData                   *resourceData `json:"resourceData,omitempty"`
}

type resourceData struct {
	ODataType string `json:"@odata.type,omitempty"`
	ODataID   string `json:"@odata.id"`
	ODataETag string `json:"@odata.etag"`
	ID        string `json:"id"`
}

// graphTime is the .NET round-trip format Graph uses for subscriptionExpirationDateTime.
const graphTime = "2006-01-02T15:04:05.0000000-07:00"

// collection returns a body of size notifications and their ids (empty for lifecycle items).
func (g *graphFaker) collection(size int) (body []byte, ids []string) {
	items := make([]changeNotification, size)
	for i := range items {
		item := changeNotification{
			SubscriptionID:                 g.subscriptionID,
			SubscriptionExpirationDateTime: g.expiration.Format(graphTime),
			ClientState:                    g.clientState,
			TenantID:                       g.tenantID,
		}
		if g.lifecycleEvent != "" {
			item.LifecycleEvent = g.lifecycleEvent
		} else {
			resource := g.resource
			if resource == "" {
				resource = "Users/" + g.userID + "/Messages/" + newMessageID()
			}
			item.ID = randomBase64URL(12)
			item.ChangeType = g.changeType
			item.Resource = resource
			item.ResourceData = &resourceData{
				ODataType: odataType(resource),
				ODataID:   resource,
				ODataETag: `W/"CQAAABYAAAD` + randomBase64(24) + `"`,
				ID:        lastSegment(resource),
			}
			ids = append(ids, item.ID)
		}
		items[i] = item
	}
	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false) // Graph does not escape < > & either
	_ = encoder.Encode(struct {
		Value []changeNotification `json:"value"`
	}{items}) // plain strings: cannot fail
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), ids
}

// odataType guesses the resource's type from its collection, as Graph names it.
func odataType(resource string) string {
	lower := strings.ToLower(resource)
	for _, kind := range []struct{ segment, name string }{
		{"/messages", "#Microsoft.Graph.Message"},
		{"/events", "#Microsoft.Graph.Event"},
		{"/contacts", "#Microsoft.Graph.Contact"},
		{"/chatmessages", "#Microsoft.Graph.ChatMessage"},
		{"/items", "#Microsoft.Graph.DriveItem"},
	} {
		if strings.Contains(lower, kind.segment) {
			return kind.name
		}
	}
	return ""
}

// lastSegment is the id at the end of a resource path: "Users/u/Messages/AAMk=" gives "AAMk=".
func lastSegment(resource string) string {
	resource = strings.TrimRight(resource, "/")
	if i := strings.LastIndexByte(resource, '/'); i >= 0 {
		return resource[i+1:]
	}
	return resource
}

// newMessageID looks like an Outlook message id: URL-safe base64, ~150 characters.
func newMessageID() string {
	return "AAMkAG" + randomBase64URL(105) + "AAA="
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return b
}

func randomBase64URL(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

func randomBase64(n int) string { return base64.StdEncoding.EncodeToString(randomBytes(n)) }
