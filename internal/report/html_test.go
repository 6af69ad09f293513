package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/example"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/reach"
)

// htmlTestOptions are fixed so that renders are reproducible.
func htmlTestOptions() HTMLOptions {
	return HTMLOptions{Version: "test", Generated: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
}

// htmlCase is one report the HTML tests render: the audit or reach result of
// an inventory, with what the DOM must then contain.
type htmlCase struct {
	name     string
	audit    *audit.Report // nil for reach
	conn     *HTMLConnectivity
	reach    ReachResult
	matrix   reach.Connectivity
	title    string
	intended bool
}

func (c htmlCase) write(w io.Writer, opts HTMLOptions) error {
	if c.audit != nil {
		return WriteAuditHTML(w, c.audit, c.conn, opts)
	}
	opts.Workloads = c.matrix.Names()
	return WriteReachHTML(w, c.reach, opts)
}

func loadInventory(t testing.TB, file string) *manifest.Inventory {
	t.Helper()
	var name string
	var data []byte
	if file == "" {
		name, data = example.Unhardened()
	} else {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			t.Fatal(err)
		}
		name = file
	}
	// The hostile names and labels of xss.yaml are values the API server
	// refuses; the renderers must escape them all the same.
	inv, err := manifest.LoadBytes(name, data, manifest.Options{AcceptInvalidValues: true})
	if err != nil {
		t.Fatalf("loading %s: %v", name, err)
	}
	return inv
}

// labelCheck reports pod label values as evidence, the way a check about a
// zone or owner label would; no built-in check prints labels today, and the
// escaping test needs label text to reach the page.
var labelCheck = audit.Check{ID: "BUD-3.1-99", Title: "Pod labels", Section: "3.1", Severity: audit.SeverityLow,
	Remediation: "Label pods with their owner.",
	Run: func(c *audit.Context) []audit.Result {
		var out []audit.Result
		for _, w := range c.Inventory.Workloads {
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range w.Labels {
					if !yield(k) {
						return
					}
				}
			})
			for _, k := range keys {
				out = append(out, audit.Result{Status: audit.StatusFail, Subject: w.Ref() + " label " + k,
					Message:  "label " + k + " is " + w.Labels[k],
					Evidence: []audit.Evidence{audit.ObjectEvidence(w.Object, "spec.template.metadata.labels", k+"="+w.Labels[k])}})
			}
		}
		return out
	}}

