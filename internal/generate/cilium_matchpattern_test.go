package generate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/testenv"
)

// matchpatternBinary finds hack/cilium-matchpattern built against one
// Cilium version by hack/ci-cilium.sh: under $BUDNET_CILIUM_MATCHPATTERN,
// else ${BUDNET_CACHE:-/var/cache/budnet}. Missing, the test skips, except
// under CI=true, where it fails.
func matchpatternBinary(t *testing.T, version string) string {
	t.Helper()
	dir := os.Getenv("BUDNET_CILIUM_MATCHPATTERN")
	if dir == "" {
		dir = os.Getenv("BUDNET_CACHE")
	}
	if dir == "" {
		dir = "/var/cache/budnet"
	}
	bin := filepath.Join(dir, "cilium-matchpattern-"+version, "cilium-matchpattern")
	if _, err := os.Stat(bin); err != nil {
		testenv.Missing(t, "%s missing: run bash hack/ci-cilium.sh", bin)
	}
	return bin
}

type mpSelector struct {
	MatchName    string `json:"matchName,omitempty"`
	MatchPattern string `json:"matchPattern,omitempty"`
}

type mpResult struct {
	Selector mpSelector      `json:"selector"`
	Error    string          `json:"error"`
	Matches  map[string]bool `json:"matches"`
}

