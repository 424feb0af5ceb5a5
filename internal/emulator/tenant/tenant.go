// Package tenant describes the emulated Microsoft Entra tenant: its users, its
// applications, and who a verified access token speaks for.
package tenant

import "strings"

// User is a mailbox-enabled user of the tenant.
type User struct {
	ID                string `json:"id" yaml:"id"`
	UserPrincipalName string `json:"userPrincipalName" yaml:"userPrincipalName"`
	DisplayName       string `json:"displayName" yaml:"displayName"`
	Mail              string `json:"mail,omitempty" yaml:"mail"`
}

// App is an application registration.
type App struct {
	ClientID    string `json:"clientId" yaml:"clientId"`
	DisplayName string `json:"displayName" yaml:"displayName"`
	// Public apps sign people in (device code, auth code + PKCE); confidential apps
	// also hold a secret and/or a certificate for the client-credentials grant.
	Public bool   `json:"public" yaml:"public"`
	Secret string `json:"clientSecret,omitempty" yaml:"clientSecret"`
	// CertificatePEM is the app's public certificate (PEM), for client assertions.
	CertificatePEM string `json:"-" yaml:"certificatePem"`
	// DelegatedConsent lists the delegated scopes users have consented to (e.g. Mail.Read).
	DelegatedConsent []string `json:"delegatedConsent" yaml:"delegatedConsent"`
	// AppRoles lists the application permissions an admin granted (e.g. Mail.Read).
	AppRoles []string `json:"appRoles" yaml:"appRoles"`
	// RedirectURIs are the registered reply URLs for the authorization-code flow.
	// Empty means http://localhost and http://127.0.0.1 (any port, as Entra
	// treats loopback redirect URIs of native apps).
	RedirectURIs []string `json:"redirectUris,omitempty" yaml:"redirectUris"`
}

// Tenant is the directory the emulator serves.
type Tenant struct {
	ID     string `json:"tenantId" yaml:"tenantId"`
	Domain string `json:"domain" yaml:"domain"`
	Users  []User `json:"users" yaml:"users"`
	Apps   []App  `json:"apps" yaml:"apps"`
}

// Seed IDs are fixed so docs, tests and demos can name them.
const (
	DefaultTenantID             = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	DefaultDomain               = "contoso.example"
	DefaultPublicClientID       = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
	DefaultConfidentialClientID = "1950a258-227b-4e31-a9cf-717495945fc2"
)

// Default returns the seeded tenant: two users, one public and one confidential app.
// The confidential app's secret and certificate are filled in by the emulator at start.
func Default() *Tenant {
	return &Tenant{
		ID:     DefaultTenantID,
		Domain: DefaultDomain,
		Users: []User{
			{ID: "87d349ed-44d7-43e1-9a83-5f2406dee5bd", UserPrincipalName: "adele@" + DefaultDomain, DisplayName: "Adele Vance", Mail: "adele@" + DefaultDomain},
			{ID: "5bde3e51-d13b-4db1-9948-fe4b109d11a7", UserPrincipalName: "megan@" + DefaultDomain, DisplayName: "Megan Bowen", Mail: "megan@" + DefaultDomain},
		},
		Apps: []App{
			{ClientID: DefaultPublicClientID, DisplayName: "hookctl (emulated public client)", Public: true,
				DelegatedConsent: []string{"openid", "profile", "offline_access", "User.Read", "Mail.Read", "Mail.ReadWrite", "Mail.Send",
					"Calendars.ReadWrite", "Contacts.ReadWrite", "Files.ReadWrite", "ChannelMessage.Read.All", "ChannelMessage.Send",
					"Chat.ReadWrite", "ChatMessage.Send", "User.Read.All", "Group.Read.All"}},
			{ClientID: DefaultConfidentialClientID, DisplayName: "hookctl CI (emulated confidential client)",
				AppRoles: []string{"Mail.Read", "Mail.ReadWrite", "Mail.Send", "Calendars.ReadWrite", "Contacts.ReadWrite",
					"Files.ReadWrite.All", "ChannelMessage.Read.All", "Chat.Read.All", "User.Read.All", "Group.Read.All"}},
		},
	}
}

// UserByIDOrUPN finds a user by object id or user principal name (case-insensitive).
func (t *Tenant) UserByIDOrUPN(s string) (User, bool) {
	for _, u := range t.Users {
		if strings.EqualFold(u.ID, s) || strings.EqualFold(u.UserPrincipalName, s) || (u.Mail != "" && strings.EqualFold(u.Mail, s)) {
			return u, true
		}
	}
	return User{}, false
}

// App finds an application by client id.
func (t *Tenant) App(clientID string) (App, bool) {
	for _, a := range t.Apps {
		if strings.EqualFold(a.ClientID, clientID) {
			return a, true
		}
	}
	return App{}, false
}

// Principal is who a verified access token speaks for.
type Principal struct {
	TenantID string
	AppID    string // the client id the token was issued to
	// Delegated tokens act for a user (UserID set, Scopes from `scp`); app-only
	// tokens carry Roles and no user.
	Delegated bool
	UserID    string
	UPN       string
	Scopes    []string
	Roles     []string
}

// Has reports whether the principal holds any of the permissions: as a scope for
// delegated tokens, as a role for app-only tokens.
func (p *Principal) Has(permissions ...string) bool {
	held := p.Roles
	if p.Delegated {
		held = p.Scopes
	}
	for _, want := range permissions {
		for _, h := range held {
			if strings.EqualFold(h, want) {
				return true
			}
		}
	}
	return false
}

// Authenticator verifies a bearer token issued by the emulated identity platform.
// The error's text is safe to show (it never contains the token).
type Authenticator interface {
	Authenticate(bearerToken string) (*Principal, error)
}
