package audit

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// Placeholders in deployed objects: documentation address ranges (RFC 5737,
// RFC 3849, RFC 9637) and example domains (RFC 2606, RFC 6761), as the
// reference models ship them and `budnet generate` warns about. Applied
// unedited they do harm quietly: an ipBlock of 192.0.2.0/28 admits no one,
// so the API server cannot call the Dapr sidecar injector, whose webhook
// fails open, and pods start without sidecars; an admin allowlist of
// documentation ranges locks every administrator out; a Certificate for
// app.example.com is never issued. Which values are placeholders is
// platform.PlaceholderPrefix, PlaceholderHost and PlaceholderEmail, the
// same judgement generate's warnings use.

func checkPlaceholders() Check {
	return Check{
		ID: "BUD-4.1-05", Title: "Deployed objects carry no placeholder addresses, hosts or contacts", Section: "4.1", Severity: SeverityHigh,
		Remediation: "Replace the reference model's placeholders before generating: the control-plane, admin and monitoring source groups with the real ranges (kubectl get endpointslices -l kubernetes.io/service-name=kubernetes for the API server), the edge hosts with your domains and the ACME contact with a mailbox you read; `budnet generate` names each one it still finds on stderr.",
		Doc:         docOf("BUD-4.1-05"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, o := range c.Inventory.Objects {
				fields := placeholderFields(o)
				if len(fields) == 0 {
					continue
				}
				var bad []Evidence
				for _, f := range fields {
					if why := f.judge(f.value); why != "" {
						bad = append(bad, ObjectEvidence(o, f.path, why))
					}
				}
				if len(bad) == 0 {
					out = append(out, res(StatusPass, o.Ref(), "no placeholder among "+plural(len(fields), "address, host or contact", "addresses, hosts and contacts")))
					continue
				}
				msgs := make([]string, 0, len(bad))
				for _, e := range bad {
					msgs = append(msgs, e.Field+": "+e.Detail)
				}
				out = append(out, res(StatusFail, o.Ref(), strings.Join(msgs, "; "), bad...))
			}
			return out
		},
	}
}

// placeholderField is one value of an object that a placeholder could
// stand in: a CIDR, a host name or an email address.
type placeholderField struct {
	path, value string
	judge       func(string) string
}

func cidrJudge(s string) string {
	pfx, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		a, aerr := netip.ParseAddr(strings.TrimSpace(s))
		if aerr != nil {
			return ""
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	return platform.PlaceholderPrefix(pfx)
}

// placeholderFields lists the values of o that say who may connect, which
// names are served or certified, and who the ACME CA writes to. An ipBlock's
// except list is left out: excepting documentation ranges is right.
func placeholderFields(o *manifest.Object) []placeholderField {
	var out []placeholderField
	add := func(path, v string, judge func(string) string) {
		if v != "" {
			out = append(out, placeholderField{path: path, value: v, judge: judge})
		}
	}
	group := apiGroup(o.APIVersion)
	switch {
	case o.Kind == "NetworkPolicy" && slices.Contains(groupsNetworking, group):
		for _, dir := range []struct{ rules, peers string }{{"ingress", "from"}, {"egress", "to"}} {
			for i, r := range nestedSlice(o, "spec", dir.rules) {
				for j, p := range sliceIn(asMap(r), dir.peers) {
					add("spec."+dir.rules+"["+itoa(i)+"]."+dir.peers+"["+itoa(j)+"].ipBlock.cidr", stringIn(asMap(p), "ipBlock", "cidr"), cidrJudge)
				}
			}
		}
	case o.Kind == "Middleware" && slices.Contains(groupsTraefik, group):
		for _, typ := range []string{"ipAllowList", "ipWhiteList"} {
			for i, s := range nestedSlice(o, "spec", typ, "sourceRange") {
				add("spec."+typ+".sourceRange["+itoa(i)+"]", scalar(s), cidrJudge)
			}
		}
	case o.Kind == "Certificate" && slices.Contains(groupsCertMgr, group):
		for i, h := range nestedSlice(o, "spec", "dnsNames") {
			add("spec.dnsNames["+itoa(i)+"]", scalar(h), platform.PlaceholderHost)
		}
	case (o.Kind == "ClusterIssuer" || o.Kind == "Issuer") && slices.Contains(groupsCertMgr, group):
		if v, ok := nested(o, "spec", "acme", "email"); ok {
			add("spec.acme.email", scalar(v), platform.PlaceholderEmail)
		}
	case o.Kind == "Ingress" && slices.Contains(groupsNetworking, group):
		for i, r := range nestedSlice(o, "spec", "rules") {
			add("spec.rules["+itoa(i)+"].host", stringIn(asMap(r), "host"), platform.PlaceholderHost)
		}
	case o.Kind == "HTTPRoute" && slices.Contains(groupsGateway, group):
		for i, h := range nestedSlice(o, "spec", "hostnames") {
			add("spec.hostnames["+itoa(i)+"]", scalar(h), platform.PlaceholderHost)
		}
	case o.Kind == "Service" && group == "":
		for i, s := range nestedSlice(o, "spec", "loadBalancerSourceRanges") {
			add("spec.loadBalancerSourceRanges["+itoa(i)+"]", scalar(s), cidrJudge)
		}
	}
	for _, k := range []string{"nginx.ingress.kubernetes.io/whitelist-source-range", "nginx.ingress.kubernetes.io/allowlist-source-range"} {
		for _, s := range strings.Split(annotationsOf(o)[k], ",") {
			add("metadata.annotations["+k+"]", strings.TrimSpace(s), cidrJudge)
		}
	}
	return out
}
