package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/manifest"
)

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html).
// Only the objects budnet fills are modelled. GitHub code scanning reads
// rules' properties.security-severity for its severity column and needs a
// physicalLocation with region.startLine on every result
// (https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning).
//
// The structs are hand-written rather than github.com/owenrumney/go-sarif
// (v2.3.3 and v3.3.1 evaluated): its generated types marshal a run with
// seventeen empty arrays and "language", artifactLocation.index is a plain int
// whose zero value points at artifacts[0] (a dangling reference unless every
// location is built with its constructor), AddOriginalUriBaseId writes to a
// nil map, and it brings gojsonschema, testify and uuid into go.mod. What the
// library would give, schema validity, is checked here by a test against the
// OASIS schema itself (testdata/sarif-schema-2.1.0.json).
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	// sarifSrcRoot is the uriBaseId of every relative URI: the repository
	// root, under the name CodeQL and GitHub use.
	sarifSrcRoot = "%SRCROOT%"
)

// ProjectURL is budnet's home, the base of the SARIF informationUri and of
// each rule's helpUri (docs/checks.md on GitHub). Set it at link time with
// -ldflags "-X github.com/budnet/budnet/internal/report.ProjectURL=https://...".
var ProjectURL = "https://github.com/budnet/budnet"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
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
	HelpURI              string         `json:"helpUri,omitempty"`
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
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints,omitempty"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	// BaselineState is "new" or "unchanged" against audit --baseline
	// (SARIF 2.1.0 section 3.27.24).
	BaselineState string         `json:"baselineState,omitempty"`
	Properties    map[string]any `json:"properties,omitempty"`
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
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
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

// SARIFOptions configure WriteAuditSARIF.
type SARIFOptions struct {
	// Version is budnet's version, for tool.driver.version.
	Version string
	// Locate finds the file and line of objects that findings name only
	// logically (connections, namespaces); nil locates by evidence alone.
	Locate *Locator
	// BaseDir is the directory relative URIs are computed against (the
	// repository root, usually the working directory); absolute paths
	// outside it stay absolute file URIs.
	BaseDir string
	// Limits caps the log; the zero value means GitHubLimits.
	Limits SARIFLimits
	// Warn receives a line when the log was cut to fit the limits (stderr).
	Warn io.Writer
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
// result per failing (or partly failing) finding, each with a physical
// location (see Locator). Suppressed findings carry a suppression, as code
// scanning expects. Passing findings are not results: SARIF consumers show
// every result as an alert. A log over opts.Limits is cut, most severe
// results kept, and says so in the run's properties, in a notification and
// on opts.Warn. The log is built in memory because its compressed size must
// be known before it is written.
func WriteAuditSARIF(w io.Writer, r *audit.Report, opts SARIFOptions) error {
	lim := opts.Limits.orDefault()
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: "budnet", Version: opts.Version, InformationURI: ProjectURL, Rules: []sarifRule{},
		}},
		Results: []sarifResult{},
	}
	// The last resort of a location: the first input named, even when it is
	// no repository file (a cluster, budnet's embedded example), since code
	// scanning refuses a result without one.
	var fallback SourceLine
	if len(r.Inputs) > 0 {
		fallback = SourceLine{File: strings.TrimPrefix(r.Inputs[0], "embedded:"), Line: 1}
	}
	index := map[string]int{}
	for i, c := range r.Checks {
		index[c.ID] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleOf(c, lim))
	}
	for _, f := range r.Findings {
		if !f.Status.Failing() {
			continue
		}
		i, ok := index[f.CheckID]
		if !ok {
			return fmt.Errorf("finding of %s, which is not among the report's checks", f.CheckID)
		}
		res, err := sarifResultOf(f, i, fallback, opts, lim)
		if err != nil {
			return err
		}
		if r.Baseline != nil {
			res.BaselineState = map[bool]string{true: "unchanged", false: "new"}[f.Baselined]
		}
		run.Results = append(run.Results, res)
	}
	out, cut, err := fitSARIF(run, r, lim)
	if err != nil {
		return err
	}
	if cut != "" && opts.Warn != nil {
		fmt.Fprintf(opts.Warn, "budnet: SARIF cut to fit GitHub code scanning's limits: %s\n", cut)
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("writing SARIF: %w", err)
	}
	return nil
}

func encodeSARIF(run sarifRun) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}); err != nil {
		return nil, fmt.Errorf("encoding SARIF: %w", err)
	}
	return buf.Bytes(), nil
}

// ChecksDocURL is the helpUri of a check: its heading in docs/checks.md.
func ChecksDocURL(checkID string) string {
	return strings.TrimSuffix(ProjectURL, "/") + "/blob/main/docs/checks.md#" + githubAnchor(checkID)
}

// githubAnchor is the fragment GitHub gives a Markdown heading: lower case,
// every character but letters, digits, spaces, '-' and '_' dropped, spaces
// made '-' ("BUD-3.2-01" becomes "bud-32-01").
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

