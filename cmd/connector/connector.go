// Package connector implements `hookctl connector`: Power Automate custom
// connectors with webhook triggers, checked offline and tested against the
// developer's running API.
package connector

import (
	"fmt"
	"os"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/pkg/connector"
)

// NewCmdConnector is the parent of the connector subcommands.
func NewCmdConnector(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connector <command>",
		Short: "Check and test Power Automate custom connectors with webhook triggers",
		Long: heredoc.Doc(`
			Work on a Power Automate (or Logic Apps) custom connector whose webhook
			triggers register a callback URL with your API: check its
			apiDefinition.swagger.json as Microsoft's validator would (lint), list its
			triggers, stand in for the platform against your running API (test), or
			post a sample notification to a real flow (fire).
		`),
		Example: heredoc.Doc(`
			  $ hookctl connector lint apiDefinition.swagger.json --properties apiProperties.json
			  $ hookctl connector triggers apiDefinition.swagger.json
			  $ hookctl connector test apiDefinition.swagger.json --trigger WebhookTrigger --base-url http://127.0.0.1:8080 --param owner=octo --param repo=demo
			  $ hookctl connector fire "$FLOW_URL" --definition apiDefinition.swagger.json --trigger WebhookTrigger
		`),
	}
	cmd.AddCommand(NewCmdLint(f, nil), NewCmdTriggers(f, nil), NewCmdTest(f, nil), NewCmdFire(f, nil))
	return cmd
}

// loadDefinition reads and parses a definition; a file that cannot be read
// or is not Swagger 2.0 is exit code 1.
func loadDefinition(path string) (*connector.Definition, []connector.Finding, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, exitcode.New(exitcode.Error, fmt.Errorf("reading the connector definition: %w", err))
	}
	def, warnings, err := connector.Load(data)
	if err != nil {
		return nil, nil, exitcode.New(exitcode.Error, fmt.Errorf("%s: %w", path, err))
	}
	return def, warnings, nil
}
