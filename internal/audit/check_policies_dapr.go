package audit

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/reach"
)

// Guide section 3.2, "Allow Dapr Sidecar Communication": the guide opens
// 3500 and 50001, which are the app's calls to its own sidecar over
// localhost; sidecars talk to each other on dapr-internal (50002) and need
// the control plane (sentry, operator, placement, scheduler). See the Dapr
// chart's Service templates, charts/dapr/charts/*/templates/*_service.yaml
// in dapr/dapr.

func checkDaprPorts() Check {
	return Check{
		ID: "BUD-3.2-05", Title: "Dapr sidecars reach each other and the Dapr control plane", Section: "3.2", Severity: SeverityHigh,
		Remediation: "Allow dapr-internal (50002) between Dapr pods and egress to sentry 50001, operator 6500, placement 50005 and scheduler 50006 (container ports, not Service ports); `budnet generate` emits these as the dapr-sidecars and sidecars-to-* policies.",
		Doc:         docOf("BUD-3.2-05"),
		Run:         runDaprPorts,
	}
}

type daprTarget struct {
	name  string
	pod   int
	proto corev1.Protocol
	port  int32
}

func runDaprPorts(c *Context) []Result {
	rv := c.Reach()
	if rv.Engine == nil {
		return nil
	}
	var dapr []*manifest.Workload
	for _, w := range c.Inventory.Workloads {
		if w.Dapr != nil {
			dapr = append(dapr, w)
		}
	}
	if len(dapr) == 0 {
		return nil
	}
	var targets []daprTarget
	for _, w := range dapr {
		if i, ok := podIndex(rv.Input, w); ok {
			targets = append(targets, daprTarget{name: reach.WorkloadName(w) + " dapr-internal", pod: i, proto: corev1.ProtocolTCP, port: w.Dapr.InternalGRPCPort})
		}
	}
	targets = append(targets, controlPlaneTargets(c)...)
	var out []Result
	for _, w := range dapr {
		src, ok := podIndex(rv.Input, w)
		if !ok {
			continue
		}
		var blocked, pols []string
		for _, t := range targets {
			if t.pod == src {
				continue
			}
			v := rv.Engine.Evaluate(netpol.PodPeer(src), netpol.PodPeer(t.pod), t.proto, t.port)
			if !v.Allowed {
				blocked = append(blocked, fmt.Sprintf("%s (%s/%d)", t.name, t.proto, t.port))
				pols = appendAll(pols, policyStrings(v.Egress.Isolating), policyStrings(v.Ingress.Isolating))
			}
		}
		name := reach.WorkloadName(w)
		if len(blocked) == 0 {
			out = append(out, res(StatusPass, name, "reaches every other sidecar's dapr-internal port and the Dapr control plane"))
			continue
		}
		out = append(out, res(StatusFail, name, fmt.Sprintf("the sidecar of %s cannot reach %s", name, listing(blocked, 6)),
			Evidence{Connection: name + " => " + listing(blocked, 3), Policies: pols, Detail: "denied: service invocation, mTLS certificates or components fail"}))
	}
	return out
}

// controlPlaneTargets resolves the model's flows from Dapr sidecars to the
// control plane onto the manifest's control-plane pods.
func controlPlaneTargets(c *Context) []daprTarget {
	if c.Platform == nil {
		return nil
	}
	in := c.Reach().Input
	var out []daprTarget
	for _, f := range c.Platform.Spec.Flows.Internal {
		if !f.From.Dapr {
			continue
		}
		for _, mw := range c.Platform.Select(f.To) {
			if mw.Role != platform.RoleDaprControlPlane {
				continue
			}
			for _, w := range matching(c.Inventory, mw) {
				i, ok := podIndex(in, w)
				if !ok {
					continue
				}
				for _, pt := range f.Ports {
					port := pt.Port
					if pt.Name != "" {
						np, ok := mw.Port(pt.Name)
						if !ok {
							continue
						}
						port = np.Port
					}
					out = append(out, daprTarget{name: reach.WorkloadName(w), pod: i, proto: protocolOf(pt.Protocol), port: port})
				}
			}
		}
	}
	return out
}

func appendAll(xs []string, lists ...[]string) []string {
	for _, l := range lists {
		for _, s := range l {
			xs = appendUnique(xs, s)
		}
	}
	return xs
}
