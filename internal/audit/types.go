// Package audit computes the guide's hardening checklist from what is
// deployed: each check judges an inventory of objects (manifests, a rendered
// chart or a live cluster) against the platform model and returns findings
// with evidence. Checks are pure: no I/O, no printing; report renders them.
package audit

import (
	"github.com/budnet/budnet/internal/severity"
	"time"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/reach"
)

// Severity ranks findings; it is budnet's one severity scale (internal/severity).
type Severity = severity.Level

// Severities, lowest first.
const (
	SeverityInfo     = severity.Info
	SeverityLow      = severity.Low
	SeverityMedium   = severity.Medium
	SeverityHigh     = severity.High
	SeverityCritical = severity.Critical
)

// ParseSeverity reads a severity name (case-insensitive).
func ParseSeverity(s string) (Severity, error) { return severity.Parse(s) }

// Status is the outcome of a check for one subject.
type Status string

// Statuses.
const (
	StatusPass          Status = "pass"
	StatusFail          Status = "fail"
	StatusPartial       Status = "partial"
	StatusNotApplicable Status = "not-applicable"
)

// Failing reports whether the status counts against --fail-on.
func (s Status) Failing() bool { return s == StatusFail || s == StatusPartial }

// Evidence locates what a finding is about: an object and field with file and
// line, or a connection, and what was found there.
type Evidence struct {
	// Object is "namespace/name[Kind]" (or "name[Kind]" when cluster-scoped).
	Object string `json:"object,omitempty"`
	// Field is the field path inside the object ("spec.template.spec.containers[0].env[3]").
	Field string `json:"field,omitempty"`
	// File and Line locate the object or field; Template is the Helm template.
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Template string `json:"template,omitempty"`
	// Connection is "src => dst : ports" for matrix findings.
	Connection string `json:"connection,omitempty"`
	// Policies are the NetworkPolicies deciding a connection.
	Policies []string `json:"policies,omitempty"`
	// Detail says what was found ("sslmode=disable", "mtls.enabled is the string \"false\"").
	Detail string `json:"detail,omitempty"`
}

// ObjectEvidence builds evidence pointing at field of o (the whole object when field is "").
func ObjectEvidence(o *manifest.Object, field, detail string) Evidence {
	e := Evidence{Object: o.Ref(), Field: field, File: o.Source.File, Line: o.Source.Line, Template: o.Source.Template, Detail: detail}
	if field != "" {
		e.Line = o.LineOf(field)
	}
	return e
}

// Result is what a check says about one subject (an object, a namespace, a
// connection, or the platform as a whole).
type Result struct {
	Status Status
	// Subject names what was judged; findings are keyed by check and subject,
	// which suppressions match.
	Subject  string
	Message  string
	Evidence []Evidence
}

// Check is one item of the checklist.
type Check struct {
	// ID is stable: BUD-<guide section>-<NN>, e.g. BUD-3.2-01. Never reuse or renumber.
	ID    string
	Title string
	// Section is the guide section the check implements ("3.2", "6.3", "11").
	Section  string
	Severity Severity
	// Remediation says how to fix a failure, naming what `budnet generate` emits.
	Remediation string
	// Run judges the context. It returns one result per subject; no result
	// means the check does not apply.
	Run func(*Context) []Result
	// Doc holds the examples docs/checks.md shows: manifests that fail and pass.
	Doc Doc
}

// Doc is a check's documentation examples (YAML manifests).
type Doc struct {
	Fails, Passes string
}

// Context is what checks read. Reach is computed on first use.
type Context struct {
	Inventory *manifest.Inventory
	Platform  *platform.Platform
	// Source says what was scanned: "files", "chart", "cluster" or "example".
	Source string
	// Now is the time certificate expiry is judged against; the zero value
	// means the clock at the time of the check.
	Now time.Time

	reach *ReachView
	// probe is the policy engine with the isolation probes (check_probe.go),
	// built once for the checks that share it.
	probe *probe

	// Connectivity, when set, is the matrix of the inventory's reach.Build
	// cluster, kept by the caller (the controller's incremental engine):
	// Reach uses it instead of computing Engine.Matrix().
	Connectivity reach.Connectivity
}

// ReachView is the connectivity analysis of the inventory.
type ReachView struct {
	Input  *reach.Input
	Engine *netpol.Engine
	// Matrix is Engine.Matrix(), or Context.Connectivity when the caller
	// keeps the matrix itself (the controller's incremental evaluator).
	Matrix reach.Connectivity
	Diff   *reach.Diff
	Err    error
}

// Reach returns the connectivity analysis, computing it once.
func (c *Context) Reach() *ReachView {
	if c.reach != nil {
		return c.reach
	}
	v := &ReachView{Input: reach.Build(c.Inventory, reach.BuildOptions{})}
	v.Engine, v.Err = netpol.New(v.Input.Cluster, netpol.Options{})
	if v.Err == nil {
		if c.Connectivity != nil {
			v.Matrix = c.Connectivity
		} else {
			v.Matrix = v.Engine.Matrix()
		}
		if c.Platform != nil {
			v.Diff, v.Err = reach.Compare(v.Input, v.Engine, v.Matrix, c.Platform)
		}
	}
	c.reach = v
	return v
}

// Finding is a check's result with the check's identity, as reports print it.
type Finding struct {
	CheckID     string     `json:"checkId"`
	Title       string     `json:"title"`
	Section     string     `json:"section"`
	Severity    Severity   `json:"severity"`
	Status      Status     `json:"status"`
	Subject     string     `json:"subject"`
	Message     string     `json:"message"`
	Evidence    []Evidence `json:"evidence,omitempty"`
	Remediation string     `json:"remediation,omitempty"`
	// Suppressed findings are listed but do not count against --fail-on.
	Suppressed        bool   `json:"suppressed,omitempty"`
	SuppressionReason string `json:"suppressionReason,omitempty"`
	// SuppressionExpired says which suppression stopped holding (its
	// until: date passed): the finding counts again, and says why.
	SuppressionExpired string `json:"suppressionExpired,omitempty"`
	// Baselined findings were already failing in the baseline
	// (audit --baseline): listed, but not counted against --fail-on.
	Baselined bool `json:"baselined,omitempty"`
}

// Counts reports whether f counts against --fail-on: failing (or partly),
// not suppressed, and not already in the baseline.
func (f *Finding) Counts() bool { return f.Status.Failing() && !f.Suppressed && !f.Baselined }
