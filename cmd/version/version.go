// Package version implements `hookctl version`.
package version

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/factory"
)

// NewCmdVersion prints the build's version.
func NewCmdVersion(f *factory.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print hookctl's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.JSON() {
				_, err := fmt.Fprintf(f.IOStreams.Out, "{\"version\":%q,\"go\":%q,\"platform\":\"%s/%s\"}\n", f.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return err
			}
			_, err := fmt.Fprintf(f.IOStreams.Out, "hookctl %s (%s, %s/%s)\n", f.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
