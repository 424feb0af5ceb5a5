package graphsim

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hookctl/hookctl/internal/emulator/tenant"
	"github.com/hookctl/hookctl/pkg/graph"
)

// Subscription is a change-notification subscription as the emulator stores it.
type Subscription struct {
	ID                        string    `json:"id"`
	Resource                  string    `json:"resource"`
	ChangeType                string    `json:"changeType"`
	NotificationURL           string    `json:"notificationUrl"`
	LifecycleNotificationURL  string    `json:"lifecycleNotificationUrl,omitempty"`
	ClientState               string    `json:"clientState,omitempty"`
	Expiration                time.Time `json:"expirationDateTime"`
	ApplicationID             string    `json:"applicationId"`
	CreatorID                 string    `json:"creatorId"`
	LatestSupportedTLSVersion string    `json:"latestSupportedTlsVersion"`
	// IncludeResourceData subscriptions get the message, encrypted with
	// EncryptionCertificate (base64 DER), in every notification.
	IncludeResourceData     bool   `json:"includeResourceData,omitempty"`
	EncryptionCertificate   string `json:"encryptionCertificate,omitempty"`
	EncryptionCertificateID string `json:"encryptionCertificateId,omitempty"`
	// Select is the resource's $select: the properties rich notifications carry.
	Select []string `json:"select,omitempty"`
	// UserID and FolderID say which mailbox (and folder, "" for all) the resource names.
	UserID   string `json:"userId"`
	FolderID string `json:"folderId,omitempty"`
	// Scope is what a subscription to a resource other than mail covers
	// (nil for mail).
	Scope *itemScope `json:"scope,omitempty"`
	// ReauthorizationRequired is set by a reauthorizationRequired lifecycle event
	// and cleared by POST /subscriptions/{id}/reauthorize.
	ReauthorizationRequired bool      `json:"reauthorizationRequired,omitempty"`
	Created                 time.Time `json:"createdDateTime"`
}

func (sub *Subscription) hasChangeType(changeType string) bool {
	for _, t := range strings.Split(sub.ChangeType, ",") {
		if t == changeType {
			return true
		}
	}
	return false
}

