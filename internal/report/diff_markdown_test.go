package report

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/diff"
	"github.com/budnet/budnet/internal/netpol"
)

// TestDiffMarkdownFitsAComment: a change too large for one pull-request
// comment is cut at whole lines, keeps its verdict and sections, and says
// how much was left out and where the rest is.
func TestDiffMarkdownFitsAComment(t *testing.T) {
	tests := []struct {
		name     string
		changes  int
		wantCut  bool
		findings int
	}{
		{name: "small", changes: 10, findings: 3},
		{name: "thousands of connections", changes: 3000, findings: 50, wantCut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &diff.Result{FailOn: audit.SeverityHigh, Platform: "bud"}
			for i := range tt.changes {
				ports := netpol.NewPortSet(netpol.PortRange{Protocol: corev1.ProtocolTCP, Start: int32(1000 + i%50000), End: int32(1000 + i%50000)})
				r.Connections = append(r.Connections, diff.Change{Kind: diff.Added, Src: fmt.Sprintf("bud/svc-%04d[Deployment]", i),
					Dst: "bud/postgresql[StatefulSet]", After: ports, Opened: ports, Intent: diff.Unintended, IntentPorts: ports,
					Head: diff.Decision{Allowed: true, Policies: []string{"bud/allow-everything"}}})
				r.Failures = append(r.Failures, fmt.Sprintf("opens bud/svc-%04d[Deployment] => bud/postgresql[StatefulSet]", i))
			}
			for i := range tt.findings {
				r.NewFindings = append(r.NewFindings, audit.Finding{CheckID: "BUD-6.3-01", Severity: audit.SeverityHigh, Status: audit.StatusFail,
					Subject: fmt.Sprintf("bud/svc-%04d[Deployment] container app: DATABASE_URL", i), Message: "sslmode=disable"})
			}
			var b strings.Builder
			if err := WriteDiffMarkdown(&b, r); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if n := utf8.RuneCountInString(out); n > MaxMarkdownChars {
				t.Fatalf("%d characters, more than a comment holds (%d)", n, MaxMarkdownChars)
			}
			cut := strings.Contains(out, "left out to fit a pull-request comment")
			if cut != tt.wantCut {
				t.Errorf("cut = %v, want %v", cut, tt.wantCut)
			}
			for _, want := range []string{"## budnet diff", "**FAIL**", "### Connections:", "### Checklist:"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if cut && !strings.Contains(out, "-o json") {
				t.Error("a cut comment does not say where the rest is")
			}
			for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
				if strings.HasPrefix(line, "|") && !strings.HasSuffix(line, "|") {
					t.Fatalf("line %d is a table row cut in the middle: %q", i+1, line)
				}
			}
		})
	}
}
