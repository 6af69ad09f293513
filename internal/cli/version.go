package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version overrides the version from the build info when set at link time:
// hack/release.sh passes -ldflags "-X github.com/budnet/budnet/internal/cli.version=v0.1.0"
// so an archive says its release even when built from a tree the go command
// cannot read a tag from (a tarball, or GOFLAGS=-buildvcs=false).
var version = ""

// develVersion is what the go command records as the main module's version
// when it knows none (a build with -buildvcs=false, or outside a repository).
const develVersion = "(devel)"

// VersionInfo is what `budnet version -o json` prints.
type VersionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Revision  string `json:"revision,omitempty"`
	// Modified: built from a tree with uncommitted changes.
	Modified bool `json:"modified,omitempty"`
}

// BuildVersion reports budnet's version, used by reports that name their producer.
func BuildVersion() VersionInfo {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(bi, version)
}

// versionFrom derives the version from the linker override, else the main
// module's version in the build info: v1.2.3 under `go install …@v1.2.3`, a
// tag or pseudo-version (with +dirty) when go build stamps a checkout (Go
// 1.24+, cmd/go/internal/load/pkg.go setBuildInfo), "(devel)" when it could
// not. For "(devel)" the VCS revision, when recorded, names the build instead.
func versionFrom(bi *debug.BuildInfo, override string) VersionInfo {
	info := VersionInfo{Version: override, GoVersion: runtime.Version()}
	if bi == nil {
		if info.Version == "" {
			info.Version = develVersion
		}
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	if info.Version != "" {
		return info
	}
	if v := bi.Main.Version; v != "" && v != develVersion {
		info.Version = v
		return info
	}
	info.Version = develVersion
	if info.Revision != "" {
		rev := info.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		info.Version = "devel+" + rev
		if info.Modified {
			info.Version += ".dirty"
		}
	}
	return info
}

// versionLine is the one line `budnet version` and `budnet --version` print.
func versionLine(info VersionInfo) string {
	return fmt.Sprintf("budnet %s (%s)\n", info.Version, info.GoVersion)
}

func newVersionCommand(streams Streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print budnet's version",
		Long: `version prints the version budnet was built as: the release for a release archive or
'go install …@vX.Y.Z', a pseudo-version for a build from a checkout, or devel+REVISION
when the go command recorded no version.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := BuildVersion()
			switch output {
			case "text", "":
				_, err := fmt.Fprint(streams.Out, versionLine(info))
				return err
			case "json":
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			default:
				return usageError(fmt.Errorf("unknown output format %q for version (want text or json)", output))
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