// Subscriptions returns copies of all live subscriptions, oldest first.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Subscription, 0, len(s.subscriptions))
	for _, sub := range s.subscriptions {
		out = append(out, *sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// createRequest is the body of POST /subscriptions.
type createRequest struct {
	ChangeType                *string          `json:"changeType"`
	NotificationURL           *string          `json:"notificationUrl"`
	LifecycleNotificationURL  *string          `json:"lifecycleNotificationUrl"`
	Resource                  *string          `json:"resource"`
	ExpirationDateTime        *string          `json:"expirationDateTime"`
	ClientState               *string          `json:"clientState"`
	IncludeResourceData       *bool            `json:"includeResourceData"`
	EncryptionCertificate     *string          `json:"encryptionCertificate"`
	EncryptionCertificateID   *string          `json:"encryptionCertificateId"`
	LatestSupportedTLSVersion *string          `json:"latestSupportedTlsVersion"`
	NotificationQueryOptions  *json.RawMessage `json:"notificationQueryOptions"`
	NotificationURLAppID      *string          `json:"notificationUrlAppId"`
}

// subscriptionProperties are the names Graph's subscription type defines.
var subscriptionProperties = map[string]bool{
	"id": true, "changeType": true, "notificationUrl": true, "lifecycleNotificationUrl": true, "resource": true,
	"expirationDateTime": true, "clientState": true, "includeResourceData": true, "encryptionCertificate": true,
	"encryptionCertificateId": true, "latestSupportedTlsVersion": true, "notificationQueryOptions": true,
	"notificationUrlAppId": true, "applicationId": true, "creatorId": true, "notificationContentType": true,
}

// decodeStrict decodes a JSON object, refusing properties the type does not define.
func decodeStrict(r *http.Request, v any) *graphError {
	var raw map[string]json.RawMessage
	if e := readJSON(r, &raw); e != nil {
		return e
	}
	for name := range raw {
		if !subscriptionProperties[name] && !strings.HasPrefix(name, "@odata.") {
			return errBadRequest("The property '%s' does not exist on type 'microsoft.graph.subscription'. Make sure to only use property names that are defined by the type.", name)
		}
	}
	data, _ := json.Marshal(raw)
	if err := json.Unmarshal(data, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return errBadRequest("Invalid value for property '%s' in the JSON request payload.", typeErr.Field)
		}
		return errBadRequest("Unable to read JSON request payload.")
	}
	return nil
}

func (c *call) subscriptions(rest []string) {
	switch {
	case len(rest) == 0 && c.r.Method == http.MethodPost:
		c.createSubscription()
	case len(rest) == 0 && c.r.Method == http.MethodGet:
		c.listSubscriptions()
	case len(rest) == 0:
		c.fail(errMethodNotAllowed())
	case len(rest) == 1:
		sub := c.ownSubscription(rest[0])
		if sub == nil {
			return
		}
		switch c.r.Method {
		case http.MethodGet:
			c.reply(http.StatusOK, c.subscriptionObject(sub, false, true))
		case http.MethodPatch:
			c.renewSubscription(sub)
		case http.MethodDelete:
			c.s.mu.Lock()
			delete(c.s.subscriptions, sub.ID)
			c.s.mu.Unlock()
			c.s.log.Info("subscription deleted", "subscriptionId", sub.ID)
			c.noContent(http.StatusNoContent)
		default:
			c.fail(errMethodNotAllowed())
		}
	case len(rest) == 2 && strings.EqualFold(rest[1], "reauthorize"):
		if c.r.Method != http.MethodPost {
			c.fail(errMethodNotAllowed())
			return
		}
		sub := c.ownSubscription(rest[0])
		if sub == nil {
			return
		}
		if !c.maySubscribe(sub.UserID, sub.Scope) {
			c.fail(extensionError(http.StatusForbidden, "Reauthorize", "Forbidden", "Access denied"))
			return
		}
		c.s.mu.Lock()
		if live := c.s.subscriptions[sub.ID]; live != nil {
			live.ReauthorizationRequired = false
		}
		c.s.mu.Unlock()
		c.noContent(http.StatusNoContent)
	default:
		c.fail(errNoSegment(rest[len(rest)-1]))
	}
}

// extensionError is the shape Graph uses when the subscription service refuses.
func extensionError(status int, operation, statusName, reason string) *graphError {
	return errorf(status, "ExtensionError", "Operation: %s; Exception: [Status Code: %s; Reason: %s]", operation, statusName, reason)
}

func errSubscriptionNotFound(id string) *graphError {
	return errorf(http.StatusNotFound, "ResourceNotFound", "Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

// ownSubscription finds a live subscription the caller's app (and user) created.
func (c *call) ownSubscription(id string) *Subscription {
	c.s.mu.Lock()
	sub := c.s.subscriptions[id]
	var found *Subscription
	if sub != nil && c.owns(sub) && c.s.cfg.Now().Before(sub.Expiration) {
		copied := *sub
		found = &copied
	}
	c.s.mu.Unlock()
	if found == nil {
		c.fail(errSubscriptionNotFound(id))
	}
	return found
}

func (c *call) owns(sub *Subscription) bool {
	if !strings.EqualFold(sub.ApplicationID, c.principal.AppID) {
		return false
	}
	return !c.principal.Delegated || strings.EqualFold(sub.CreatorID, c.principal.UserID)
}

// resourceKind is the resource table's kind of a subscription resource; the
// emulator treats paths the table does not know as mail, whose resolver
// refuses what it cannot serve.
func resourceKind(resource string) *graph.ResourceKind {
	if kind := graph.LookupResource(resource); kind != nil {
		return kind
	}
	return graph.KindMessage
}

// checkRules applies the resource table's rules as Graph does, with its
// status codes and error codes.
func checkRules(kind *graph.ResourceKind, resource, changeTypes string, rich, hasLifecycleURL bool, lifetime time.Duration) *graphError {
	err := graph.CheckSubscription(graph.SubscriptionRequest{
		Resource: resource, ChangeTypes: strings.Split(changeTypes, ","), IncludeResourceData: rich,
		HasEncryptionCert: rich, HasLifecycleURL: hasLifecycleURL, Lifetime: lifetime,
	})
	var rule *graph.RuleError
	if !errors.As(err, &rule) {
		return nil
	}
	switch rule.Rule {
	case "lifecycleNotificationUrl":
		return errorf(http.StatusBadRequest, "ValidationError", "lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour.")
	case "changeType":
		return extensionError(http.StatusBadRequest, "Create", "BadRequest", fmt.Sprintf("ChangeType '%s' is not supported for resource '%s'", changeTypes, resource))
	case "includeResourceData":
		return extensionError(http.StatusBadRequest, "Create", "BadRequest", fmt.Sprintf("includeResourceData is not supported for resource '%s'", resource))
	}
	return errInvalidRequest("%s", rule.Message)
}

// checkDuplicate refuses a second subscription of an app with the same
// resource, change types and notification URL (409), as Graph does.
func (s *Server) checkDuplicate(appID, resource, changeTypes, notificationURL string) *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subscriptions {
		if strings.EqualFold(sub.ApplicationID, appID) && strings.EqualFold(sub.Resource, resource) &&
			sub.ChangeType == changeTypes && sub.NotificationURL == notificationURL {
			return extensionError(http.StatusConflict, "Create", "Conflict", "A subscription with the same resource, changeType and notificationUrl already exists: "+sub.ID)
		}
	}
	return nil
}

// maySubscribe checks the caller's permission for a subscription: Mail.Read
// on the mailbox for mail, the collection's read permission otherwise.
func (c *call) maySubscribe(userID string, scope *itemScope) bool {
	if scope == nil {
		return c.mayReadMailbox(userID)
	}
	kind, ok := kindOf(scope.Pattern)
	if !ok || !c.principal.Has(kind.read...) {
		return false
	}
	if userID != "" && c.principal.Delegated && !strings.EqualFold(userID, c.principal.UserID) {
		return false
	}
	return true
}

func (c *call) mayReadMailbox(userID string) bool {
	user, ok := c.s.cfg.Tenant.UserByIDOrUPN(userID)
	return ok && c.canActFor(user) && c.principal.Has("Mail.Read", "Mail.ReadWrite")
}

// maxLifetime is the longest a subscription to a kind of resource may live
// (shorter with resource data for Outlook). Config.MaxLifetime overrides it.
func (s *Server) maxLifetime(kind *graph.ResourceKind, includeResourceData bool) time.Duration {
	if s.cfg.MaxLifetime > 0 {
		return s.cfg.MaxLifetime
	}
	return kind.Lifetime(includeResourceData)
}

// checkExpiration parses an expirationDateTime and holds it to the resource's maximum.
func (s *Server) checkExpiration(value, operation string, kind *graph.ResourceKind, includeResourceData bool) (time.Time, *graphError) {
	expiry, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return time.Time{}, errBadRequest("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset': use UTC ISO-8601 such as 2026-01-02T15:04:05Z.", value)
	}
	now := s.cfg.Now()
	if !expiry.After(now) {
		return time.Time{}, extensionError(http.StatusBadRequest, operation, "BadRequest", "Subscription expiration must be in the future.")
	}
	max := s.maxLifetime(kind, includeResourceData)
	if expiry.Sub(now) > max {
		return time.Time{}, errorf(http.StatusBadRequest, "ExtensionError", "Subscription expiration can only be %d minutes in the future.", int(max/time.Minute))
	}
	return expiry.UTC(), nil
}

// checkNotificationURL enforces HTTPS, except for loopback http (the emulator's one relaxation).
func checkNotificationURL(property, raw string) *graphError {
	if isEventHubURL(raw) {
		return nil // validateEndpoint checks it against the hub
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errInvalidRequest("Invalid %s: it must be an absolute https URL.", property)
	}
	if u.Fragment != "" {
		return errInvalidRequest("Invalid %s: it must not contain a fragment.", property)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if strings.EqualFold(host, "localhost") || host == "127.0.0.1" || host == "::1" {
			return nil
		}
	}
	return errInvalidRequest("Invalid %s: the notification endpoint must use https (the emulator also accepts http://127.0.0.1, http://localhost and http://[::1]).", property)
}

// resolveResource maps a subscription resource to a user and folder.
func (c *call) resolveResource(resource string) (tenant.User, string, *graphError) {
	unsupported := errInvalidRequest("The resource '%s' is not supported by the hookctl emulator: use me/mailFolders('Inbox')/messages, me/messages, or the users/{id}/... forms.", resource)
	if strings.Contains(resource, "://") {
		return tenant.User{}, "", errInvalidRequest("The resource must not include the base URL: use a relative path such as me/mailFolders('Inbox')/messages.")
	}
	path, _, _ := strings.Cut(resource, "?")
	if unescaped, err := url.PathUnescape(path); err == nil {
		path = unescaped
	}
	segments := splitSegments(path)
	var user tenant.User
	switch {
	case len(segments) >= 1 && strings.EqualFold(segments[0], "me"):
		if !c.principal.Delegated {
			return user, "", errMeNeedsDelegated()
		}
		user, _ = c.s.cfg.Tenant.UserByIDOrUPN(c.principal.UserID)
		segments = segments[1:]
	case len(segments) >= 2 && strings.EqualFold(segments[0], "users"):
		found, ok := c.s.cfg.Tenant.UserByIDOrUPN(segments[1])
		if !ok {
			return user, "", errorf(http.StatusNotFound, "ErrorInvalidUser", "The requested user '%s' is invalid.", segments[1])
		}
		user = found
		segments = segments[2:]
	default:
		return user, "", unsupported
	}
	switch {
	case len(segments) == 1 && strings.EqualFold(segments[0], "messages"):
		return user, "", nil
	case len(segments) == 3 && strings.EqualFold(segments[0], "mailFolders") && strings.EqualFold(segments[2], "messages"):
		box := c.s.mailbox(user.ID)
		if box == nil {
			return user, "", unsupported
		}
		c.s.mu.Lock()
		folder := box.folder(segments[1])
		c.s.mu.Unlock()
		if folder == nil {
			return user, "", errorf(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		}
		return user, folder.ID, nil
	}
	return user, "", unsupported
}

func (c *call) createSubscription() {
	var req createRequest
	if e := decodeStrict(c.r, &req); e != nil {
		c.fail(e)
		return
	}
	for _, required := range []struct {
		name  string
		value *string
	}{{"changeType", req.ChangeType}, {"notificationUrl", req.NotificationURL}, {"resource", req.Resource}, {"expirationDateTime", req.ExpirationDateTime}} {
		if required.value == nil || strings.TrimSpace(*required.value) == "" {
			c.fail(errInvalidRequest("%s is a required property for subscription creation.", required.name))
			return
		}
	}
	changeTypes, e := normalizeChangeType(*req.ChangeType)
	if e != nil {
		c.fail(e)
		return
	}
	if e := checkNotificationURL("notificationUrl", *req.NotificationURL); e != nil {
		c.fail(e)
		return
	}
	lifecycleURL := ""
	if req.LifecycleNotificationURL != nil && *req.LifecycleNotificationURL != "" {
		lifecycleURL = *req.LifecycleNotificationURL
		if e := checkNotificationURL("lifecycleNotificationUrl", lifecycleURL); e != nil {
			c.fail(e)
			return
		}
	}
	clientState := ""
	if req.ClientState != nil {
		clientState = *req.ClientState
	}
	if len([]rune(clientState)) > 128 {
		c.fail(errInvalidRequest("clientState is too long: the maximum is 128 characters."))
		return
	}
	tlsVersion := "v1_2"
	if req.LatestSupportedTLSVersion != nil {
		switch *req.LatestSupportedTLSVersion {
		case "v1_0", "v1_1", "v1_2", "v1_3":
			tlsVersion = *req.LatestSupportedTLSVersion
		default:
			c.fail(errInvalidRequest("Invalid latestSupportedTlsVersion '%s': use v1_0, v1_1, v1_2 or v1_3.", *req.LatestSupportedTLSVersion))
			return
		}
	}
	rich := req.IncludeResourceData != nil && *req.IncludeResourceData
	var certificate, certificateID string
	if rich {
		if req.EncryptionCertificate == nil || *req.EncryptionCertificate == "" || req.EncryptionCertificateID == nil || *req.EncryptionCertificateID == "" {
			c.fail(errInvalidRequest("encryptionCertificate and encryptionCertificateId are required when includeResourceData is true."))
			return
		}
		if len(*req.EncryptionCertificateID) > 128 {
			c.fail(errInvalidRequest("encryptionCertificateId is too long: the maximum is 128 characters."))
			return
		}
		if _, e := parseEncryptionCertificate(*req.EncryptionCertificate); e != nil {
			c.fail(e)
			return
		}
		certificate, certificateID = strings.TrimSpace(*req.EncryptionCertificate), *req.EncryptionCertificateID
	}
	selectList, e := resourceSelect(*req.Resource)
	if e != nil {
		c.fail(e)
		return
	}
	kind := resourceKind(*req.Resource)
	expiry, e := c.s.checkExpiration(*req.ExpirationDateTime, "Create", kind, rich)
	if e != nil {
		c.fail(e)
		return
	}
	if e := checkRules(kind, *req.Resource, changeTypes, rich, lifecycleURL != "", expiry.Sub(c.s.cfg.Now())); e != nil {
		c.fail(e)
		return
	}
	var user tenant.User
	var folderID string
	var scope *itemScope
	if kind == graph.KindMessage {
		if user, folderID, e = c.resolveResource(*req.Resource); e != nil {
			c.fail(e)
			return
		}
	} else {
		found, userID, e := c.resolveItemScope(kind, *req.Resource)
		if e != nil {
			c.fail(e)
			return
		}
		scope, user.ID = &found, userID
		if e := c.s.checkDuplicate(c.principal.AppID, *req.Resource, changeTypes, *req.NotificationURL); e != nil {
			c.fail(e)
			return
		}
	}
	if !c.maySubscribe(user.ID, scope) {
		c.fail(extensionError(http.StatusForbidden, "Create", "Forbidden", "Access denied"))
		return
	}
	if e := c.s.validateEndpoint(c.r.Context(), *req.NotificationURL); e != nil {
		c.fail(e)
		return
	}
	if lifecycleURL != "" {
		if e := c.s.validateEndpoint(c.r.Context(), lifecycleURL); e != nil {
			c.fail(e)
			return
		}
	}
	if e := c.s.announceToHub(c.r.Context(), *req.NotificationURL); e != nil {
		c.fail(e)
		return
	}
	creator := c.principal.UserID
	if !c.principal.Delegated {
		creator = c.principal.AppID
	}
	sub := &Subscription{
		ID: uuid.NewString(), Resource: *req.Resource, ChangeType: changeTypes, NotificationURL: *req.NotificationURL,
		LifecycleNotificationURL: lifecycleURL, ClientState: clientState, Expiration: expiry,
		ApplicationID: c.principal.AppID, CreatorID: creator, LatestSupportedTLSVersion: tlsVersion,
		IncludeResourceData: rich, EncryptionCertificate: certificate, EncryptionCertificateID: certificateID, Select: selectList,
		UserID: user.ID, FolderID: folderID, Scope: scope, Created: c.s.cfg.Now(),
	}
	c.s.mu.Lock()
	c.s.subscriptions[sub.ID] = sub
	c.s.mu.Unlock()
	c.s.log.Info("subscription created", "subscriptionId", sub.ID, "resource", sub.Resource, "expiration", sub.Expiration)
	c.reply(http.StatusCreated, c.subscriptionObject(sub, true, true))
}

// normalizeChangeType checks a comma list of created, updated and deleted.
func normalizeChangeType(value string) (string, *graphError) {
	var out []string
	seen := map[string]bool{}
	for _, t := range strings.Split(value, ",") {
		t = strings.TrimSpace(t)
		switch t {
		case "created", "updated", "deleted":
		default:
			return "", errInvalidRequest("'%s' is not a valid changeType: use a comma-separated list of created, updated and deleted.", t)
		}
		if seen[t] {
			return "", errInvalidRequest("changeType lists '%s' twice.", t)
		}
		seen[t] = true
		out = append(out, t)
	}
	return strings.Join(out, ","), nil
}

func (c *call) subscriptionObject(sub *Subscription, withClientState, withContext bool) object {
	var clientState any
	if withClientState && sub.ClientState != "" {
		clientState = sub.ClientState
	}
	var lifecycle any
	if sub.LifecycleNotificationURL != "" {
		lifecycle = sub.LifecycleNotificationURL
	}
	body := object{}
	if withContext {
		body = append(body, field{"@odata.context", c.baseURL() + "/$metadata#subscriptions/$entity"})
	}
	return append(body,
		field{"id", sub.ID},
		field{"resource", sub.Resource},
		field{"applicationId", sub.ApplicationID},
		field{"changeType", sub.ChangeType},
		field{"clientState", clientState},
		field{"notificationUrl", sub.NotificationURL},
		field{"notificationQueryOptions", nil},
		field{"lifecycleNotificationUrl", lifecycle},
		field{"expirationDateTime", subscriptionTime(sub.Expiration)},
		field{"creatorId", sub.CreatorID},
		field{"includeResourceData", sub.IncludeResourceData},
		field{"latestSupportedTlsVersion", sub.LatestSupportedTLSVersion},
		field{"encryptionCertificate", nullIfEmpty(sub.EncryptionCertificate)},
		field{"encryptionCertificateId", nullIfEmpty(sub.EncryptionCertificateID)},
		field{"notificationUrlAppId", nil},
	)
}

func (c *call) listSubscriptions() {
	query := c.r.URL.Query()
	offset := 0
	if token := query.Get("$skiptoken"); token != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(token, "s"))
		if err != nil || n < 0 {
			c.fail(errBadRequest("Invalid $skiptoken: start again from /subscriptions."))
			return
		}
		offset = n
	}
	pageSize := c.s.cfg.SubscriptionPageSize
	if pageSize <= 0 {
		pageSize = 100
	}
	now := c.s.cfg.Now()
	c.s.mu.Lock()
	var mine []*Subscription
	for _, sub := range c.s.subscriptions {
		if c.owns(sub) && now.Before(sub.Expiration) {
			copied := *sub
			mine = append(mine, &copied)
		}
	}
	c.s.mu.Unlock()
	sort.Slice(mine, func(i, j int) bool {
		if !mine[i].Created.Equal(mine[j].Created) {
			return mine[i].Created.Before(mine[j].Created)
		}
		return mine[i].ID < mine[j].ID
	})
	values := []object{}
	for i := offset; i < len(mine) && i < offset+pageSize; i++ {
		values = append(values, c.subscriptionObject(mine[i], false, false))
	}
	body := object{{"@odata.context", c.baseURL() + "/$metadata#subscriptions"}, {"value", values}}
	if offset+pageSize < len(mine) {
		body = append(body, field{"@odata.nextLink", c.baseURL() + "/subscriptions?$skiptoken=s" + strconv.Itoa(offset+pageSize)})
	}
	c.reply(http.StatusOK, body)
}

