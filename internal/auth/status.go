package auth

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/iostreams"
)

// Status describes a signed-in profile and its current access token (never the
// token itself): what `hookctl whoami` and `hookctl login` report.
type Status struct {
	Profile       string    `json:"profile"`
	Kind          Kind      `json:"kind"`
	Account       string    `json:"account,omitempty"`
	HomeAccountID string    `json:"homeAccountId,omitempty"`
	App           string    `json:"app,omitempty"`
	Credential    string    `json:"credential,omitempty"`
	Mailbox       string    `json:"mailbox,omitempty"`
	Tenant        string    `json:"tenant"`
	TenantID      string    `json:"tenantId,omitempty"`
	Authority     string    `json:"authority"`
	ClientID      string    `json:"clientId"`
	Scopes        []string  `json:"scopes"`
	ExpiresOn     time.Time `json:"expiresOn"`
	// TokenStore is where the token cache is: "keyring" or "file" ("" for a
	// profile saved before hookctl used the keyring, which is the file too).
	TokenStore string `json:"tokenStore,omitempty"`
}

// StatusOf describes tok's profile and expiry.
func StatusOf(tok Token) Status {
	p := tok.Profile
	s := Status{Profile: p.Name, Kind: p.Kind, Tenant: p.Tenant, TenantID: p.TenantID, Authority: p.Authority,
		ClientID: p.ClientID, Scopes: silentScopes(tok.Scopes), ExpiresOn: tok.ExpiresOn.UTC(), Mailbox: p.Mailbox(),
		TokenStore: p.TokenStore}
	if len(s.Scopes) == 0 {
		s.Scopes = silentScopes(p.Scopes)
	}
	if p.Kind == KindApp {
		s.App, s.Credential = p.ClientID, p.Credential()
	} else {
		s.Account, s.HomeAccountID = p.Username, p.HomeAccountID
	}
	return s
}

// expiresText is a token's expiry for a person: "11:13:35 (in 59m 12s)", local.
func expiresText(expiry, now time.Time) string {
	left := iostreams.TimeLeft(expiry, now)
	if left == "expired" || left == "unknown" {
		return fmt.Sprintf("%s (%s)", iostreams.Clock(expiry, now), left)
	}
	return fmt.Sprintf("%s (in %s)", iostreams.Clock(expiry, now), left)
}

// WritePretty prints s as aligned "Name: value" lines, a long value (the
// scopes) wrapped between words under its column to fit width.
func (s Status) WritePretty(w io.Writer, now time.Time, width int) error {
	rows := [][2]string{{"Profile", s.Profile}}
	if s.Kind == KindApp {
		rows = append(rows, [2]string{"App", s.App}, [2]string{"Credential", s.Credential})
		mailbox := s.Mailbox
		if mailbox == "" {
			mailbox = "(none: pass --user at login)"
		}
		rows = append(rows, [2]string{"Mailbox", mailbox})
	} else {
		rows = append(rows, [2]string{"Account", s.Account})
	}
	tenant := s.Tenant
	if s.TenantID != "" && !strings.EqualFold(s.TenantID, s.Tenant) {
		tenant = fmt.Sprintf("%s (%s)", s.TenantID, s.Tenant)
	}
	rows = append(rows,
		[2]string{"Tenant", tenant},
		[2]string{"Authority", s.Authority},
		[2]string{"Client ID", s.ClientID},
		[2]string{"Scopes", strings.Join(s.Scopes, " ")},
		[2]string{"Token expires", expiresText(s.ExpiresOn, now)},
	)
	switch s.TokenStore {
	case StoreKeyring:
		rows = append(rows, [2]string{"Token cache", "OS keyring"})
	case StoreFile:
		rows = append(rows, [2]string{"Token cache", "file (not encrypted)"})
	}
	for _, r := range rows {
		if _, err := fmt.Fprintln(w, iostreams.WrapField(fmt.Sprintf("%-14s ", r[0]+":"), r[1], width)); err != nil {
			return err
		}
	}
	return nil
}
