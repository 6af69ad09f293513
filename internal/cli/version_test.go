package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionFrom(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "e25b8d7a0c1d2e3f405162738495a6b7c8d9e0f1"
	tests := []struct {
		name     string
		bi       *debug.BuildInfo
		override string
		want     VersionInfo
	}{
		{
			name: "go install at a tag",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/budnet/budnet", Version: "v1.2.3"}},
			want: VersionInfo{Version: "v1.2.3", GoVersion: "go1.26.8"},
		},
		{
			name: "go build in a checkout: pseudo-version and dirty, as cmd/go stamps it",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261207172517-e25b8d7a0c1d+dirty"},
				Settings: vcs(rev, "true")},
			want: VersionInfo{Version: "v0.0.0-20261207172517-e25b8d7a0c1d+dirty", GoVersion: "go1.26.8", Revision: rev, Modified: true},
		},
		{
			name: "(devel) with a revision falls back to it",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")},
			want: VersionInfo{Version: "devel+e25b8d7a0c1d", GoVersion: "go1.26.8", Revision: rev},
		},
		{
			name: "(devel) with uncommitted changes says so",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")},
			want: VersionInfo{Version: "devel+e25b8d7a0c1d.dirty", GoVersion: "go1.26.8", Revision: rev, Modified: true},
		},
		{
			name: "(devel) without VCS information (-buildvcs=false)",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: VersionInfo{Version: "(devel)", GoVersion: "go1.26.8"},
		},
		{
			name:     "the release script's -ldflags override wins",
			bi:       &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")},
			override: "v1.3.0",
			want:     VersionInfo{Version: "v1.3.0", GoVersion: "go1.26.8", Revision: rev},
		},
		{
			name:     "no build info (not a module build)",
			override: "",
			want:     VersionInfo{Version: "(devel)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := versionFrom(tt.bi, tt.override)
			if tt.bi == nil {
				tt.want.GoVersion = got.GoVersion // runtime.Version()
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestVersionFlagAndCommand: --version and `version` print the same line, the
// one this test binary's own build info gives.
func TestVersionFlagAndCommand(t *testing.T) {
	want := versionLine(BuildVersion())
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, stderr := run(t, "", args...)
		if code != 0 || out != want {
			t.Errorf("%v: exit %d, out %q (stderr %q), want %q", args, code, out, stderr, want)
		}
	}
	code, out, _ := run(t, "", "version", "-o", "json")
	var info VersionInfo
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info != BuildVersion() {
		t.Errorf("version -o json: exit %d, %s", code, out)
	}
	// -v stays --verbose on the commands that have it, not a version shorthand.
	if code, _, _ := run(t, "", "-v"); code != ExitUsage {
		t.Errorf("budnet -v: exit %d, want a usage error", code)
	}
}

func TestProgramName(t *testing.T) {
	tests := []struct {
		name, argv0, want string
	}{
		{name: "budnet", argv0: "budnet", want: NameBudnet},
		{name: "path", argv0: "/usr/local/bin/budnet", want: NameBudnet},
		{name: "krew symlink", argv0: "/home/u/.krew/bin/kubectl-budnet", want: NameKubectl},
		{name: "windows", argv0: `kubectl-budnet.exe`, want: NameKubectl},
		{name: "other plugin name", argv0: "kubectl-budnet2", want: NameBudnet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ProgramName(tt.argv0); got != tt.want {
				t.Errorf("ProgramName(%q) = %q, want %q", tt.argv0, got, tt.want)
			}
		})
	}
}

// TestKubectlPluginUsage: as kubectl-budnet, every usage line and example
// says `kubectl budnet`, and no line runs a bare `budnet`.
func TestKubectlPluginUsage(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"audit", "--help"}, {"reach", "--help"}, {"egress", "check", "--help"}, {"platform", "show", "--help"}} {
		var out bytes.Buffer
		code := ExecuteAs(context.Background(), NameKubectl, args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, out.String())
		}
		text := out.String()
		if !strings.Contains(text, "Usage:\n  kubectl budnet") {
			t.Errorf("%v: usage does not say kubectl budnet:\n%s", args, text)
		}
		commands := map[string]bool{}
		for _, c := range budnetRoot().Commands() {
			commands[c.Name()] = true
		}
		for _, line := range strings.Split(text, "\n") {
			fields := strings.Fields(line)
			if len(fields) > 1 && fields[0] == "budnet" && (commands[fields[1]] || strings.HasPrefix(fields[1], "-")) {
				t.Errorf("%v: line runs bare budnet: %q", args, line)
			}
		}
	}
	// The tree is otherwise the same: a command runs.
	var out bytes.Buffer
	if code := ExecuteAs(context.Background(), NameKubectl, []string{"version"}, Streams{Out: &out, ErrOut: &out}); code != 0 || out.String() != versionLine(BuildVersion()) {
		t.Errorf("kubectl budnet version: %d %q", code, out.String())
	}
}
