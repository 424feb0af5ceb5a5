// Package version implements `hookctl version`.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// Info is what a build knows about itself; its JSON line has the type "version".
type Info struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"` // VCS commit, when built from a checkout with -buildvcs
	Time     string `json:"time,omitempty"`     // the commit's time (RFC 3339)
	Modified bool   `json:"modified,omitempty"` // built with uncommitted changes
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// Current describes this binary: the version set with -ldflags
// (cmd.Version) when there is one, else the module version `go install
// ...@v1.2.3` records, else "dev"; the VCS revision and time from the build
// information.
func Current(ldflagsVersion string) Info {
	build, _ := debug.ReadBuildInfo()
	return fromBuildInfo(ldflagsVersion, build)
}

func fromBuildInfo(ldflagsVersion string, build *debug.BuildInfo) Info {
	info := Info{Version: ldflagsVersion, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if build == nil {
		return info
	}
	if (info.Version == "" || info.Version == "dev") && build.Main.Version != "" && build.Main.Version != "(devel)" {
		info.Version = build.Main.Version
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	for _, s := range build.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	if build.GoVersion != "" {
		info.Go = build.GoVersion
	}
	return info
}

// String is the one line `hookctl version` prints.
func (i Info) String() string {
	var details []string
	if i.Revision != "" {
		rev := i.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if i.Modified {
			rev += ", modified"
		}
		details = append(details, "commit "+rev)
	}
	if i.Time != "" {
		details = append(details, i.Time)
	}
	details = append(details, i.Go, i.Platform)
	return fmt.Sprintf("hookctl %s (%s)", i.Version, strings.Join(details, ", "))
}

// Options are every input of `hookctl version`.
type Options struct {
	IO   *iostreams.IOStreams
	JSON func() bool
	Info Info
}

// NewCmdVersion builds `hookctl version`; runF replaces versionRun in tests.
func NewCmdVersion(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, JSON: f.JSON}
	return &cobra.Command{
		Use:   "version",
		Short: "Print hookctl's version and the commit it was built from",
		Long: heredoc.Doc(`
			Print the version (the module version for ` + "`go install ...@v1.2.3`" + `, or
			"dev"), and, for a binary built from a git checkout, the commit and its time
			from Go's build information. Builds with -buildvcs=false (some machines set it
			in GOFLAGS) carry no commit: build with ` + "`go build -buildvcs=true`" + `.
		`),
		Example: heredoc.Doc(`
			$ hookctl version
			$ hookctl version -o json | jq -r .revision
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Info = Current(f.Version)
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
}

func versionRun(opts *Options) error {
	if opts.JSON() {
		info := opts.Info
		info.Time = iostreams.JSONTimeOf(info.Time) // as every JSON time: RFC 3339, at most milliseconds
		return iostreams.WriteJSONLine(opts.IO.Out, "version", info)
	}
	_, err := fmt.Fprintln(opts.IO.Out, opts.IO.Wrap(opts.Info.String()))
	return err
}