func sarifRuleOf(c audit.Check, lim SARIFLimits) sarifRule {
	full := fmt.Sprintf("%s (guide section %s, severity %s).", c.Title, c.Section, c.Severity)
	tags := []string{"security", "kubernetes", "network", "guide-" + c.Section}
	return sarifRule{
		ID:                   c.ID,
		Name:                 ruleName(c.Title),
		ShortDescription:     sarifText{Text: c.Title},
		FullDescription:      sarifText{Text: full},
		Help:                 sarifText{Text: c.Remediation, Markdown: "**Remediation:** " + c.Remediation},
		HelpURI:              ChecksDocURL(c.ID),
		DefaultConfiguration: sarifRuleConf{Level: sarifLevel(c.Severity)},
		Properties: map[string]any{
			"security-severity": securitySeverity(c.Severity),
			"tags":              tags[:min(len(tags), lim.TagsPerRule)],
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

func sarifResultOf(f audit.Finding, ruleIndex int, fallback SourceLine, opts SARIFOptions, lim SARIFLimits) (sarifResult, error) {
	res := sarifResult{
		RuleID: f.CheckID, RuleIndex: ruleIndex, Level: sarifLevel(f.Severity),
		Message:    sarifText{Text: fmt.Sprintf("%s: %s", f.Subject, f.Message)},
		Properties: map[string]any{"status": string(f.Status), "subject": f.Subject},
	}
	if f.Status == audit.StatusPartial && res.Level == "error" {
		res.Level = "warning"
	}
	located := false
	for _, e := range f.Evidence {
		if loc, ok := sarifLocationOf(e, opts.BaseDir); ok {
			located = located || loc.PhysicalLocation != nil
			res.Locations = append(res.Locations, loc)
		}
	}
	if !located {
		// GitHub rejects the whole upload for one result without a
		// physical location: find the object, else the model, else the
		// first input file.
		src, ok := opts.Locate.locate(findingNames(f.Subject, f.Evidence))
		if !ok {
			src, ok = fallback, fallback.File != ""
		}
		if !ok {
			return res, fmt.Errorf("%s %s: no file or line to locate the finding at (SARIF needs one for code scanning)", f.CheckID, f.Subject)
		}
		phys := &sarifPhysical{ArtifactLocation: artifactOf(src.File, opts.BaseDir), Region: &sarifRegion{StartLine: max(src.Line, 1)}}
		if len(res.Locations) == 0 {
			res.Locations = []sarifLocation{{PhysicalLocation: phys}}
		} else {
			res.Locations[0].PhysicalLocation = phys
		}
	}
	if n := len(res.Locations); n > lim.LocationsPerResult {
		res.Locations = res.Locations[:lim.LocationsPerResult]
		res.Properties["locationsCut"] = n - lim.LocationsPerResult
	}
	// Fingerprint on check and subject, not line, so an alert survives edits
	// that move the object.
	sum := sha256.Sum256([]byte(f.CheckID + "\x00" + f.Subject))
	res.PartialFingerprints = map[string]string{"budnetFinding/v1": hex.EncodeToString(sum[:16])}
	if f.Suppressed {
		res.Suppressions = []sarifSuppression{{Kind: "external", Justification: f.SuppressionReason}}
	}
	return res, nil
}

// sarifLocationOf locates evidence: a file region when it has a file, an
// object (a cluster resource) otherwise. Helm evidence points at the
// template file; its line is in the rendered output, which differs from the
// template's, so the region is the template's first line and the rendered
// line goes in the message.
func sarifLocationOf(e audit.Evidence, base string) (sarifLocation, bool) {
	var loc sarifLocation
	if !linkable(e.File) {
		e.File = ""
	}
	switch {
	case e.File != "" && e.Template == "":
		loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: artifactOf(e.File, base), Region: &sarifRegion{StartLine: max(e.Line, 1)}}
	case e.File != "":
		loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: artifactOf(e.File, base), Region: &sarifRegion{StartLine: 1}}
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

// artifactOf renders a path as a URI: relative to base (the repository root)
// with uriBaseId %SRCROOT% when it is inside it, which code scanning resolves
// against the checkout; an absolute file URI otherwise.
func artifactOf(path, base string) sarifArtifact {
	p := filepath.Clean(path)
	if filepath.IsAbs(p) && base != "" {
		if rel, err := filepath.Rel(base, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			p = rel
		}
	}
	if filepath.IsAbs(p) {
		return sarifArtifact{URI: "file://" + uriEscape(filepath.ToSlash(p))}
	}
	return sarifArtifact{URI: uriEscape(strings.TrimPrefix(filepath.ToSlash(p), "./")), URIBaseID: sarifSrcRoot}
}

// fileURI renders a path as a relative URI reference with forward slashes,
// which code scanning and Markdown links resolve against the repository root.
func fileURI(path string) string {
	return strings.TrimPrefix(filepath.ToSlash(filepath.Clean(path)), "./")
}

// uriEscape percent-encodes what a URI path may not hold (RFC 3986 section
// 3.3), keeping '/'.
func uriEscape(p string) string {
	var b strings.Builder
	for _, c := range []byte(p) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/!$&'()*+,;=:@", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
