package cli

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// TestHTMLOutput runs `-o html` through the real command tree and checks the
// page is self-contained: no attribute loads anything from elsewhere (no
// src, no external href, no stylesheet link), so it opens offline.
func TestHTMLOutput(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{name: "audit example", args: []string{"audit", "--example", "-o", "html"}, wantCode: 1,
			want: []string{"11. Hardening Checklist", "data-finding=", "data-cell=", "intended and allowed"}},
		{name: "reach example intended", args: []string{"reach", "--example", "--intended", "-o", "html"},
			want: []string{"data-cell=", "over-permissive (allowed, not intended)", "bud-ai-foundry"}},
		{name: "reach example allowed only", args: []string{"reach", "--example", "-o", "html"},
			want: []string{"data-cell=", "run with --intended"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, "", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tt.wantCode, errOut)
			}
			if !strings.HasPrefix(out, "<!DOCTYPE html>") {
				t.Fatalf("not an HTML page: %.80q", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if !strings.Contains(out, `id="budnet-version">`+BuildVersion().Version+"<") {
				t.Errorf("page does not name budnet %s", BuildVersion().Version)
			}
			doc, err := html.Parse(strings.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			var walk func(*html.Node)
			walk = func(n *html.Node) {
				if n.Type == html.ElementNode {
					for _, a := range n.Attr {
						if a.Key == "src" || (a.Key == "href" && !strings.HasPrefix(a.Val, "#")) || n.Data == "link" {
							t.Errorf("<%s %s=%q> loads from elsewhere", n.Data, a.Key, a.Val)
						}
					}
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
			}
			walk(doc)
			if strings.Contains(out, "@import") || strings.Contains(out, "url(") {
				t.Error("CSS loads from elsewhere")
			}
		})
	}
}

func TestHTMLUsage(t *testing.T) {
	code, _, errOut := run(t, "", "reach", "--example", "--from", "bud/budapp", "--to", "bud/bud-postgresql", "--port", "5432", "-o", "html")
	if code != 2 || !strings.Contains(errOut, "-o html") {
		t.Errorf("exit %d (%s), want 2 naming -o html", code, errOut)
	}
}
