package graphsim

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

// call is one Graph request being answered.
type call struct {
	s         *Server
	w         http.ResponseWriter
	r         *http.Request
	ids       requestIDs
	principal *tenant.Principal
}

func (c *call) fail(e *graphError) { writeError(c.w, c.ids, c.s.cfg.Now(), e) }

func (c *call) reply(status int, body any) { writeJSON(c.w, status, body) }

func (c *call) noContent(status int) {
	c.w.WriteHeader(status)
}

// baseURL is the scheme and host the caller used, plus /v1.0.
func (c *call) baseURL() string {
	scheme := "https"
	if c.r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + c.r.Host + "/v1.0"
}

func (s *Server) graphRoutes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{s: s, w: w, r: r, ids: newRequestIDs(r)}
		c.ids.set(w.Header())
		if !c.injectFaults() {
			return
		}
		path, ok := strings.CutPrefix(r.URL.Path, "/v1.0/")
		if !ok {
			c.fail(errorf(http.StatusNotFound, "BadRequest", "Invalid version: use /v1.0/."))
			return
		}
		if e := c.authenticate(); e != nil {
			c.fail(e)
			return
		}
		segments := splitSegments(path)
		if len(segments) == 0 {
			c.fail(errBadRequest("Invalid request: no resource named."))
			return
		}
		switch {
		case strings.EqualFold(segments[0], "$batch") && len(segments) == 1:
			c.batch()
		case strings.EqualFold(segments[0], "subscriptions"):
			c.subscriptions(segments[1:])
		case strings.EqualFold(segments[0], "me"):
			if !c.principal.Delegated {
				c.fail(errMeNeedsDelegated())
				return
			}
			user, _ := s.cfg.Tenant.UserByIDOrUPN(c.principal.UserID)
			if user.ID == "" {
				c.fail(errorf(http.StatusNotFound, "ErrorInvalidUser", "The requested user '%s' is invalid.", c.principal.UPN))
				return
			}
			c.user(user, segments[1:])
		case c.tenantItems(segments):
		case strings.EqualFold(segments[0], "users"):
			if len(segments) == 1 {
				c.listUsers()
				return
			}
			user, found := s.cfg.Tenant.UserByIDOrUPN(segments[1])
			if !found {
				c.fail(errorf(http.StatusNotFound, "ErrorInvalidUser", "The requested user '%s' is invalid.", segments[1]))
				return
			}
			c.user(user, segments[2:])
		default:
			c.fail(errNoSegment(segments[0]))
		}
	})
}

// splitSegments splits a path into segments, turning key syntax such as
// mailFolders('Inbox') or users('id') into two segments.
func splitSegments(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if seg == "" {
			continue
		}
		if open := strings.IndexByte(seg, '('); open > 0 && strings.HasSuffix(seg, ")") {
			key := strings.Trim(seg[open+1:len(seg)-1], "'")
			out = append(out, seg[:open], key)
			continue
		}
		out = append(out, seg)
	}
	return out
}

// injectFaults applies the configured latency and throttling; false means answered.
func (c *call) injectFaults() bool {
	faults := c.s.CurrentFaults()
	if faults.Latency > 0 {
		select {
		case <-time.After(time.Duration(faults.Latency)):
		case <-c.r.Context().Done():
			return false
		}
	}
	if !c.s.chance(faults.ThrottleRate) {
		return true
	}
	seconds := int((time.Duration(faults.RetryAfter) + time.Second - 1) / time.Second)
	c.w.Header().Set("Retry-After", strconv.Itoa(seconds))
	switch faults.ThrottleStatus {
	case http.StatusServiceUnavailable:
		c.fail(errorf(http.StatusServiceUnavailable, "serviceNotAvailable", "The service is temporarily unavailable. Please retry after %d seconds.", seconds))
	case http.StatusGatewayTimeout:
		c.fail(errorf(http.StatusGatewayTimeout, "gatewayTimeout", "The gateway timed out. Please retry after %d seconds.", seconds))
	default:
		c.fail(errorf(faults.ThrottleStatus, "TooManyRequests", "Please retry again later."))
	}
	return false
}

// authenticate verifies the bearer token; Graph answers 401 for every failure.
func (c *call) authenticate() *graphError {
	header := c.r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if header == "" || token == "" {
		return errorf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return errorf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure: the Authorization header must use the Bearer scheme.")
	}
	principal, err := c.s.cfg.Auth.Authenticate(token)
	if err != nil {
		return errorf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. %s", err.Error())
	}
	if principal.TenantID != "" && !strings.EqualFold(principal.TenantID, c.s.cfg.Tenant.ID) {
		return errorf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. The token was issued for another tenant.")
	}
	c.principal = principal
	return nil
}

// canActFor reports whether a delegated caller is the user; app tokens act for anyone.
func (c *call) canActFor(user tenant.User) bool {
	return !c.principal.Delegated || strings.EqualFold(c.principal.UserID, user.ID)
}

