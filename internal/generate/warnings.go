package generate

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/platform"
)

// Warning is something generate implements as the model says but that
// will not work, or not safely, in a real cluster until the model changes:
// a placeholder the reference model ships (documentation address ranges,
// example domains) or a flow a generated control depends on. `budnet
// generate` prints each on stderr, with --dry-run too; the output is still
// written, since a placeholder is the expected state of a first run.
type Warning struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// String is "file:line: field: message", as input errors are printed.
func (w Warning) String() string {
	loc := w.File
	if w.Line > 0 {
		loc = fmt.Sprintf("%s:%d", w.File, w.Line)
	}
	if loc != "" {
		loc += ": "
	}
	return loc + w.Field + ": " + w.Msg
}

// Warnings lists what the model still carries that a deployment must
// replace, and the ACME self-check egress the acme issuer depends on, in
// model order. It does not fail: the caller decides what to do with them.
func Warnings(p *platform.Platform, o Options) []Warning {
	var out []Warning
	warn := func(field, format string, args ...any) {
		out = append(out, Warning{File: p.Source.File, Line: p.Line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	for i, g := range p.Spec.SourceGroups {
		for j, c := range g.CIDRs {
			pfx, err := netip.ParsePrefix(c)
			if err != nil {
				continue
			}
			if why := platform.PlaceholderPrefix(pfx); why != "" {
				warn(fmt.Sprintf("spec.sourceGroups[%d].cidrs[%d]", i, j), "group %s: %s; %s", g.Name, why, groupConsequence(p, g.Name))
			}
		}
	}
	edgeNames := map[string]bool{}
	for i, h := range p.Spec.Edge.Hosts {
		edgeNames[h.Name] = true
		if why := platform.PlaceholderHost(h.Name); why != "" {
			warn(fmt.Sprintf("spec.edge.hosts[%d].name", i), "%s; the edge routes only this name and its certificate is issued for it", why)
		}
	}
	for i, h := range p.Spec.Edge.Hosts {
		for j, c := range h.Calls {
			o, err := platform.ParseOrigin(c)
			if err != nil || edgeNames[o.Host] {
				continue
			}
			if why := platform.PlaceholderHost(o.Host); why != "" {
				warn(fmt.Sprintf("spec.edge.hosts[%d].calls[%d]", i, j), "%s; the CSP's connect-src allows it", why)
			}
		}
	}
	is := p.Spec.TLS.Issuer
	if is.Kind == issuerKindACME {
		if why := platform.PlaceholderEmail(is.Email); why != "" {
			warn("spec.tls.issuer.email", "ACME contact %s: %s; the CA's expiry and revocation notices go nowhere", is.Email, why)
		}
		out = append(out, acmeSelfCheckWarnings(p)...)
	}
	return out
}

// groupConsequence says what a source group feeds, so the warning tells
// what a placeholder there breaks. The Dapr sidecar injector's webhook
// fails open (failurePolicy: Ignore in the Dapr chart): if the API server
// cannot reach it, pods start without their daprd sidecar and nothing
// reports an error, so mTLS and access control are silently gone.
func groupConsequence(p *platform.Platform, group string) string {
	var dsts []string
	dapr := false
	for _, f := range p.Spec.Flows.Ingress {
		if !slices.Contains(f.Groups, group) {
			continue
		}
		for _, w := range p.Select(f.To) {
			dsts = append(dsts, w.Name)
			dapr = dapr || w.Role == platform.RoleDaprControlPlane
		}
	}
	var msg string
	switch {
	case len(dsts) > 0:
		slices.Sort(dsts)
		msg = "the only ingress to " + strings.Join(slices.Compact(dsts), ", ") + " comes from it"
	case group == adminGroup:
		msg = "admin hosts answer only this group (the edge allowlist, and the Kubernetes API at the cloud firewall)"
	case group == p.Spec.Cluster.APIServer.Group:
		msg = "egress to the Kubernetes API goes only to it"
	default:
		msg = "replace it with the real addresses"
	}
	if group == p.Spec.Cluster.APIServer.Group && len(dsts) > 0 {
		msg += ", and egress to the Kubernetes API goes only to it"
	}
	if dapr {
		msg += "; Dapr's sidecar injector webhook fails open (failurePolicy: Ignore), so until the API server's real addresses are here pods start WITHOUT Dapr sidecars, silently (no mTLS, no access control)"
	}
	return msg
}

// acmeSelfCheckWarnings: before cert-manager asks the ACME server to
// validate an HTTP-01 challenge it GETs http://HOST/.well-known/acme-challenge/TOKEN
// itself (pkg/issuer/acme/http testReachability, through HTTP_PROXY when
// set) and retries until that works. Each edge host must therefore be an
// allowed egress destination of cert-manager on port 80, decided from the
// model as the egress gateway decides it (platform.AllowsEgress; `budnet
// egress check --source cert-manager` asks the gateway itself).
func acmeSelfCheckWarnings(p *platform.Platform) []Warning {
	field := "spec.tls.issuer"
	w := func(format string, args ...any) Warning {
		return Warning{File: p.Source.File, Line: p.Line(field), Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	cm, ok := p.Workload(certManagerDefault)
	if !ok {
		return []Warning{w("acme issuer, but no workload named cert-manager: its HTTP-01 self-check egress (http://HOST/.well-known/acme-challenge/..., port 80) cannot be checked")}
	}
	var missing []string
	for _, h := range p.Spec.Edge.Hosts {
		v, err := p.AllowsEgress(cm.Name, h.Name, 80)
		if err != nil {
			return []Warning{w("acme issuer: the egress allowlist does not compile, so cert-manager's HTTP-01 self-check cannot be checked: %v", err)}
		}
		if v != platform.EgressAllowed {
			missing = append(missing, fmt.Sprintf("%s (%s)", h.Name, v))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return []Warning{w("acme issuer: cert-manager may not reach http://HOST/.well-known/acme-challenge/ for %s, so its HTTP-01 self-check never passes and no certificate is issued or renewed; add an egress flow from cert-manager to these hosts on port 80",
		strings.Join(missing, ", "))}
}