// auditCase audits file (the embedded example when "") with every check.
func auditCase(t testing.TB, name, file string, extra ...audit.Check) htmlCase {
	t.Helper()
	p, err := platform.Default()
	if err != nil {
		t.Fatal(err)
	}
	c := &audit.Context{Inventory: loadInventory(t, file), Platform: p, Source: "example",
		Now: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
	r := audit.Run(c, append(audit.Checks(), extra...))
	r.Inputs = []string{example.UnhardenedName}
	if file != "" {
		r.Source, r.Inputs = "files", []string{file}
	}
	v := c.Reach()
	if v.Err != nil {
		t.Fatal(v.Err)
	}
	return htmlCase{name: name, audit: r, matrix: v.Matrix, title: "budnet audit report", intended: true,
		conn: &HTMLConnectivity{Connections: v.Matrix.Each, Diff: v.Diff, Workloads: v.Matrix.Names()}}
}

// reachCase computes the matrix of file (the example when ""), compared with
// the embedded model when intended.
func reachCase(t testing.TB, name, file string, intended bool) htmlCase {
	t.Helper()
	inv := loadInventory(t, file)
	in := reach.Build(inv, reach.BuildOptions{})
	eng, err := netpol.New(in.Cluster, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := eng.Matrix()
	res := ReachResult{Meta: reach.Meta{Inputs: []string{file}, Workloads: len(in.Workloads), Pods: in.Pods(),
		Policies: len(in.Cluster.Policies)}, Connections: m.Each}
	if intended {
		p, err := platform.Default()
		if err != nil {
			t.Fatal(err)
		}
		if res.Diff, err = reach.Compare(in, eng, m, p); err != nil {
			t.Fatal(err)
		}
	}
	return htmlCase{name: name, reach: res, matrix: m, title: "budnet reach report", intended: intended}
}

// dom is a parsed page with the lookups the tests need.
type dom struct{ root *html.Node }

func parseDOM(t testing.TB, b []byte) dom {
	t.Helper()
	n, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parsing the page: %v", err)
	}
	return dom{n}
}

func (d dom) each(f func(*html.Node)) {
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			f(n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(d.root)
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// attrValues lists the values of key over all elements.
func (d dom) attrValues(key string) map[string]*html.Node {
	out := map[string]*html.Node{}
	d.each(func(n *html.Node) {
		if v, ok := attr(n, key); ok {
			out[v] = n
		}
	})
	return out
}

func (d dom) elements(tag string) []*html.Node {
	var out []*html.Node
	d.each(func(n *html.Node) {
		if n.Data == tag {
			out = append(out, n)
		}
	})
	return out
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// zoneCells counts allowed and diff connections per zone pair straight from
// the matrix and the diff, the way the report's cells must.
func zoneCells(m reach.Connectivity, diff *reach.Diff) map[string][3]int {
	zone := func(n string) string {
		if m.IsExternal(n) {
			return "(external)"
		}
		ns, _, _ := strings.Cut(n, "/")
		return ns
	}
	out := map[string][3]int{}
	add := func(src, dst string, i int) {
		k := zone(src) + " => " + zone(dst)
		v := out[k]
		v[i]++
		out[k] = v
	}
	m.Each(func(c netpol.Connection) bool { add(c.Src, c.Dst, 0); return true })
	if diff != nil {
		for _, d := range diff.OverPermissive {
			add(d.Src, d.Dst, 1)
		}
		for _, d := range diff.Broken {
			add(d.Src, d.Dst, 2)
		}
	}
	return out
}

// checkContent asserts that the page holds every finding (by check ID and
// subject) and every zone-pair cell with the right counts.
func checkContent(t *testing.T, c htmlCase, d dom) {
	t.Helper()
	if c.audit != nil {
		got := d.attrValues("data-finding")
		for _, f := range c.audit.Findings {
			if got[f.CheckID+" "+f.Subject] == nil {
				t.Errorf("finding %s %q missing", f.CheckID, f.Subject)
			}
		}
		if len(got) != len(c.audit.Findings) {
			t.Errorf("%d findings on the page, want %d", len(got), len(c.audit.Findings))
		}
	}
	var diff *reach.Diff
	if c.conn != nil {
		diff = c.conn.Diff
	} else {
		diff = c.reach.Diff
	}
	want := zoneCells(c.matrix, diff)
	got := d.attrValues("data-cell")
	if len(want) == 0 || len(got) != len(want) {
		t.Errorf("%d cells on the page, want %d (%v)", len(got), len(want), want)
	}
	for k, v := range want {
		n := got[k]
		if n == nil {
			t.Errorf("cell %q missing", k)
			continue
		}
		for i, key := range []string{"data-allowed", "data-over", "data-broken"} {
			if s, _ := attr(n, key); s != strconv.Itoa(v[i]) {
				t.Errorf("cell %q %s = %s, want %d", k, key, s, v[i])
			}
		}
	}
	if !c.intended {
		for _, n := range got {
			if cls, _ := attr(n, "class"); !strings.HasPrefix(cls, "allowed ") {
				t.Errorf("without --intended a cell is %q, want allowed only", cls)
			}
		}
	}
}

// checkInert asserts that hostile text stayed text: the only script is the
// report's own, no img or event-handler attribute exists, and the payloads
// are readable on the page.
func checkInert(t *testing.T, d dom, title string, payloads []string) {
	t.Helper()
	scripts := d.elements("script")
	if len(scripts) != 1 || strings.Contains(textOf(scripts[0]), "PWNED") {
		t.Errorf("%d script elements (want only the report's own)", len(scripts))
	}
	if imgs := d.elements("img"); len(imgs) > 0 {
		t.Errorf("%d img elements injected", len(imgs))
	}
	d.each(func(n *html.Node) {
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has event handler %s=%q", n.Data, a.Key, a.Val)
			}
		}
	})
	if ts := d.elements("title"); len(ts) != 1 || textOf(ts[0]) != title {
		t.Errorf("title changed: %v", ts)
	}
	text := textOf(d.root)
	for _, p := range payloads {
		if !strings.Contains(text, p) {
			t.Errorf("payload %q not shown as text", p)
		}
	}
}

var xssPayloads = []string{
	`evil"><img src=x onerror="document.title='PWNED'">`,                 // workload name
	`<script>window.__pwned=1,document.title='PWNED'</script>`,           // annotation and label
	`owner="><img src=x onerror="document.title='PWNED'">`,               // label
	`accepted: <script>window.__pwned=1,document.title='PWNED'</script>`, // annotation
}

func xssCases(t *testing.T) []htmlCase {
	file := filepath.Join("testdata", "html", "xss.yaml")
	return []htmlCase{
		auditCase(t, "audit", file, labelCheck),
		reachCase(t, "reach", file, true),
	}
}

func TestHTMLEscapesObjectText(t *testing.T) {
	for _, c := range xssCases(t) {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := c.write(&buf, htmlTestOptions()); err != nil {
				t.Fatal(err)
			}
			payloads := xssPayloads[:1]
			if c.audit != nil {
				payloads = xssPayloads
			}
			checkInert(t, parseDOM(t, buf.Bytes()), c.title, payloads)
		})
	}
}

