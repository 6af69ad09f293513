package report

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// sarifSchemaFile is the OASIS SARIF 2.1.0 schema (errata 01), byte for
// byte the file Schemata/sarif-schema-2.1.0.json of oasis-tcs/sarif-spec
// (112,768 bytes; its "id" is the $schema URI budnet writes).
const sarifSchemaFile = "testdata/sarif-schema-2.1.0.json"

// compileSARIFSchema compiles the schema with format assertions on, so
// informationUri and helpUri must be absolute URIs.
func compileSARIFSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(sarifSchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(sarifSchema, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(sarifSchema)
	if err != nil {
		t.Fatalf("compiling the SARIF schema: %v", err)
	}
	return sch
}

// validateSARIFForGitHub checks log against the SARIF 2.1.0 schema and
// against what GitHub code scanning accepts and keeps.
func validateSARIFForGitHub(t testing.TB, sch *jsonschema.Schema, log []byte) []string {
	t.Helper()
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(log))
	if err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	if err := sch.Validate(inst); err != nil {
		bad("schema: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(log, &m); err != nil {
		return append(out, err.Error())
	}
	out = append(out, sarifProblems(m)...)
	out = append(out, githubLimitProblems(m, log)...)
	return out
}

// githubLimitProblems applies GitHub code scanning's documented limits
// (https://docs.github.com/en/code-security/code-scanning/troubleshooting-sarif-uploads/results-exceed-limit
// and .../file-too-large) at the numbers GitHub keeps, and what it needs
// of every result: a physical location with a line (github/codeql-action#1738).
func githubLimitProblems(log map[string]any, raw []byte) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	if gz.Len() > GitHubLimits.GzipBytes {
		bad("%d bytes gzip-compressed, over GitHub's %d", gz.Len(), GitHubLimits.GzipBytes)
	}
	runs := asSlice(log["runs"])
	if len(runs) > 20 {
		bad("%d runs, over GitHub's 20", len(runs))
	}
	for ri, run := range runs {
		driver := dig(run, "tool", "driver")
		if v, _ := dig(driver, "version").(string); v == "" {
			bad("runs[%d].tool.driver.version missing", ri)
		}
		if u, _ := dig(driver, "informationUri").(string); !strings.HasPrefix(u, "https://") {
			bad("runs[%d].tool.driver.informationUri %q is not an https URI", ri, u)
		}
		rules := asSlice(dig(driver, "rules"))
		if len(rules) > 25000 {
			bad("%d rules, over GitHub's 25,000", len(rules))
		}
		for i, rule := range rules {
			if tags := asSlice(dig(rule, "properties", "tags")); len(tags) > GitHubLimits.TagsPerRule {
				bad("rule %d has %d tags, GitHub keeps %d", i, len(tags), GitHubLimits.TagsPerRule)
			}
			if u, _ := dig(rule, "helpUri").(string); !strings.HasPrefix(u, "https://") {
				bad("rule %d helpUri %q", i, u)
			}
		}
		results := asSlice(dig(run, "results"))
		if len(results) > GitHubLimits.ResultsPerRun {
			bad("runs[%d] has %d results, GitHub keeps %d", ri, len(results), GitHubLimits.ResultsPerRun)
		}
		for i, res := range results {
			locs := asSlice(dig(res, "locations"))
			if len(locs) > GitHubLimits.LocationsPerResult {
				bad("results[%d] has %d locations, GitHub keeps %d", i, len(locs), GitHubLimits.LocationsPerResult)
			}
			physical := 0
			for j, l := range locs {
				al := dig(l, "physicalLocation", "artifactLocation")
				if al == nil {
					continue
				}
				physical++
				uri, _ := dig(al, "uri").(string)
				base, _ := dig(al, "uriBaseId").(string)
				switch {
				case strings.HasPrefix(uri, "file://"):
				case base == "":
					bad("results[%d].locations[%d] relative uri %q without uriBaseId", i, j, uri)
				case strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "../"):
					bad("results[%d].locations[%d] uri %q is not relative to %s", i, j, uri, base)
				}
			}
			if physical == 0 {
				bad("results[%d] (%v) has no physicalLocation: GitHub rejects the upload", i, dig(res, "ruleId"))
			}
		}
	}
	return out
}

