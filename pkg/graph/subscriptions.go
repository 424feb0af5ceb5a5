package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// InboxResource is the signed-in user's inbox messages.
const InboxResource = "me/mailFolders('Inbox')/messages"

// UserInboxResource is a user's inbox messages, for app-only access.
func UserInboxResource(user string) string {
	return "users/" + url.PathEscape(user) + "/mailFolders('Inbox')/messages"
}

// Subscription is a Graph change-notification subscription (PROTOCOL.md §1).
type Subscription struct {
	// ID, ApplicationID, CreatorID and NotificationContentType are read-only:
	// Graph fills them in; CreateSubscription never sends them.
	ID string `json:"id,omitempty"`
	// Resource is relative to the service root, e.g. InboxResource.
	Resource string `json:"resource"`
	// ChangeType is a comma list of created, updated, deleted.
	ChangeType string `json:"changeType"`
	// NotificationURL must be HTTPS for real Graph; its query string is kept on every delivery.
	NotificationURL string `json:"notificationUrl"`
	// LifecycleNotificationURL can only be set at creation.
	LifecycleNotificationURL string    `json:"lifecycleNotificationUrl,omitempty"`
	ExpirationDateTime       time.Time `json:"expirationDateTime"`
	// ClientState is a secret echoed in every notification. Graph never returns it.
	ClientState               string `json:"clientState,omitempty"`
	IncludeResourceData       bool   `json:"includeResourceData,omitempty"`
	EncryptionCertificate     string `json:"encryptionCertificate,omitempty"`
	EncryptionCertificateID   string `json:"encryptionCertificateId,omitempty"`
	LatestSupportedTLSVersion string `json:"latestSupportedTlsVersion,omitempty"`
	// NotificationURLAppID is the app id Graph generates validation tokens for.
	NotificationURLAppID string `json:"notificationUrlAppId,omitempty"`
	// NotificationQueryOptions are OData options some resources (Universal Print) filter notifications with.
	NotificationQueryOptions string `json:"notificationQueryOptions,omitempty"`

	ApplicationID           string `json:"applicationId,omitempty"`
	CreatorID               string `json:"creatorId,omitempty"`
	NotificationContentType string `json:"notificationContentType,omitempty"`
}

// MaxClientStateLength is the longest clientState every Graph page agrees on.
const MaxClientStateLength = 128

// validateNew checks what Graph would refuse, so the user hears it before a round trip.
func (s *Subscription) validateNew() error {
	var problems []string
	if s.Resource == "" {
		problems = append(problems, "resource is empty")
	} else if strings.Contains(s.Resource, "://") {
		problems = append(problems, "resource must be relative to the service root (e.g. "+InboxResource+"), not a URL")
	}
	if s.ChangeType == "" {
		problems = append(problems, "changeType is empty")
	} else {
		if _, err := ParseChangeTypes(s.ChangeType); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if s.NotificationURL == "" {
		problems = append(problems, "notificationUrl is empty")
	} else if u, err := url.Parse(s.NotificationURL); !IsEventHubURL(s.NotificationURL) && (err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http")) {
		problems = append(problems, "notificationUrl must be an absolute https:// URL (or an EventHub: URL)")
	}
	if s.ExpirationDateTime.IsZero() {
		problems = append(problems, "expirationDateTime is not set")
	}
	if len(s.ClientState) > MaxClientStateLength {
		problems = append(problems, fmt.Sprintf("clientState is longer than %d characters", MaxClientStateLength))
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid subscription: %s", strings.Join(problems, "; "))
	}
	return nil
}

func subscriptionPath(id string) (string, error) {
	if strings.TrimSpace(id) == "" {
		return "", errors.New("subscription id is empty")
	}
	return "subscriptions/" + url.PathEscape(id), nil
}

// CreateSubscription creates a subscription (POST /subscriptions). Graph
// validates the notification URL before answering 201; a failed validation is
// an *Error for which IsValidationFailure is true. The returned subscription
// carries the ClientState that was sent, since Graph does not echo it.
func (c *Client) CreateSubscription(ctx context.Context, s Subscription) (*Subscription, error) {
	if err := s.validateNew(); err != nil {
		return nil, err
	}
	body := s
	body.ID, body.ApplicationID, body.CreatorID, body.NotificationContentType = "", "", "", ""
	body.ExpirationDateTime = s.ExpirationDateTime.UTC()
	resp, err := c.do(ctx, call{method: http.MethodPost, target: "subscriptions", body: body})
	if err != nil {
		return nil, err
	}
	var created Subscription
	if err := decodeJSON(resp, &created, "the created subscription"); err != nil {
		return nil, err
	}
	if created.ClientState == "" {
		created.ClientState = s.ClientState
	}
	return &created, nil
}

// ListSubscriptions returns every subscription the caller's app can see,
// following @odata.nextLink through all pages. ClientState is always empty.
func (c *Client) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	subs, _, err := getPages[Subscription](ctx, c, call{method: http.MethodGet, target: "subscriptions"}, "the subscription list")
	if err != nil {
		return nil, err
	}
	if subs == nil {
		subs = []Subscription{}
	}
	return subs, nil
}

// GetSubscription reads one subscription; IsNotFound(err) when it is gone.
func (c *Client) GetSubscription(ctx context.Context, id string) (*Subscription, error) {
	path, err := subscriptionPath(id)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, call{method: http.MethodGet, target: path})
	if err != nil {
		return nil, err
	}
	var s Subscription
	if err := decodeJSON(resp, &s, "subscription "+id); err != nil {
		return nil, err
	}
	return &s, nil
}

// RenewSubscription moves a subscription's expiry (PATCH /subscriptions/{id}),
// which also reauthorizes it. Callers clamp expiry with ClampExpiry first.
func (c *Client) RenewSubscription(ctx context.Context, id string, expiry time.Time) (*Subscription, error) {
	path, err := subscriptionPath(id)
	if err != nil {
		return nil, err
	}
	if expiry.IsZero() {
		return nil, errors.New("renewing subscription " + id + ": no expiry given")
	}
	body := struct {
		ExpirationDateTime time.Time `json:"expirationDateTime"`
	}{expiry.UTC()}
	resp, err := c.do(ctx, call{method: http.MethodPatch, target: path, body: body})
	if err != nil {
		return nil, err
	}
	var s Subscription
	if len(resp.body) == 0 {
		// Some services answer 204; the expiry asked for is then the expiry.
		return &Subscription{ID: id, ExpirationDateTime: expiry.UTC()}, nil
	}
	if err := decodeJSON(resp, &s, "renewed subscription "+id); err != nil {
		return nil, err
	}
	return &s, nil
}

// ReauthorizeSubscription answers a reauthorizationRequired lifecycle event
// (POST /subscriptions/{id}/reauthorize).
func (c *Client) ReauthorizeSubscription(ctx context.Context, id string) error {
	path, err := subscriptionPath(id)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, call{method: http.MethodPost, target: path + "/reauthorize"})
	return err
}

// DeleteSubscription deletes a subscription; IsNotFound(err) when it was already gone.
func (c *Client) DeleteSubscription(ctx context.Context, id string) error {
	path, err := subscriptionPath(id)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, call{method: http.MethodDelete, target: path})
	return err
}