func TestHTMLExampleContent(t *testing.T) {
	for _, c := range []htmlCase{
		auditCase(t, "audit example", ""),
		reachCase(t, "reach example intended", "", true),
		reachCase(t, "reach example", "", false),
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := htmlTestOptions()
			opts.MaxFindingsPerCheck = 1 << 20
			var buf bytes.Buffer
			if err := c.write(&buf, opts); err != nil {
				t.Fatal(err)
			}
			checkContent(t, c, parseDOM(t, buf.Bytes()))
		})
	}
}

// syntheticConnections is every ordered pair of zones×perZone workloads.
func syntheticConnections(zones, perZone int) (func(func(netpol.Connection) bool), []string) {
	var names []string
	for z := range zones {
		for w := range perZone {
			names = append(names, fmt.Sprintf("zone-%02d/app-%04d[Deployment]", z, w))
		}
	}
	ports := netpol.NewPortSet(netpol.PortRange{Protocol: "TCP", Start: 8080, End: 8080})
	return func(yield func(netpol.Connection) bool) {
		for _, s := range names {
			for _, d := range names {
				if s != d && !yield(netpol.Connection{Src: s, Dst: d, Ports: ports}) {
					return
				}
			}
		}
	}, names
}

func TestHTMLCapsBoundTheOutput(t *testing.T) {
	tests := []struct {
		name                    string
		zones, perZone          int
		maxWorkloads, maxEdges  int
		wantOmittedW, wantOmitE string
		maxBytes                int
	}{
		{name: "defaults at 600 workloads", zones: 3, perZone: 200, maxBytes: 4 << 20,
			wantOmitE: "569 more not shown"},
		{name: "small caps", zones: 4, perZone: 60, maxWorkloads: 10, maxEdges: 3, maxBytes: 200 << 10,
			wantOmittedW: "50 more workloads in zone-03 not shown", wantOmitE: "236 more not shown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conns, names := syntheticConnections(tt.zones, tt.perZone)
			opts := htmlTestOptions()
			opts.Workloads, opts.MaxWorkloadsPerZone, opts.MaxEdgesPerWorkload = names, tt.maxWorkloads, tt.maxEdges
			var buf bytes.Buffer
			if err := WriteReachHTML(&buf, ReachResult{Connections: conns}, opts); err != nil {
				t.Fatal(err)
			}
			if buf.Len() > tt.maxBytes {
				t.Errorf("%d bytes, want at most %d", buf.Len(), tt.maxBytes)
			}
			d := parseDOM(t, buf.Bytes())
			cells := d.attrValues("data-cell")
			if len(cells) != tt.zones*tt.zones {
				t.Errorf("%d cells, want %d", len(cells), tt.zones*tt.zones)
			}
			for k, n := range cells {
				want := tt.perZone * tt.perZone
				if s, dst, _ := strings.Cut(k, " => "); s == dst {
					want -= tt.perZone
				}
				if got, _ := attr(n, "data-allowed"); got != strconv.Itoa(want) {
					t.Errorf("cell %s allowed %s, want %d", k, got, want)
				}
			}
			text := textOf(d.root)
			for _, s := range []string{tt.wantOmittedW, tt.wantOmitE} {
				if s != "" && !strings.Contains(text, s) {
					t.Errorf("page does not say %q", s)
				}
			}
		})
	}
}

// TestHTMLGolden pins the page for the audit fixture (no connectivity) and
// for reach over the hostile fixture, so template changes show up in review.
func TestHTMLGolden(t *testing.T) {
	tests := []struct {
		name, golden string
		write        func(io.Writer) error
	}{
		{name: "audit fixture", golden: "audit-fixture.html.golden", write: func(w io.Writer) error {
			return WriteAuditHTML(w, fixtureReport(t), nil, htmlTestOptions())
		}},
		{name: "reach xss", golden: "reach-xss.html.golden", write: func(w io.Writer) error {
			return reachCase(t, "reach", filepath.Join("testdata", "html", "xss.yaml"), true).write(w, htmlTestOptions())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "html", tt.golden)
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from %s (run with -update to accept)", tt.name, golden)
			}
		})
	}
}
