package audit

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// loadFixture builds a context from YAML, judged against the embedded Bud
// model or, when dir holds a platform.yaml, against that model.
func loadFixture(t testing.TB, name string, data []byte, dir string) *Context {
	t.Helper()
	inv, err := manifest.LoadBytes(name, data, manifest.Options{})
	if err != nil {
		t.Fatalf("loading %s: %v", name, err)
	}
	var p *platform.Platform
	if b, err := os.ReadFile(filepath.Join(dir, "platform.yaml")); err == nil {
		p, err = platform.Parse(filepath.Join(dir, "platform.yaml"), b)
		if err != nil {
			t.Fatalf("platform: %v", err)
		}
	} else {
		p, err = platform.Default()
		if err != nil {
			t.Fatalf("platform: %v", err)
		}
	}
	return &Context{Inventory: inv, Platform: p, Source: "files"}
}

func runYAML(t testing.TB, ch Check, yaml string) []Result {
	t.Helper()
	return ch.Run(loadFixture(t, ch.ID+".yaml", []byte(yaml), filepath.Join("testdata", "checks", ch.ID)))
}

func failing(rs []Result) []Result {
	var out []Result
	for _, r := range rs {
		if r.Status.Failing() {
			out = append(out, r)
		}
	}
	return out
}

var idPattern = regexp.MustCompile(`^BUD-(\d+(\.\d+)?)-\d\d$`)

// TestCheckFixtures runs every check on its failing and its passing example:
// the failing one must produce a failing result, the passing one results
// that all pass. The same files are the check's documentation.
func TestCheckFixtures(t *testing.T) {
	seen := map[string]bool{}
	for _, ch := range Checks() {
		t.Run(ch.ID, func(t *testing.T) {
			if seen[ch.ID] {
				t.Fatalf("duplicate check ID %s", ch.ID)
			}
			seen[ch.ID] = true
			m := idPattern.FindStringSubmatch(ch.ID)
			if m == nil || m[1] != ch.Section {
				t.Errorf("ID %s does not follow BUD-<section>-<NN> for section %s", ch.ID, ch.Section)
			}
			if ch.Title == "" || ch.Remediation == "" || ch.Run == nil {
				t.Fatalf("check %s lacks a title, remediation or Run", ch.ID)
			}
			if ch.Doc.Fails == "" || ch.Doc.Passes == "" {
				t.Fatalf("check %s has no fail.yaml/pass.yaml under testdata/checks/%s", ch.ID, ch.ID)
			}
			fails := runYAML(t, ch, ch.Doc.Fails)
			if len(failing(fails)) == 0 {
				t.Errorf("fail.yaml: no failing result; got %+v", fails)
			}
			for _, r := range fails {
				if r.Subject == "" || r.Message == "" {
					t.Errorf("fail.yaml: result without subject or message: %+v", r)
				}
			}
			passes := runYAML(t, ch, ch.Doc.Passes)
			if len(passes) == 0 || !slices.ContainsFunc(passes, func(r Result) bool { return r.Status == StatusPass }) {
				t.Errorf("pass.yaml: no passing result; got %+v", passes)
			}
			if f := failing(passes); len(f) > 0 {
				t.Errorf("pass.yaml: failing results: %+v", f)
			}
		})
	}
}