func (c *call) renewSubscription(sub *Subscription) {
	var raw map[string]json.RawMessage
	if e := readJSON(c.r, &raw); e != nil {
		c.fail(e)
		return
	}
	var expiryText string
	for name, value := range raw {
		switch {
		case name == "expirationDateTime":
			if err := json.Unmarshal(value, &expiryText); err != nil {
				c.fail(errBadRequest("Invalid value for property 'expirationDateTime' in the JSON request payload."))
				return
			}
		case name == "lifecycleNotificationUrl":
			c.fail(errInvalidRequest("lifecycleNotificationUrl can only be set when the subscription is created: delete the subscription and create a new one."))
			return
		case strings.HasPrefix(name, "@odata."):
		case subscriptionProperties[name]:
			c.fail(errInvalidRequest("The property '%s' cannot be updated: a renewal changes only expirationDateTime.", name))
			return
		default:
			c.fail(errBadRequest("The property '%s' does not exist on type 'microsoft.graph.subscription'. Make sure to only use property names that are defined by the type.", name))
			return
		}
	}
	if expiryText == "" {
		c.fail(errInvalidRequest("expirationDateTime is required to renew a subscription."))
		return
	}
	expiry, e := c.s.checkExpiration(expiryText, "Update", resourceKind(sub.Resource), sub.IncludeResourceData)
	if e != nil {
		c.fail(e)
		return
	}
	if !c.maySubscribe(sub.UserID, sub.Scope) {
		c.fail(extensionError(http.StatusForbidden, "Update", "Forbidden", "Access denied"))
		return
	}
	c.s.mu.Lock()
	live := c.s.subscriptions[sub.ID]
	if live == nil {
		c.s.mu.Unlock()
		c.fail(errSubscriptionNotFound(sub.ID))
		return
	}
	if live.ReauthorizationRequired && !c.s.cfg.RenewReauthorizes {
		c.s.mu.Unlock()
		c.fail(extensionError(http.StatusForbidden, "Update", "Forbidden", "The subscription needs reauthorization: call POST /subscriptions/{id}/reauthorize, then renew"))
		return
	}
	live.Expiration = expiry
	live.ReauthorizationRequired = false
	renewed := *live
	c.s.mu.Unlock()
	c.reply(http.StatusOK, c.subscriptionObject(&renewed, false, true))
}

