package listen

// hookctl listen and rich notifications: --include-resource-data makes the
// run's subscriptions rich (with the profile's own encryption key pair),
// every rich item is decrypted with hookctl's keys and --decryption-key,
// and validation tokens are checked against the profile's authority.

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/enccert"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// RichOptions are the inputs of rich notifications.
type RichOptions struct {
	IncludeResourceData bool
	RequireValidTokens  bool
	// DecryptionKeys are PEM files (certificate and private key) to decrypt
	// with, besides hookctl's own key pairs.
	DecryptionKeys []string

	HTTPClient func() (*http.Client, error)
}

func addRichFlags(cmd *cobra.Command, f *factory.Factory, opts *Options) {
	r := &opts.RichOptions
	r.HTTPClient = f.HTTPClient
	fl := cmd.Flags()
	fl.BoolVar(&r.IncludeResourceData, "include-resource-data", false, "with --subscribe: rich notifications, encrypted with the profile's own key pair and shown decrypted")
	fl.BoolVar(&r.RequireValidTokens, "require-valid-tokens", false, "drop rich notifications whose validationTokens fail a check (needs a sign-in)")
	fl.StringArrayVar(&r.DecryptionKeys, "decryption-key", nil, "PEM `FILE` with a certificate and its private key to decrypt rich notifications with (repeatable)")
}

// richConfig fills in the decryptor and, for --include-resource-data, the
// subscriptions' certificate.
func (opts *Options) richConfig(cfg *listener.Config) error {
	r := &opts.RichOptions
	if r.IncludeResourceData && cfg.Subscribe == nil {
		return exitcode.Usagef("--include-resource-data only applies with --subscribe")
	}
	var files []enccert.KeyFile
	for _, path := range r.DecryptionKeys {
		files = append(files, enccert.KeyFile{Path: path})
	}
	decryptor, skipped, err := enccert.NewDecryptor(opts.StateDir, files)
	if err != nil {
		return exitcode.Usagef("--decryption-key: %v", err)
	}
	if skipped != nil {
		opts.Logger.Debug("an encryption key pair of hookctl's could not be read", "error", skipped)
	}
	cfg.Decryptor = decryptor
	if cfg.Subscribe != nil {
		// The resource table's rules (the run always supplies a lifecycle URL).
		for _, resource := range cfg.Subscribe.Resources {
			if err := ruleError(graph.CheckSubscription(graph.SubscriptionRequest{Resource: resource, ChangeTypes: cfg.Subscribe.ChangeTypes,
				IncludeResourceData: r.IncludeResourceData, HasEncryptionCert: true, HasLifecycleURL: true})); err != nil {
				return err
			}
		}
	}
	if !r.IncludeResourceData {
		return nil
	}
	pair, created, err := enccert.ForProfile(context.Background(), opts.StateDir, opts.Profile)
	if err != nil {
		return err
	}
	if created {
		opts.Logger.Debug("created an encryption key pair", "certificateId", pair.ID, "path", pair.Path)
	}
	decryptor.Add(pair.ID, pair.Cert, pair.Key)
	cfg.Subscribe.IncludeResourceData = true
	cfg.Subscribe.EncryptionCertificate, cfg.Subscribe.EncryptionCertificateID = pair.Encoded(), pair.ID
	return nil
}

// tokenConfig builds the validation-token checker for the run (it fetches
// the authority's keys, and refreshes them until ctx ends). It is built for
// --include-resource-data and --require-valid-tokens, which need a sign-in.
func (opts *Options) tokenConfig(ctx context.Context, cfg *listener.Config) error {
	r := &opts.RichOptions
	if !r.IncludeResourceData && !r.RequireValidTokens {
		return nil
	}
	if opts.AuthProfile == nil {
		return exitcode.Usagef("--require-valid-tokens needs a sign-in: the tokens must name the profile's application")
	}
	profile, err := opts.AuthProfile()
	if err != nil {
		return err
	}
	client, err := r.HTTPClient()
	if err != nil {
		return err
	}
	validator, err := notification.NewTokenValidator(ctx, notification.TokenValidatorConfig{
		AppID: profile.ClientID, Authority: profile.Authority, HTTPClient: client})
	if err != nil {
		return err
	}
	cfg.Tokens, cfg.RequireValidTokens = validator, r.RequireValidTokens
	return nil
}

// ruleError is a broken resource rule as a usage error.
func ruleError(err error) error {
	if err == nil {
		return nil
	}
	return exitcode.Usagef("%v", err)
}
