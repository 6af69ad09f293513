package generate_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/egress"
	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/verdict"
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

// TestAllowsEgressAgreesWithGateway: the decision generate's ACME warning
// takes from the model (platform.AllowsEgress) is the egress gateway's own
// (egress.Decide on the policy it compiles from the same model), allowed or
// refused and for the same reason, for every workload of every example
// model, on the model's hosts, names under and beside its wildcards, other
// spellings, and ports in and out of its flows.
func TestAllowsEgressAgreesWithGateway(t *testing.T) {
	for _, file := range []string{"", "../../examples/platforms/minimal.yaml", "../../examples/platforms/egress-gateway.yaml", "../../examples/platforms/wildcard-egress.yaml"} {
		p := loadModel(t, file)
		pol, err := egress.FromPlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		hosts := []string{"unlisted.example.net"}
		for _, h := range p.Spec.Edge.Hosts {
			hosts = append(hosts, h.Name)
		}
		for _, f := range p.Spec.Flows.Egress {
			for _, h := range f.Hosts {
				if rest, ok := strings.CutPrefix(h, "*."); ok {
					hosts = append(hosts, "a."+rest, "a.b.c."+rest, rest, "evil"+rest, "a."+rest+".evil.io", strings.ToUpper("x."+rest)+".")
					continue
				}
				hosts = append(hosts, h, strings.ToUpper(h), h+".", "x."+h, h+".evil.io")
			}
		}
		checked, allowed := 0, 0
		for _, w := range p.Spec.Workloads {
			for _, h := range hosts {
				for _, port := range []int{80, 443, 8443, 5432} {
					v, err := p.AllowsEgress(w.Name, h, port)
					if err != nil {
						t.Fatal(err)
					}
					d := egress.Decide(context.Background(), pol, nil, 0, identity.Identity{Workload: w.Name}, net.JoinHostPort(h, strconv.Itoa(port)))
					want := d.Reason.String()
					if d.Decision == verdict.Allow {
						want = platform.EgressAllowed.String()
						allowed++
					}
					if v.String() != want {
						t.Errorf("%s: %s to %s:%d: the model says %s, the gateway %s (%s)", p.Source.File, w.Name, h, port, v, want, d.Detail)
					}
					checked++
				}
			}
		}
		if allowed == 0 || allowed == checked {
			t.Errorf("%s: %d of %d cases allowed: the table does not tell allowed from refused", p.Source.File, allowed, checked)
		}
	}
}
