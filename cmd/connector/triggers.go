package connector

import (
	"context"
	"fmt"

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
	return writeTriggersPretty(o.IO, triggers)
}

// writeTriggersPretty prints each trigger as a block; a long value (the
// hint) wraps between words under its column.
func writeTriggersPretty(ios *iostreams.IOStreams, triggers []*connector.Trigger) error {
	w, cs, width := ios.Out, ios.OutScheme(), ios.TerminalWidth()
	row := func(label, value string) {
		fmt.Fprintln(w, iostreams.WrapField(fmt.Sprintf("  %-21s ", label), value, width))
	}
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
		fmt.Fprintln(w, iostreams.Wrap(fmt.Sprintf("%s  %s %s  (%s)", cs.Bold(t.OperationID), t.Method, t.Path, t.Kind), width, "  "))
		row("callback field:", callback)
		row("notification schema:", string(t.NotificationSchema))
		row("unregistered by:", deleteID)
		if t.Hint != "" {
			row("hint:", t.Hint)
		}
	}
	return nil
}
