package connector

import (
	"context"
	"fmt"
	"io"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/connector"
)

// TriggersOptions are every input of `hookctl connector triggers`.
type TriggersOptions struct {
	IO   *iostreams.IOStreams
	JSON func() bool
	File string
}

// NewCmdTriggers builds `hookctl connector triggers`; runF replaces triggersRun in tests.
func NewCmdTriggers(f *factory.Factory, runF func(*TriggersOptions) error) *cobra.Command {
	opts := &TriggersOptions{IO: f.IOStreams, JSON: f.JSON}
	return &cobra.Command{
		Use:   "triggers <apiDefinition.swagger.json>",
		Short: "List a connector definition's webhook triggers",
		Long: heredoc.Doc(`
			List every webhook trigger (an operation with x-ms-trigger): its method and
			path, the JSON pointer of the callback-URL field inside its body, whether
			its notification schema is static, dynamic or missing, and the DELETE
			operation most likely to unregister it (one below the registration path
			first, then an internal one).
		`),
		Example: heredoc.Doc(`
			  $ hookctl connector triggers apiDefinition.swagger.json
			  $ hookctl connector triggers apiDefinition.swagger.json -o json | jq -r .operationId
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return triggersRun(cmd.Context(), opts)
		},
	}
}

func triggersRun(_ context.Context, o *TriggersOptions) error {
	def, _, err := loadDefinition(o.File)
	if err != nil {
		return err
	}
	triggers := def.Triggers()
	if o.JSON() {
		for _, t := range triggers {
			if err := iostreams.WriteJSONLine(o.IO.Out, "trigger", t); err != nil {
				return err
			}
		}
		return nil
	}
	return writeTriggersPretty(o.IO.Out, o.IO.OutScheme(), triggers)
}

func writeTriggersPretty(w io.Writer, cs *iostreams.ColorScheme, triggers []*connector.Trigger) error {
	if len(triggers) == 0 {
		_, err := fmt.Fprintln(w, "no webhook triggers (no operation carries x-ms-trigger)")
		return err
	}
	for _, t := range triggers {
		deleteID := cs.Red("none")
		if t.DeleteOperationID != nil {
			deleteID = *t.DeleteOperationID
		}
		callback := t.CallbackField
		if callback == "" {
			callback = cs.Red("none")
		}
		fmt.Fprintf(w, "%s  %s %s  (%s)\n", cs.Bold(t.OperationID), t.Method, t.Path, t.Kind)
		fmt.Fprintf(w, "  callback field:       %s\n", callback)
		fmt.Fprintf(w, "  notification schema:  %s\n", t.NotificationSchema)
		fmt.Fprintf(w, "  unregistered by:      %s\n", deleteID)
		if t.Hint != "" {
			fmt.Fprintf(w, "  hint:                 %s\n", t.Hint)
		}
	}
	return nil
}
