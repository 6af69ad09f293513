package report

import (
	"bufio"
	"embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

// The template is executed by html/template, whose contextual escaping is
// what keeps object-supplied text (names, annotations, labels, evidence)
// inert: no value is ever passed as template.HTML, template.JS or
// template.URL. https://pkg.go.dev/html/template#hdr-Security_Model
//
//go:embed html/report.html.tmpl
var htmlFS embed.FS

// Default caps keep the file bounded: a 2,000-workload cluster has 4 million
// ordered pairs, which the heat map aggregates by zone and the per-zone views
// cut short with counts of what was left out.
const (
	defaultMaxFindingsPerCheck = 200
	defaultMaxWorkloadsPerZone = 250
	defaultMaxEdgesPerWorkload = 30
)

// HTMLOptions say who produced an HTML report and how much detail it keeps.
type HTMLOptions struct {
	// Version is budnet's version, printed in the header.
	Version string
	// Generated is when the report was made; the zero value means now.
	Generated time.Time
	// Workloads are every workload and address entity name of the matrix
	// (netpol.Matrix.Names), so that workloads without any allowed
	// connection still appear in their zone. Optional.
	Workloads []string
	// MaxFindingsPerCheck, MaxWorkloadsPerZone and MaxEdgesPerWorkload cap
	// the detail lists; zero means the defaults (200, 250, 30). Findings
	// that share a cause are one row, and the cap counts rows and the
	// members one row lists.
	MaxFindingsPerCheck int
	MaxWorkloadsPerZone int
	MaxEdgesPerWorkload int
}

func (o HTMLOptions) withDefaults() HTMLOptions {
	if o.Generated.IsZero() {
		o.Generated = time.Now()
	}
	if o.MaxFindingsPerCheck <= 0 {
		o.MaxFindingsPerCheck = defaultMaxFindingsPerCheck
	}
	if o.MaxWorkloadsPerZone <= 0 {
		o.MaxWorkloadsPerZone = defaultMaxWorkloadsPerZone
	}
	if o.MaxEdgesPerWorkload <= 0 {
		o.MaxEdgesPerWorkload = defaultMaxEdgesPerWorkload
	}
	if o.Version == "" {
		o.Version = "unknown"
	}
	return o
}

// HTMLConnectivity is the connectivity an audit report draws: the matrix's
// connections, streamed, and the comparison with the model when there is one.
type HTMLConnectivity struct {
	Connections func(yield func(netpol.Connection) bool)
	Diff        *reach.Diff
	// Workloads are the matrix's names (netpol.Matrix.Names), so workloads
	// without any allowed connection still appear in their zone.
	Workloads []string
	// Err says why the connectivity could not be computed; the report says so
	// instead of drawing an empty heat map.
	Err error
}

// htmlPage is everything the template reads. All strings are plain text:
// the template escapes them.
type htmlPage struct {
	Kind      string // "audit" or "reach"
	Title     string
	Version   string
	Generated string
	Source    string
	Inputs    []string
	Platform  string
	Facts     []htmlFact
	Notes     []string
	Warnings  []string

	Checklist []htmlChecklistGroup
	Sections  []htmlSection

	ConnErr string
	Matrix  *htmlMatrix
	Zones   []*htmlZone
}

type htmlFact struct {
	Label string
	Value int
	Class string
}

// WriteAuditHTML writes one self-contained HTML page (inline CSS and script,
// no network access when opened): summary, the section 11 checklist linked to
// the findings, the findings by guide section with evidence and remediation,
// and, when conn is not nil, the zone heat map and per-zone workload views.
func WriteAuditHTML(w io.Writer, r *audit.Report, conn *HTMLConnectivity, opts HTMLOptions) error {
	opts = opts.withDefaults()
	p := &htmlPage{Kind: "audit", Title: "budnet audit", Source: r.Source, Inputs: r.Inputs, Platform: r.Platform}
	p.Facts = auditFacts(r)
	p.Warnings = r.Warnings
	p.Checklist = htmlChecklist(r)
	p.Sections = htmlSections(r, opts.MaxFindingsPerCheck)
	if conn != nil {
		if conn.Err != nil {
			p.ConnErr = conn.Err.Error()
		} else {
			if conn.Workloads != nil {
				opts.Workloads = conn.Workloads
			}
			p.Matrix, p.Zones = aggregate(conn.Connections, conn.Diff, opts)
		}
	}
	return writeHTML(w, p, opts)
}

// WriteReachHTML writes `budnet reach -o html`: the summary, the zone heat
// map (allowed connections only without --intended) and per-zone workload
// views, with the over-permissive and broken flows when r.Diff is set.
func WriteReachHTML(w io.Writer, r ReachResult, opts HTMLOptions) error {
	opts = opts.withDefaults()
	p := &htmlPage{Kind: "reach", Title: "budnet reach", Source: "manifests", Inputs: r.Meta.Inputs, Platform: r.Meta.Platform}
	p.Notes = append(p.Notes, "ipBlock "+ipBlockNote(r.Meta.IPBlockMatchesPods))
	p.Notes = append(p.Notes, r.Meta.Notes...)
	p.Matrix, p.Zones = aggregate(r.Connections, r.Diff, opts)
	p.Facts = []htmlFact{
		{Label: "workloads", Value: r.Meta.Workloads},
		{Label: "pods", Value: r.Meta.Pods},
		{Label: "network policies", Value: r.Meta.Policies},
		{Label: "allowed connections", Value: p.Matrix.Allowed, Class: "allowed"},
	}
	if r.Diff != nil {
		p.Facts = append(p.Facts,
			htmlFact{Label: "over-permissive", Value: len(r.Diff.OverPermissive), Class: "over"},
			htmlFact{Label: "broken", Value: len(r.Diff.Broken), Class: "broken"},
			htmlFact{Label: "unmatched model workloads", Value: len(r.Diff.Unmatched)})
		for _, u := range r.Diff.Unmatched {
			p.Warnings = append(p.Warnings, "model workload "+u+" matched no manifest workload; its flows were not judged")
		}
	}
	return writeHTML(w, p, opts)
}

func writeHTML(w io.Writer, p *htmlPage, opts HTMLOptions) error {
	p.Version = opts.Version
	p.Generated = opts.Generated.UTC().Format(time.RFC3339)
	tmpl, err := template.New("report.html.tmpl").Funcs(template.FuncMap{
		"join": strings.Join,
	}).ParseFS(htmlFS, "html/report.html.tmpl")
	if err != nil {
		return fmt.Errorf("parsing the html template: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := tmpl.Execute(bw, p); err != nil {
		return fmt.Errorf("writing html report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing html report: %w", err)
	}
	return nil
}

func auditFacts(r *audit.Report) []htmlFact {
	s := r.Summary
	facts := []htmlFact{
		{Label: "checks", Value: s.Checks},
		{Label: "findings", Value: s.Findings},
		{Label: "pass", Value: s.Pass, Class: "pass"},
		{Label: "fail", Value: s.Fail, Class: "fail"},
		{Label: "partial", Value: s.Partial, Class: "partial"},
		{Label: "not applicable", Value: s.NotApplicable, Class: "na"},
		{Label: "suppressed", Value: s.Suppressed, Class: "na"},
	}
	for sev := audit.SeverityCritical; sev >= audit.SeverityInfo; sev-- {
		facts = append(facts, htmlFact{Label: "failing " + sev.String(), Value: s.FailingBySeverity[sev.String()], Class: "sev-" + sev.String()})
	}
	return facts
}
