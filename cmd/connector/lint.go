package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/connector"
)

// LintOptions are every input of `hookctl connector lint`.
type LintOptions struct {
	IO         *iostreams.IOStreams
	JSON       func() bool
	File       string
	Properties string
}

// NewCmdLint builds `hookctl connector lint`; runF replaces lintRun in tests.
func NewCmdLint(f *factory.Factory, runF func(*LintOptions) error) *cobra.Command {
	opts := &LintOptions{IO: f.IOStreams, JSON: f.JSON}
	cmd := &cobra.Command{
		Use:   "lint <apiDefinition.swagger.json>",
		Short: "Check a connector definition as Microsoft's validator would",
		Long: heredoc.Doc(`
			Check an apiDefinition.swagger.json offline: strict JSON (trailing commas,
			which the portal tolerates, are warnings), the Swagger 2.0 structure, the
			webhook-trigger rules (x-ms-trigger, x-ms-notification-url,
			x-ms-notification-content, 201 with Location, a DELETE to unregister) and
			the general and certification rules, with Microsoft's rule names where
			they exist. --properties also checks apiProperties.json.

			Each finding names its rule, its severity and a JSON pointer into the
			file; docs/power-automate.md explains every rule. Exit code 0 when there
			is no error-level finding, 4 when there is, 1 when the file cannot be
			read or is not Swagger 2.0.
		`),
		Example: heredoc.Doc(`
			  $ hookctl connector lint apiDefinition.swagger.json
			  $ hookctl connector lint apiDefinition.swagger.json --properties apiProperties.json
			  # Only the errors, with jq
			  $ hookctl connector lint apiDefinition.swagger.json -o json | jq 'select(.severity == "error")'
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return lintRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Properties, "properties", "", "also check this apiProperties.json")
	return cmd
}

// fileFindings are the findings of one file.
type fileFindings struct {
	file     string
	findings []connector.Finding
}

func lintRun(ctx context.Context, o *LintOptions) error {
	def, findings, err := loadDefinition(o.File)
	if err != nil {
		return err
	}
	files := []fileFindings{{file: o.File, findings: append(findings, connector.Lint(ctx, def)...)}}
	if o.Properties != "" {
		data, err := os.ReadFile(o.Properties)
		if err != nil {
			return fmt.Errorf("reading the connector properties: %w", err)
		}
		properties, err := connector.LintProperties(data)
		var loadErr *connector.LoadError
		if errors.As(err, &loadErr) {
			return fmt.Errorf("%s: %w", o.Properties, err)
		}
		files = append(files, fileFindings{file: o.Properties, findings: properties})
	}

	var all []connector.Finding
	for _, f := range files {
		all = append(all, f.findings...)
	}
	if o.JSON() {
		err = writeLintJSON(o.IO.Out, all)
	} else {
		err = writeLintPretty(o.IO, files)
	}
	if err != nil {
		return err
	}
	if errs, _ := summaryCounts(all); errs > 0 {
		return exitcode.New(exitcode.VerifyFailed, exitcode.ErrSilent)
	}
	return nil
}

func writeLintJSON(w io.Writer, findings []connector.Finding) error {
	for _, f := range findings {
		if err := iostreams.WriteJSONLine(w, "finding", f); err != nil {
			return err
		}
	}
	errs, warnings := summaryCounts(findings)
	return iostreams.WriteJSONLine(w, "summary", struct {
		Errors   int `json:"errors"`
		Warnings int `json:"warnings"`
	}{errs, warnings})
}

// writeLintPretty groups each file's findings under the operation or
// member they point into, in the order they were found; a long message
// wraps between words onto an indented line.
func writeLintPretty(ios *iostreams.IOStreams, files []fileFindings) error {
	w, cs, width := ios.Out, ios.OutScheme(), ios.TerminalWidth()
	var all []connector.Finding
	for _, file := range files {
		all = append(all, file.findings...)
		if len(file.findings) == 0 {
			continue
		}
		fmt.Fprintln(w, cs.Bold(filepath.Base(file.file)))
		var groups []string
		byGroup := map[string][]connector.Finding{}
		for _, f := range file.findings {
			g := group(f.Pointer)
			if _, seen := byGroup[g]; !seen {
				groups = append(groups, g)
			}
			byGroup[g] = append(byGroup[g], f)
		}
		for _, g := range groups {
			fmt.Fprintf(w, "  %s\n", cs.Cyan(g))
			for _, f := range byGroup[g] {
				fmt.Fprintln(w, iostreams.Wrap("    "+findingLine(cs, f), width, "  "))
				if f.Pointer != g && f.Pointer != "" {
					fmt.Fprintf(w, "      %s\n", cs.Gray("at "+f.Pointer))
				}
			}
		}
		fmt.Fprintln(w)
	}
	errs, warnings := summaryCounts(all)
	var err error
	switch {
	case errs == 0 && warnings == 0:
		_, err = fmt.Fprintf(w, "%s no problems found\n", cs.SuccessIcon())
	case errs == 0:
		_, err = fmt.Fprintf(w, "%s %s, no errors\n", cs.SuccessIcon(), plural(warnings, "warning"))
	default:
		_, err = fmt.Fprintf(w, "%s %s, %s\n", cs.FailureIcon(), plural(errs, "error"), plural(warnings, "warning"))
	}
	return err
}