// user routes /me/... and /users/{id}/...
func (c *call) user(user tenant.User, rest []string) {
	if len(rest) == 0 {
		c.getUser(user)
		return
	}
	if c.userItems(user, rest) {
		return
	}
	box := c.s.mailbox(user.ID)
	if box == nil {
		c.fail(errorf(http.StatusNotFound, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise."))
		return
	}
	first := rest[0]
	switch {
	case strings.EqualFold(first, "sendMail") && len(rest) == 1:
		if c.r.Method != http.MethodPost {
			c.fail(errMethodNotAllowed())
			return
		}
		c.sendMail(user)
	case strings.EqualFold(first, "messages"):
		c.messages(user, box, nil, rest[1:])
	case strings.EqualFold(first, "mailFolders"):
		if len(rest) == 1 {
			c.listFolders(user, box)
			return
		}
		folder := box.folder(rest[1])
		if folder == nil {
			if !c.mayRead(user) {
				return
			}
			c.fail(errorf(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store."))
			return
		}
		if len(rest) == 2 {
			c.getFolder(user, box, folder)
			return
		}
		if !strings.EqualFold(rest[2], "messages") {
			c.fail(errNoSegment(rest[2]))
			return
		}
		c.messages(user, box, folder, rest[3:])
	default:
		c.fail(errNoSegment(first))
	}
}

// mayRead checks Mail.Read (or Mail.ReadWrite) on the user's mailbox, answering when not.
func (c *call) mayRead(user tenant.User) bool {
	if c.canActFor(user) && c.principal.Has("Mail.Read", "Mail.ReadWrite") {
		return true
	}
	c.fail(errAccessDenied())
	return false
}

// mayWrite checks Mail.ReadWrite on the user's mailbox, answering when not.
func (c *call) mayWrite(user tenant.User) bool {
	if c.canActFor(user) && c.principal.Has("Mail.ReadWrite") {
		return true
	}
	c.fail(errAccessDenied())
	return false
}

func (c *call) getUser(user tenant.User) {
	if c.r.Method != http.MethodGet {
		c.fail(errMethodNotAllowed())
		return
	}
	allowed := c.principal.Has("User.Read.All", "User.ReadBasic.All", "Directory.Read.All") ||
		(c.principal.Delegated && c.canActFor(user) && c.principal.Has("User.Read"))
	if !allowed {
		c.fail(errorf(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
		return
	}
	body, live := c.s.userView(user)
	if !live {
		c.fail(errorf(http.StatusNotFound, "Request_ResourceNotFound", "Resource '%s' does not exist or one of its queried reference-property objects are not present.", user.ID))
		return
	}
	body = append(object{{"@odata.context", c.baseURL() + "/$metadata#users/$entity"}}, body...)
	c.reply(http.StatusOK, body)
}

func (c *call) listUsers() {
	if c.r.Method != http.MethodGet {
		c.fail(errMethodNotAllowed())
		return
	}
	if !c.principal.Has("User.Read.All", "User.ReadBasic.All", "Directory.Read.All") {
		c.fail(errorf(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
		return
	}
	values := []object{}
	for _, u := range c.s.cfg.Tenant.Users {
		if view, live := c.s.userView(u); live {
			values = append(values, view)
		}
	}
	c.reply(http.StatusOK, object{{"@odata.context", c.baseURL() + "/$metadata#users"}, {"value", values}})
}

// userView is a user as Graph shows it: the tenant's user with the changes
// made since (through the control API's items or PATCH), or false once the
// user was deleted.
func (s *Server) userView(u tenant.User) (object, bool) {
	view := userObject(u)
	s.mu.Lock()
	defer s.mu.Unlock()
	item := s.items["users/"+u.ID]
	if item == nil {
		return view, true
	}
	if item.Deleted {
		return nil, false
	}
	names := make([]string, 0, len(item.Fields))
	for name := range item.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		replaced := false
		for i := range view {
			if view[i].Name == name {
				view[i].Value, replaced = item.Fields[name], true
			}
		}
		if !replaced && name != "id" {
			view = append(view, field{name, item.Fields[name]})
		}
	}
	return view, true
}

func userObject(u tenant.User) object {
	mail := u.Mail
	if mail == "" {
		mail = u.UserPrincipalName
	}
	return object{
		{"id", u.ID},
		{"displayName", u.DisplayName},
		{"mail", mail},
		{"userPrincipalName", u.UserPrincipalName},
	}
}

// queryOptions are the OData options a list call understands.
type queryOptions struct {
	top, skip  int
	selectList []string
	ascending  bool
}

// parseQuery reads $top, $skip, $select and $orderby, refusing options the emulator lacks.
func parseQuery(values url.Values, defaultTop int, allowed ...string) (queryOptions, *graphError) {
	opts := queryOptions{top: defaultTop}
	for key, vals := range values {
		value := vals[len(vals)-1]
		switch strings.ToLower(key) {
		case "$top":
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 || n > 1000 {
				return opts, errBadRequest("Invalid value '%s' for $top: use an integer from 1 to 1000.", value)
			}
			opts.top = n
		case "$skip":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return opts, errBadRequest("Invalid value '%s' for $skip: use a non-negative integer.", value)
			}
			opts.skip = n
		case "$select":
			for _, name := range strings.Split(value, ",") {
				if name = strings.TrimSpace(name); name != "" {
					opts.selectList = append(opts.selectList, name)
				}
			}
		case "$orderby":
			switch strings.ToLower(strings.Join(strings.Fields(value), " ")) {
			case "receiveddatetime desc", "":
			case "receiveddatetime", "receiveddatetime asc":
				opts.ascending = true
			default:
				return opts, errBadRequest("The $orderby '%s' is not supported by the hookctl emulator: use receivedDateTime asc or desc.", value)
			}
		default:
			if isAllowed(key, allowed) {
				continue
			}
			if strings.HasPrefix(key, "$") {
				return opts, errBadRequest("The query option '%s' is not supported by the hookctl emulator.", key)
			}
		}
	}
	return opts, nil
}

func isAllowed(key string, allowed []string) bool {
	for _, a := range allowed {
		if strings.EqualFold(a, key) {
			return true
		}
	}
	return false
}
