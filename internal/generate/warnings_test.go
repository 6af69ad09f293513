package generate_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/platform"
)

func warningsOf(t *testing.T, p *platform.Platform) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, w := range generate.Warnings(p, generate.Options{}) {
		if _, dup := out[w.Field]; dup {
			t.Errorf("two warnings for %s", w.Field)
		}
		out[w.Field] = w.String()
	}
	return out
}

// TestPlaceholderWarnings: the Bud reference model carries placeholders,
// and generate names each with its model line: the control-plane CIDR
// (saying that the Dapr injector fails open), the admin and monitoring
// ranges, the example edge hosts and the ACME contact.
func TestPlaceholderWarnings(t *testing.T) {
	p := loadModel(t, "")
	got := warningsOf(t, p)
	cp := slices.IndexFunc(p.Spec.SourceGroups, func(g platform.CIDRGroup) bool { return g.Name == "control-plane" })
	want := map[string][]string{
		"spec.sourceGroups[" + strconv.Itoa(cp) + "].cidrs[0]": {"192.0.2.0/28", "documentation", "dapr-sidecar-injector", "fails open", "WITHOUT Dapr sidecars"},
		"spec.tls.issuer.email":                                {"security@bud.example.com", "example.com"},
	}
	for i, h := range p.Spec.Edge.Hosts {
		want["spec.edge.hosts["+strconv.Itoa(i)+"].name"] = []string{h.Name}
	}
	for field, parts := range want {
		w, ok := got[field]
		if !ok {
			t.Errorf("no warning for %s; got %v", field, got)
			continue
		}
		for _, part := range parts {
			if !strings.Contains(w, part) {
				t.Errorf("warning %q lacks %q", w, part)
			}
		}
		if !strings.Contains(w, ".yaml:") {
			t.Errorf("warning %q names no file and line", w)
		}
	}
	if _, ok := got["spec.tls.issuer"]; ok {
		t.Errorf("self-check warning on the Bud model, whose flows allow it: %s", got["spec.tls.issuer"])
	}
}

// TestNoWarningsForRealValues: a model with real addresses, domains and
// contact has no placeholder warnings; the placeholder tests can fail.
func TestNoWarningsForRealValues(t *testing.T) {
	p := loadModel(t, "")
	for i := range p.Spec.SourceGroups {
		g := &p.Spec.SourceGroups[i]
		for j, c := range g.CIDRs {
			switch {
			case strings.Contains(c, ":") && c != "::/0":
				g.CIDRs[j] = "2a00:1450:4001::/48"
			case c != "0.0.0.0/0" && c != "::/0":
				g.CIDRs[j] = "100.64.10.0/28"
			}
		}
	}
	rename := func(h string) string { return strings.Replace(h, "bud.example.com", "bud.acme-corp.io", 1) }
	for i := range p.Spec.Edge.Hosts {
		h := &p.Spec.Edge.Hosts[i]
		h.Name = rename(h.Name)
		for j := range h.Calls {
			h.Calls[j] = rename(h.Calls[j])
		}
	}
	for i := range p.Spec.Flows.Egress {
		for j, h := range p.Spec.Flows.Egress[i].Hosts {
			p.Spec.Flows.Egress[i].Hosts[j] = rename(h)
		}
	}
	p.Spec.TLS.Issuer.Email = "security@acme-corp.io"
	if got := warningsOf(t, p); len(got) != 0 {
		t.Errorf("warnings for real values: %v", got)
	}
}

// TestACMESelfCheckWarning: without the egress flow that lets cert-manager
// fetch http://HOST/.well-known/acme-challenge/..., the acme issuer's
// self-check never passes; generate says which hosts and why.
func TestACMESelfCheckWarning(t *testing.T) {
	p := loadModel(t, "")
	i := slices.IndexFunc(p.Spec.Flows.Egress, func(f platform.EgressFlow) bool { return f.Name == "cert-manager-http01-self-check" })
	if i < 0 {
		t.Fatal("the Bud model has no cert-manager-http01-self-check flow")
	}
	f := &p.Spec.Flows.Egress[i]
	f.Hosts = slices.DeleteFunc(slices.Clone(f.Hosts), func(h string) bool { return h == "admin.bud.example.com" })
	w := warningsOf(t, p)["spec.tls.issuer"]
	if !strings.Contains(w, "admin.bud.example.com (host_not_allowed)") || strings.Contains(w, "app.bud.example.com") {
		t.Errorf("self-check warning %q, want admin.bud.example.com alone", w)
	}
}
