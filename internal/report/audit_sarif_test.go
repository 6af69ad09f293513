package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

// TestAuditSARIFStructure checks the log against the properties SARIF 2.1.0
// requires (https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html:
// sarifLog.version and runs, run.tool.driver.name, reportingDescriptor.id,
// result.message.text, valid levels and suppression kinds, ruleIndex pointing
// at the rule named by ruleId) and the region.startLine GitHub code scanning
// needs to annotate a line.
func TestAuditSARIFStructure(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteAuditSARIF(&buf, fixtureReport(t), SARIFOptions{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	var log map[string]any
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	for _, p := range sarifProblems(log) {
		t.Error(p)
	}
	results := log["runs"].([]any)[0].(map[string]any)["results"].([]any)
	if len(results) != 4 {
		t.Errorf("%d results, want the 4 failing or partial findings (suppressed included, passing left out)", len(results))
	}
}

func TestSARIFProblemsCatchesBrokenLogs(t *testing.T) {
	tests := []struct {
		name string
		log  string
	}{
		{name: "wrong version", log: `{"version":"2.0.0","runs":[]}`},
		{name: "no runs", log: `{"version":"2.1.0"}`},
		{name: "no driver name", log: `{"version":"2.1.0","runs":[{"tool":{"driver":{}},"results":[]}]}`},
		{name: "result without message", log: `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"A"}]}},"results":[{"ruleId":"A","ruleIndex":0,"locations":[{"physicalLocation":{"artifactLocation":{"uri":"f"},"region":{"startLine":1}}}]}]}]}`},
		{name: "ruleIndex mismatch", log: `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"A"}]}},"results":[{"ruleId":"B","ruleIndex":0,"message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"f"},"region":{"startLine":1}}}]}]}]}`},
		{name: "line zero", log: `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"A"}]}},"results":[{"ruleId":"A","ruleIndex":0,"message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"f"},"region":{"startLine":0}}}]}]}]}`},
		{name: "bad level", log: `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"A"}]}},"results":[{"ruleId":"A","ruleIndex":0,"level":"fatal","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"f"},"region":{"startLine":1}}}]}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log map[string]any
			if err := json.Unmarshal([]byte(tt.log), &log); err != nil {
				t.Fatal(err)
			}
			if len(sarifProblems(log)) == 0 {
				t.Error("no problem found")
			}
		})
	}
}

// sarifProblems lists violations of SARIF 2.1.0's required properties.
func sarifProblems(log map[string]any) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if log["version"] != "2.1.0" {
		bad("sarifLog.version = %v, want 2.1.0", log["version"])
	}
	runs, ok := log["runs"].([]any)
	if !ok {
		bad("sarifLog.runs missing")
		return out
	}
	for ri, r := range runs {
		run, _ := r.(map[string]any)
		driver, _ := dig(run, "tool", "driver").(map[string]any)
		if name, _ := driver["name"].(string); name == "" {
			bad("runs[%d].tool.driver.name missing", ri)
		}
		rules, _ := driver["rules"].([]any)
		var ids []string
		for i, rule := range rules {
			id, _ := rule.(map[string]any)["id"].(string)
			if id == "" {
				bad("runs[%d].tool.driver.rules[%d].id missing", ri, i)
			}
			ids = append(ids, id)
		}
		results, _ := run["results"].([]any)
		for i, x := range results {
			res, _ := x.(map[string]any)
			at := fmt.Sprintf("runs[%d].results[%d]", ri, i)
			if text, _ := dig(res, "message", "text").(string); text == "" {
				bad("%s.message.text missing", at)
			}
			idx, hasIdx := res["ruleIndex"].(float64)
			if hasIdx && (int(idx) >= len(ids) || ids[int(idx)] != res["ruleId"]) {
				bad("%s.ruleIndex %v does not point at rule %v", at, idx, res["ruleId"])
			}
			if lvl, ok := res["level"]; ok && !slices.Contains([]any{"none", "note", "warning", "error"}, lvl) {
				bad("%s.level %v invalid", at, lvl)
			}
			for j, s := range asSlice(res["suppressions"]) {
				if k := dig(s, "kind"); k != "inSource" && k != "external" {
					bad("%s.suppressions[%d].kind %v invalid", at, j, k)
				}
			}
			locs := asSlice(res["locations"])
			if len(locs) == 0 {
				bad("%s has no location (code scanning needs one)", at)
			}
			for j, l := range locs {
				pl := dig(l, "physicalLocation")
				if pl == nil {
					continue
				}
				if uri, _ := dig(pl, "artifactLocation", "uri").(string); uri == "" {
					bad("%s.locations[%d].physicalLocation.artifactLocation.uri missing", at, j)
				}
				if line, _ := dig(pl, "region", "startLine").(float64); line < 1 {
					bad("%s.locations[%d] region.startLine %v, want >= 1", at, j, line)
				}
			}
		}
	}
	return out
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