// validationToken returns an opaque token holding characters that must be
// URL-encoded (space, ':', '+', '/'), so that receivers which echo the raw
// query, or decode '+' wrongly, fail here rather than against Microsoft.
func validationToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("Validation: Testing client application reachability for subscription Request-Id: %s nonce+/%s", uuid.NewString(), base64.StdEncoding.EncodeToString(b))
}

// validateEndpoint runs the validation handshake against one URL.
func (s *Server) validateEndpoint(ctx context.Context, endpoint string) *graphError {
	if isEventHubURL(endpoint) {
		return s.checkEventHubURL(endpoint) // Graph sends no validation request to a hub
	}
	token := validationToken()
	separator := "?"
	if strings.Contains(endpoint, "?") {
		separator = "&"
	}
	target := endpoint + separator + "validationToken=" + url.QueryEscape(token)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ValidationTimeout)
	defer cancel()
	started := time.Now()
	record := func(status int, problem string) {
		s.delivery.record(Attempt{Kind: "validation", URL: redactURL(endpoint), Attempt: 1, Status: status, Error: problem, Duration: time.Since(started)})
	}
	failed := func(status int, detail string) *graphError {
		record(status, detail)
		s.log.Info("subscription validation failed", "url", redactURL(endpoint), "reason", detail)
		return errInvalidRequest("Subscription validation request failed. %s", detail)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
	if err != nil {
		return failed(0, "The notification URL could not be used: "+err.Error())
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := s.cfg.DeliveryClient.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) {
			record(0, "timed out")
			return errInvalidRequest("Subscription validation request timed out.")
		}
		return failed(0, "Notification endpoint must respond with 200 OK to validation request. The request failed: "+transportError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) {
			record(resp.StatusCode, "timed out")
			return errInvalidRequest("Subscription validation request timed out.")
		}
		return failed(resp.StatusCode, "Reading the response failed: "+transportError(err))
	}
	if resp.StatusCode != http.StatusOK {
		return failed(resp.StatusCode, fmt.Sprintf("Notification endpoint must respond with 200 OK to validation request (it answered %d).", resp.StatusCode))
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType != "text/plain" {
		return failed(resp.StatusCode, fmt.Sprintf("Response must have Content-Type text/plain (it was %q).", resp.Header.Get("Content-Type")))
	}
	if string(body) != token {
		return failed(resp.StatusCode, "Response must exactly match validationToken query parameter (decoded, not URL-encoded).")
	}
	record(resp.StatusCode, "")
	return nil
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// transportError describes a failed request without repeating its URL (whose
// query string may hold a secret).
func transportError(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err.Error()
	}
	return err.Error()
}

// redactURL drops the query string, which may carry a secret, for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.User = nil
	return u.String()
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
