package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"budnet/internal/audit"
	"budnet/internal/manifest"
)

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html).
// Only the objects budnet fills are modelled. GitHub code scanning reads
// rules' properties.security-severity for its severity column and needs
// region.startLine on every result to annotate a line
// (https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning).
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifRuleConf  `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifRuleConf struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints,omitempty"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]any     `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	Message          *sarifText     `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

// sarifLevel maps severities to SARIF levels: high and critical are errors.
func sarifLevel(s audit.Severity) string {
	switch {
	case s >= audit.SeverityHigh:
		return "error"
	case s == audit.SeverityMedium:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub's 0-10 score: over 9.0 critical, 7.0-8.9 high,
// 4.0-6.9 medium, 0.1-3.9 low.
func securitySeverity(s audit.Severity) string {
	switch s {
	case audit.SeverityCritical:
		return "9.5"
	case audit.SeverityHigh:
		return "8.0"
	case audit.SeverityMedium:
		return "5.5"
	case audit.SeverityLow:
		return "3.0"
	}
	return "0.0"
}

// WriteAuditSARIF writes a SARIF 2.1.0 log with one rule per check and one
// result per failing (or partly failing) finding, located at the file and
// line of its evidence. Suppressed findings carry a suppression, as code
// scanning expects. Passing findings are not results: SARIF consumers show
// every result as an alert.
func WriteAuditSARIF(w io.Writer, r *audit.Report) error {
	run := sarifRun{
		Tool:    sarifTool{Driver: sarifDriver{Name: "budnet", Rules: []sarifRule{}}},
		Results: []sarifResult{},
	}
	index := map[string]int{}
	for i, c := range r.Checks {
		index[c.ID] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleOf(c))
	}
	for _, f := range r.Findings {
		if !f.Status.Failing() {
			continue
		}
		i, ok := index[f.CheckID]
		if !ok {
			return fmt.Errorf("finding of %s, which is not among the report's checks", f.CheckID)
		}
		run.Results = append(run.Results, sarifResultOf(f, i))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}); err != nil {
		return fmt.Errorf("writing SARIF: %w", err)
	}
	return nil
}

func sarifRuleOf(c audit.Check) sarifRule {
	full := fmt.Sprintf("%s (guide section %s, severity %s).", c.Title, c.Section, c.Severity)
	return sarifRule{
		ID:                   c.ID,
		Name:                 ruleName(c.Title),
		ShortDescription:     sarifText{Text: c.Title},
		FullDescription:      sarifText{Text: full},
		Help:                 sarifText{Text: c.Remediation, Markdown: "**Remediation:** " + c.Remediation},
		DefaultConfiguration: sarifRuleConf{Level: sarifLevel(c.Severity)},
		Properties: map[string]any{
			"security-severity": securitySeverity(c.Severity),
			"tags":              []string{"security", "kubernetes", "network", "guide-" + c.Section},
		},
	}
}

// ruleName makes a PascalCase identifier of a title, as SARIF's
// reportingDescriptor.name suggests.
func ruleName(title string) string {
	var b strings.Builder
	for _, word := range strings.FieldsFunc(title, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(word[:1]) + word[1:])
	}
	return b.String()
}

func sarifResultOf(f audit.Finding, ruleIndex int) sarifResult {
	res := sarifResult{
		RuleID: f.CheckID, RuleIndex: ruleIndex, Level: sarifLevel(f.Severity),
		Message:    sarifText{Text: fmt.Sprintf("%s: %s", f.Subject, f.Message)},
		Properties: map[string]any{"status": string(f.Status), "subject": f.Subject},
	}
	if f.Status == audit.StatusPartial && res.Level == "error" {
		res.Level = "warning"
	}
	for _, e := range f.Evidence {
		if loc, ok := sarifLocationOf(e); ok {
			res.Locations = append(res.Locations, loc)
		}
	}
	// Fingerprint on check and subject, not line, so an alert survives edits
	// that move the object.
	sum := sha256.Sum256([]byte(f.CheckID + "\x00" + f.Subject))
	res.PartialFingerprints = map[string]string{"budnetFinding/v1": hex.EncodeToString(sum[:16])}
	if f.Suppressed {
		res.Suppressions = []sarifSuppression{{Kind: "external", Justification: f.SuppressionReason}}
	}
	return res
}

// sarifLocationOf locates evidence: a file region when it has a file, an
// object (a cluster resource) otherwise. Helm evidence points at the
// template file; its line is in the rendered output, which differs from the
// template's, so the region is the template's first line and the rendered
// line goes in the message.
func sarifLocationOf(e audit.Evidence) (sarifLocation, bool) {
	var loc sarifLocation
	if !linkable(e.File) {
		e.File = ""
	}
	switch {
	case e.File != "" && e.Template == "":
		loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: fileURI(e.File)}}
		line := e.Line
		if line < 1 {
			line = 1
		}
		loc.PhysicalLocation.Region = &sarifRegion{StartLine: line}
	case e.File != "":
		loc.PhysicalLocation = &sarifPhysical{
			ArtifactLocation: sarifArtifact{URI: fileURI(e.File)},
			Region:           &sarifRegion{StartLine: 1},
		}
		if e.Line > 0 {
			loc.Message = &sarifText{Text: fmt.Sprintf("rendered from %s, line %d of its output", e.Template, e.Line)}
		}
	}
	switch {
	case e.Object != "":
		loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: e.Object, Kind: "resource"}}
	case e.Connection != "":
		loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: e.Connection, Kind: "resource"}}
	}
	if loc.PhysicalLocation == nil && loc.LogicalLocations == nil {
		return loc, false
	}
	if detail := EvidenceText(audit.Evidence{Field: e.Field, Connection: e.Connection, Policies: e.Policies, Detail: e.Detail}); detail != "" && loc.Message == nil {
		loc.Message = &sarifText{Text: detail}
	}
	return loc, true
}

// linkable reports whether evidence's file is one a repository holds: not a
// live cluster object and not the model or example embedded in budnet
// ("embedded:bud.yaml").
func linkable(file string) bool {
	return file != "" && file != manifest.ClusterSource && !strings.HasPrefix(file, "embedded:")
}

// fileURI renders a path as a relative URI reference with forward slashes,
// which code scanning resolves against the repository root.
func fileURI(path string) string {
	return strings.TrimPrefix(filepath.ToSlash(filepath.Clean(path)), "./")
}