func TestAuditSARIFValidForGitHub(t *testing.T) {
	sch := compileSARIFSchema(t)
	var buf bytes.Buffer
	if err := WriteAuditSARIF(&buf, fixtureReport(t), SARIFOptions{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range validateSARIFForGitHub(t, sch, buf.Bytes()) {
		t.Error(p)
	}
}

// TestGitHubLimitProblemsCatchesBrokenLogs: the GitHub checks can fail.
func TestGitHubLimitProblemsCatchesBrokenLogs(t *testing.T) {
	okRun := func(res string) string {
		return `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","version":"1","informationUri":"https://x/","rules":[{"id":"A","helpUri":"https://x/#a"}]}},"results":[` + res + `]}]}`
	}
	loc := `{"physicalLocation":{"artifactLocation":{"uri":"a.yaml","uriBaseId":"%SRCROOT%"},"region":{"startLine":1}}}`
	tests := []struct {
		name string
		log  string
	}{
		{name: "logical location only", log: okRun(`{"ruleId":"A","message":{"text":"m"},"locations":[{"logicalLocations":[{"fullyQualifiedName":"ns/x[Pod]"}]}]}`)},
		{name: "no location", log: okRun(`{"ruleId":"A","message":{"text":"m"}}`)},
		{name: "relative uri without base", log: okRun(`{"ruleId":"A","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.yaml"},"region":{"startLine":1}}}]}`)},
		{name: "too many locations", log: okRun(`{"ruleId":"A","message":{"text":"m"},"locations":[` + strings.Repeat(loc+",", 100) + loc + `]}`)},
		{name: "no driver version", log: strings.Replace(okRun(`{"ruleId":"A","message":{"text":"m"},"locations":[`+loc+`]}`), `"version":"1",`, "", 1)},
		{name: "too many results", log: okRun(strings.Repeat(`{"ruleId":"A","message":{"text":"m"},"locations":[`+loc+`]},`, GitHubLimits.ResultsPerRun) + `{"ruleId":"A","message":{"text":"m"},"locations":[` + loc + `]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(tt.log), &m); err != nil {
				t.Fatal(err)
			}
			if len(githubLimitProblems(m, []byte(tt.log))) == 0 {
				t.Error("no problem found")
			}
		})
	}
}

// TestRuleHelpURIsResolve: every rule's helpUri names a heading of
// docs/checks.md as GitHub anchors it.
func TestRuleHelpURIsResolve(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "checks.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{1,6} (.+)$`).FindAllStringSubmatch(string(data), -1) {
		anchors[githubAnchor(m[1])] = true
	}
	tests := []struct{ name, heading, anchor string }{
		{name: "dots dropped", heading: "BUD-3.2-01", anchor: "bud-32-01"},
		{name: "section without dot", heading: "BUD-11-01", anchor: "bud-11-01"},
		{name: "spaces", heading: "What is checked", anchor: "what-is-checked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := githubAnchor(tt.heading); got != tt.anchor {
				t.Errorf("githubAnchor(%q) = %q, want %q", tt.heading, got, tt.anchor)
			}
		})
	}
	r := fixtureReport(t)
	var buf bytes.Buffer
	if err := WriteAuditSARIF(&buf, r, SARIFOptions{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	for _, rule := range log.Runs[0].Tool.Driver.Rules {
		_, frag, _ := strings.Cut(rule.HelpURI, "#")
		if !anchors[frag] || !strings.Contains(rule.HelpURI, "/docs/checks.md#") {
			t.Errorf("rule %s helpUri %q names no heading of docs/checks.md", rule.ID, rule.HelpURI)
		}
	}
}

func TestAuditSARIFCutToLimits(t *testing.T) {
	r := fixtureReport(t)
	sch := compileSARIFSchema(t)
	tests := []struct {
		name      string
		limits    SARIFLimits
		wantKept  int
		wantInMsg string
	}{
		{name: "results per run", limits: SARIFLimits{ResultsPerRun: 2}, wantKept: 2, wantInMsg: "2 of 4 results kept"},
		{name: "compressed size", limits: SARIFLimits{GzipBytes: 1500}, wantKept: 1, wantInMsg: "1 of 4 results kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf, warn bytes.Buffer
			if err := WriteAuditSARIF(&buf, r, SARIFOptions{Version: "test", Limits: tt.limits, Warn: &warn}); err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(mustInstance(t, buf.Bytes())); err != nil {
				t.Errorf("schema: %v", err)
			}
			var log sarifLog
			if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
				t.Fatal(err)
			}
			run := log.Runs[0]
			if len(run.Results) != tt.wantKept {
				t.Fatalf("%d results kept, want %d", len(run.Results), tt.wantKept)
			}
			// The most severe are kept: the fixture's one critical finding first.
			if run.Results[0].RuleID != "BUD-3.2-01" {
				t.Errorf("first kept result is %s, want the critical BUD-3.2-01", run.Results[0].RuleID)
			}
			if len(run.Invocations) != 1 || len(run.Invocations[0].ToolExecutionNotifications) != 1 ||
				!strings.Contains(run.Invocations[0].ToolExecutionNotifications[0].Message.Text, tt.wantInMsg) {
				t.Errorf("notification = %+v, want one saying %q", run.Invocations, tt.wantInMsg)
			}
			if cut, ok := run.Properties["github.com/budnet/budnet/cut"].(map[string]any); !ok || cut["resultsTotal"] != float64(4) {
				t.Errorf("run properties = %v, want budnet/cut with resultsTotal 4", run.Properties)
			}
			if !strings.Contains(warn.String(), tt.wantInMsg) {
				t.Errorf("stderr = %q, want %q", warn.String(), tt.wantInMsg)
			}
		})
	}
	t.Run("within limits says nothing", func(t *testing.T) {
		var buf, warn bytes.Buffer
		if err := WriteAuditSARIF(&buf, r, SARIFOptions{Version: "test", Warn: &warn}); err != nil {
			t.Fatal(err)
		}
		if warn.Len() != 0 || strings.Contains(buf.String(), "github.com/budnet/budnet/cut") {
			t.Errorf("cut reported without a cut: %q", warn.String())
		}
	})
}

func mustInstance(t testing.TB, b []byte) any {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestArtifactURI(t *testing.T) {
	tests := []struct {
		name, path, base string
		want             sarifArtifact
	}{
		{name: "relative", path: "./deploy/a.yaml", want: sarifArtifact{URI: "deploy/a.yaml", URIBaseID: sarifSrcRoot}},
		{name: "absolute inside base", path: "/repo/deploy/a b.yaml", base: "/repo", want: sarifArtifact{URI: "deploy/a%20b.yaml", URIBaseID: sarifSrcRoot}},
		{name: "absolute outside base", path: "/tmp/x.yaml", base: "/repo", want: sarifArtifact{URI: "file:///tmp/x.yaml"}},
		{name: "absolute, no base", path: "/tmp/x.yaml", want: sarifArtifact{URI: "file:///tmp/x.yaml"}},
		{name: "sibling of base is outside", path: "/repo2/x.yaml", base: "/repo", want: sarifArtifact{URI: "file:///repo2/x.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := artifactOf(tt.path, tt.base); got != tt.want {
				t.Errorf("artifactOf(%q, %q) = %+v, want %+v", tt.path, tt.base, got, tt.want)
			}
		})
	}
}