// ciliumMatches asks Cilium's own matchpattern which names the selectors
// match, and returns for each name whether any selector does.
func ciliumMatches(t *testing.T, bin string, sels []mpSelector, names []string) map[string]bool {
	t.Helper()
	in, err := json.Marshal(map[string]any{"selectors": sels, "names": names})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(context.Background(), bin)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", bin, err, stderr.String())
	}
	var doc struct {
		Results []mpResult `json:"results"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Results) != len(sels) {
		t.Fatalf("%d results for %d selectors", len(doc.Results), len(sels))
	}
	matched := map[string]bool{}
	for _, r := range doc.Results {
		if r.Error != "" {
			t.Errorf("Cilium refuses %+v: %s", r.Selector, r.Error)
			continue
		}
		for n, m := range r.Matches {
			matched[n] = matched[n] || m
		}
	}
	return matched
}

// intended says whether the model's host h means name n: an exact name
// itself, "*.domain" any name below domain (subdomains only, as the egress
// gateway reads it), or with perDepth only those up to four labels below,
// which is what generate promises for Cilium before v1.19.
func intended(h, n string, perDepth bool) bool {
	rest, ok := strings.CutPrefix(h, "*.")
	if !ok {
		return h == n
	}
	sub, ok := strings.CutSuffix(n, "."+rest)
	if !ok || sub == "" {
		return false
	}
	return !perDepth || strings.Count(sub, ".") < 4
}

// hostNames are names a flow host should allow (real provider host names
// at depths 1 to 4 below a wildcard's domain) and names it must not (the
// domain itself, look-alikes that append or prepend to it).
func hostNames(h string) (allow, deny []string) {
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		allow = []string{"a." + rest, "s3.us-east-1." + rest, "x.s3.us-east-1." + rest, "b.x.s3.us-east-1." + rest, "c.b.x.s3.us-east-1." + rest}
		deny = []string{rest, "evil" + rest, rest + ".evil.io", "a." + rest + ".evil.io"}
		return allow, deny
	}
	return []string{h}, []string{"x." + h, h + ".evil.io", "evil" + h, strings.Replace(h, ".", "-", 1)}
}

// TestCiliumMatchPatterns: for every host flow of the Bud model, the
// toFQDNs selectors generate writes for a Cilium version are read by that
// version's own pkg/fqdn/matchpattern: every name the host means is
// matched, look-alikes are not. On v1.18 (per-depth patterns) names up to
// four labels below a wildcard's domain match, deeper ones do not; with
// v1.20's "**." depth is unbounded. The first case also shows why the
// version matters: "**." read by v1.18 refuses regional endpoints.
func TestCiliumMatchPatterns(t *testing.T) {
	p := loadModel(t, "")
	schema := ciliumValidator(t)
	tests := []struct {
		name     string
		generate string // --cilium-version
		cilium   string // the matchpattern binary's version
		missDeep bool   // names deeper than the per-depth patterns reach stay unmatched
		broken   bool   // the version mismatch this test guards against
	}{
		{name: "v1.20 output on v1.18 (the defect)", generate: "v1.20.2", cilium: "v1.18.6", broken: true},
		{name: "default on v1.20", generate: "", cilium: "v1.20.2"},
		{name: "v1.18 output on v1.18", generate: "v1.18.6", cilium: "v1.18.6", missDeep: true},
		{name: "v1.18 output on v1.20", generate: "1.18", cilium: "v1.20.2", missDeep: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := matchpatternBinary(t, tt.cilium)
			files, err := generate.Generate(p, generate.Options{CNI: generate.CNICilium, CiliumVersion: tt.generate})
			if err != nil {
				t.Fatal(err)
			}
			policies := 0
			var failures []string
			for _, f := range files {
				for _, u := range f.Objects {
					if u.GetKind() != "CiliumNetworkPolicy" {
						continue
					}
					policies++
					if errs := validation.ValidateCustomResource(field.NewPath(""), u.Object, schema); len(errs) > 0 {
						t.Errorf("%s: the pinned CRD schema refuses it: %v", u.GetName(), errs.ToAggregate())
					}
					var sels []mpSelector
					for _, e := range asSlice(u.Object["spec"].(map[string]any)["egress"]) {
						for _, s := range asSlice(e.(map[string]any)["toFQDNs"]) {
							m := s.(map[string]any)
							sels = append(sels, mpSelector{MatchName: str(m["matchName"]), MatchPattern: str(m["matchPattern"])})
						}
					}
					hosts := strings.Split(u.GetAnnotations()[generate.AnnotationHosts], ",")
					var names []string
					for _, h := range hosts {
						a, d := hostNames(h)
						names = append(append(names, a...), d...)
					}
					slices.Sort(names)
					names = slices.Compact(names)
					got := ciliumMatches(t, bin, sels, names)
					for _, n := range names {
						want := slices.ContainsFunc(hosts, func(h string) bool { return intended(h, n, tt.missDeep) })
						switch {
						case want && !got[n]:
							failures = append(failures, u.GetName()+": "+n+" refused")
						case !want && got[n]:
							t.Errorf("%s: %s allowed by %+v, which the flow's hosts %v do not mean", u.GetName(), n, sels, hosts)
						}
					}
				}
			}
			if policies == 0 {
				t.Fatal("no CiliumNetworkPolicy generated")
			}
			if tt.broken {
				if !slices.ContainsFunc(failures, func(s string) bool { return strings.Contains(s, "s3.us-east-1.amazonaws.com") }) {
					t.Errorf("v1.20 patterns on v1.18 refused only %v; expected the regional S3 endpoint among them", failures)
				}
				return
			}
			for _, f := range failures {
				t.Error(f)
			}
		})
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// TestCiliumVersionOption: versions generate has not been proven against,
// or that are not versions, are refused with an error naming the value.
func TestCiliumVersionOption(t *testing.T) {
	p := loadModel(t, "")
	for _, v := range []string{"1.17.9", "v2.0.0", "1", "1.x", "latest", "1.19.0.1", "01.19"} {
		_, err := generate.Generate(p, generate.Options{CNI: generate.CNICilium, CiliumVersion: v})
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("--cilium-version %q: %v", v, err)
		}
	}
	for _, v := range []string{"1.18", "v1.19.0", "1.19.0-rc.2", "v1.20.2", "1.21.0"} {
		if _, err := generate.Generate(p, generate.Options{CNI: generate.CNICilium, CiliumVersion: v}); err != nil {
			t.Errorf("--cilium-version %q: %v", v, err)
		}
	}
}

// TestDefaultCiliumVersionPinned: the default is the version of the pinned
// Cilium CRDs the API server tests validate against.
func TestDefaultCiliumVersionPinned(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "crds", "VERSIONS.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "github.com/cilium/cilium@"+generate.DefaultCiliumVersion+" ") {
		t.Errorf("DefaultCiliumVersion %s is not the pinned CRD version in VERSIONS.md", generate.DefaultCiliumVersion)
	}
}

// FuzzCiliumVersion: --cilium-version never panics, and what it accepts is
// a v1 release from v1.18 on.
func FuzzCiliumVersion(f *testing.F) {
	for _, s := range []string{"v1.20.2", "1.18", "1.19.0-rc.1", "1.17.9", "v2.0.0", "", "1..2", "v1.18.-1", "1.99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if generate.CheckCiliumVersion(s) != nil || s == "" {
			return
		}
		v := strings.TrimPrefix(s, "v")
		if !strings.HasPrefix(v, "1.") {
			t.Fatalf("accepted %q", s)
		}
		minor, _, _ := strings.Cut(strings.TrimPrefix(v, "1."), ".")
		minor, _, _ = strings.Cut(minor, "-")
		if len(minor) < 2 || minor < "18" && len(minor) == 2 {
			t.Fatalf("accepted %q, minor %q", s, minor)
		}
	})
}

// TestHostPatternCiliumSelectors: platform.HostPattern's conversion to
// toFQDNs, read by Cilium's own matchpattern at the version it targets, on
// hosts beyond the Bud model's (Unicode and upper-case spellings, a name
// under a private public suffix's registrable domain): every name the host
// means is matched, look-alikes are not, and before v1.19 names deeper than
// the per-depth patterns reach stay unmatched.
func TestHostPatternCiliumSelectors(t *testing.T) {
	hosts := []string{"api.openai.com", "API.OpenAI.com.", "*.openai.azure.com", "*.Bücher.example", "xn--bcher-kva.example", "*.bucket.s3.amazonaws.com", "1password.com"}
	for _, tt := range []struct {
		name, cilium string
		minor        int
	}{
		{name: "v1.20", cilium: "v1.20.2", minor: 20},
		{name: "v1.18", cilium: "v1.18.6", minor: 18},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bin := matchpatternBinary(t, tt.cilium)
			for _, in := range hosts {
				h, err := platform.ParseHostPattern(in)
				if err != nil {
					t.Fatal(err)
				}
				var sels []mpSelector
				for _, s := range h.CiliumSelectors(tt.minor) {
					sels = append(sels, mpSelector{MatchName: s.MatchName, MatchPattern: s.MatchPattern})
				}
				allow, deny := hostNames(h.String())
				got := ciliumMatches(t, bin, sels, append(slices.Clone(allow), deny...))
				for _, n := range append(allow, deny...) {
					if want := intended(h.String(), n, tt.minor < platform.CiliumAnyDepthMinor); got[n] != want {
						t.Errorf("%s as %+v: Cilium %s matches %s: %v, want %v", in, sels, tt.cilium, n, got[n], want)
					}
				}
			}
		})
	}
}

// TestFQDNSelectorsReadAsCilium: reach and audit read a cluster's toFQDNs
// selectors through platform.FQDNSelectors; for every selector of the
// table and every exact name, that reading admits the name exactly when
// Cilium's own matchpattern (the pinned v1.20.2) matches it.
func TestFQDNSelectorsReadAsCilium(t *testing.T) {
	bin := matchpatternBinary(t, "v1.20.2")
	selectors := []mpSelector{
		{MatchName: "api.stripe.com"}, {MatchName: "api.stripe.com."}, {MatchName: "a_b.example.com"},
		{MatchPattern: "**.amazonaws.com"}, {MatchPattern: "*.amazonaws.com"}, {MatchPattern: "***.amazonaws.com"},
		{MatchPattern: "api-*.stripe.com"}, {MatchPattern: "*.*.example.com"}, {MatchPattern: "a.*.example.com"},
		{MatchPattern: "**.com"}, {MatchPattern: "*"}, {MatchPattern: "**.xn--bcher-kva.example"}, {MatchPattern: "*stripe.com"},
	}
	names := []string{"api.stripe.com", "api-eu.stripe.com", "api.stripe.com.evil.io", "evilapi.stripe.com", "stripe.com",
		"amazonaws.com", "s3.amazonaws.com", "s3.us-east-1.amazonaws.com", "evilamazonaws.com", "a.example.com", "a.b.example.com",
		"a.b.c.example.com", "example.com", "www.xn--bcher-kva.example", "xn--bcher-kva.example", "evilstripe.com", "localhost"}
	for _, sel := range selectors {
		got := ciliumMatches(t, bin, []mpSelector{sel}, names)
		for _, n := range names {
			h, err := platform.ReadHostPattern(n)
			if err != nil {
				t.Fatal(err)
			}
			read := platform.FQDNSelectors{{MatchName: sel.MatchName, MatchPattern: sel.MatchPattern}}.Admits(h)
			if read != got[n] {
				t.Errorf("%+v on %s: budnet reads %v, Cilium matches %v", sel, n, read, got[n])
			}
		}
	}
}
