package infer

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// scanGroup turns a group of settings read by m into flows: Dapr app ids,
// URLs and DSNs, host:port lists, and *_HOST paired with *_PORT.
func (e *engine) scanGroup(m *modelWorkload, g settingGroup, via string) {
	byKey := map[string]string{}
	for _, s := range g {
		byKey[normKey(s.key)] = s.value
	}
	for _, s := range g {
		key := normKey(s.key)
		if isAppIDKey(key) {
			e.daprCall(m, s)
			continue
		}
		eps := endpointsOf(s.value)
		if len(eps) == 0 {
			if prefix, ok := hostPrefix(key); ok && hostPattern.MatchString(s.value) && !isNumeric(s.value) {
				ep := endpoint{host: strings.ToLower(strings.TrimSuffix(s.value, ".")), text: s.value}
				for _, pk := range []string{prefix + "PORT", strings.TrimSuffix(prefix, "_") + "PORT"} {
					if p := atoiPort(byKey[pk]); p != 0 {
						ep.port = p
						ep.text += " port " + byKey[pk]
						break
					}
				}
				eps = append(eps, ep)
			}
		}
		for _, ep := range eps {
			e.reach(m, ep, s.ev+via, 0)
		}
	}
}

// settingsFlows scans what every workload's containers read.
func (e *engine) settingsFlows() {
	for _, m := range e.models {
		for _, c := range append(append([]manifest.Container{}, m.mw.InitContainers...), m.mw.Containers...) {
			if c.Inferred {
				continue
			}
			e.scanGroup(m, e.containerSettings(m, c), "")
			for _, g := range e.mountedFiles(m, c) {
				e.scanGroup(m, g, "")
			}
		}
	}
}

// isLocal reports hosts that stay inside the pod.
func isLocal(h string) bool {
	switch h {
	case "localhost", "127.0.0.1", "::1", "0.0.0.0", "::":
		return true
	}
	return strings.HasPrefix(h, "127.")
}

// reach resolves an endpoint m connects to: a Service of the input (forms
// svc, svc.ns, svc.ns.svc, svc.ns.svc.cluster.local, pod.svc.ns.svc...), or
// an external host, which becomes an egress flow.
func (e *engine) reach(m *modelWorkload, ep endpoint, ev string, depth int) {
	host := strings.TrimSuffix(ep.host, ".")
	if host == "" || isLocal(host) || strings.Contains(host, "$(") {
		if strings.Contains(host, "$(") {
			e.unresolve(m.model.Name, ev, redact(ep.text), "refers to a variable the container does not define before it: known only at runtime")
		}
		return
	}
	if _, err := netip.ParseAddr(host); err == nil {
		e.unresolve(m.model.Name, ev, redact(ep.text), "an IP address, not a name: which workload or external service it is cannot be told from the manifests")
		return
	}
	svc, ns, internal := e.serviceName(host, m.model.Zone)
	if !internal {
		e.external(m, host, ep, ev)
		return
	}
	s := e.services[nsName{ns, svc}]
	if s == nil {
		if e.daprServiceName(ns, svc) {
			return // the Service Dapr's operator creates per app id: the sidecar's own traffic
		}
		e.unresolve(m.model.Name, ev, redact(ep.text), fmt.Sprintf("no Service %s in namespace %s in the input", svc, ns))
		return
	}
	sel := portSelector{number: ep.port}
	e.toService(m, s, sel, ev, redact(ep.text), depth)
}

// serviceName splits an in-cluster name into Service and namespace.
func (e *engine) serviceName(host, ns string) (svc, namespace string, internal bool) {
	labels := strings.Split(host, ".")
	switch {
	case len(labels) == 1:
		return labels[0], ns, true
	case len(labels) == 2:
		if e.inv.Namespace(labels[1]) != nil {
			return labels[0], labels[1], true
		}
		return "", "", false
	}
	for i := 2; i < len(labels); i++ {
		if labels[i] == "svc" && (i == len(labels)-1 || strings.Join(labels[i+1:], ".") == "cluster.local" || e.inv.Namespace(labels[i-1]) != nil) {
			return labels[i-2], labels[i-1], true
		}
	}
	return "", "", false
}

// daprServiceName reports whether svc is the <app-id>-dapr Service the Dapr
// operator creates for an app of ns.
func (e *engine) daprServiceName(ns, svc string) bool {
	id, ok := strings.CutSuffix(svc, "-dapr")
	if !ok {
		return false
	}
	for _, m := range e.models {
		if m.model.Zone == ns && m.mw.Dapr != nil && m.mw.Dapr.AppID == id {
			return true
		}
	}
	return false
}

// portSelector names a Service port: by number (0 means every port) or name.
type portSelector struct {
	number int32
	name   string
}

// toService adds flows from m to the workloads s selects, on the container
// ports its matching ports target.
func (e *engine) toService(m *modelWorkload, s *manifest.Service, sel portSelector, ev, text string, depth int) {
	if s.Type == corev1.ServiceTypeExternalName {
		target := strings.ToLower(strings.TrimSuffix(s.Spec.ExternalName, "."))
		ev += "; Service " + s.Name + " is ExternalName " + target + " (" + s.Object.At("spec.externalName") + ")"
		if depth > 3 || target == "" {
			e.unresolve(m.model.Name, ev, text, "ExternalName chain too long or empty")
			return
		}
		port := sel.number
		for _, sp := range s.Ports {
			if sel.name != "" && sp.Name == sel.name {
				port = sp.Port
			}
		}
		e.reach(m, endpoint{host: target, port: port, text: text}, ev, depth+1)
		return
	}
	if len(s.Selector) == 0 {
		e.unresolve(m.model.Name, ev, text, fmt.Sprintf("Service %s/%s has no selector: its endpoints are set by hand, so its pods are not known", s.Namespace, s.Name))
		return
	}
	var dsts []*modelWorkload
	for _, w := range e.byNS[s.Namespace] {
		if dm := e.byManifest[w]; dm != nil && platform.HasLabels(w.Labels, s.Selector) {
			dsts = append(dsts, dm)
		}
	}
	if len(dsts) == 0 {
		e.unresolve(m.model.Name, ev, text, fmt.Sprintf("Service %s/%s selects no workload of the input", s.Namespace, s.Name))
		return
	}
	var sps []corev1.ServicePort
	for _, sp := range s.Ports {
		if (sel.name != "" && sp.Name == sel.name) || (sel.name == "" && (sel.number == 0 || sp.Port == sel.number)) {
			sps = append(sps, sp)
		}
	}
	ev += "; Service " + s.Namespace + "/" + s.Name + " at " + s.Object.Source.String()
	for _, dm := range dsts {
		if len(sps) == 0 {
			// A headless Service, or a client that dials the pod port itself.
			if n, ok := dm.portName(corev1.ProtocolTCP, sel.number); ok && sel.number != 0 {
				e.addInternal(m, dm, platform.Port{Name: n}, ev+" (pod port, not a Service port)")
				continue
			}
			want := strconv.Itoa(int(sel.number))
			if sel.name != "" {
				want = sel.name
			}
			e.unresolve(m.model.Name, ev, text, fmt.Sprintf("Service %s/%s has no port %s", s.Namespace, s.Name, want))
			continue
		}
		for _, sp := range sps {
			pt, ok := targetPort(dm, sp)
			if !ok {
				e.unresolve(m.model.Name, ev, text, fmt.Sprintf("Service %s/%s port %d targets %q, which workload %s does not declare", s.Namespace, s.Name, sp.Port, sp.TargetPort.String(), dm.model.Name))
				continue
			}
			e.addInternal(m, dm, pt, ev)
		}
	}
}

// targetPort resolves a Service port to the destination's container port,
// named targetPorts against dm's own ports (each workload may number a name
// differently), as kube-proxy does.
func targetPort(dm *modelWorkload, sp corev1.ServicePort) (platform.Port, bool) {
	proto := sp.Protocol
	num := sp.TargetPort.IntVal
	if sp.TargetPort.Type == intstr.String {
		p, ok := dm.portByName(sp.TargetPort.StrVal)
		if !ok {
			return platform.Port{}, false
		}
		num, proto = p.ContainerPort, p.Protocol
	}
	if n, ok := dm.portName(proto, num); ok {
		pt := platform.Port{Name: n}
		if proto != corev1.ProtocolTCP {
			pt.Protocol = string(proto)
		}
		return pt, true
	}
	// The container does not declare the port: numbers work all the same.
	pt := platform.Port{Port: num}
	if proto != corev1.ProtocolTCP {
		pt.Protocol = string(proto)
	}
	return pt, true
}

// external records an egress flow to a host outside the cluster.
func (e *engine) external(m *modelWorkload, host string, ep endpoint, ev string) {
	// An external host is a name the model could hold as an egress host:
	// one fully qualified name, no address, no wildcard.
	hp, err := platform.ParseHostPattern(host)
	if err != nil || hp.Wildcard() {
		e.unresolve(m.model.Name, ev, redact(ep.text), "neither a Service of the input nor an external host name")
		return
	}
	// A name under no known top-level domain (bud-postgresql.bud-data, where
	// bud-data is no namespace of the input) is an in-cluster name gone
	// wrong, not a host on the internet.
	name := hp.Domain()
	if suffix, icann := publicsuffix.PublicSuffix(name); !icann && !strings.Contains(suffix, ".") {
		e.unresolve(m.model.Name, ev, redact(ep.text), "neither a Service of the input (no namespace "+suffix+") nor a name under a public top-level domain")
		return
	}
	if strings.HasSuffix(name, ".local") || strings.HasSuffix(name, ".internal") || strings.HasSuffix(name, ".svc") {
		e.unresolve(m.model.Name, ev, redact(ep.text), "looks like an in-cluster or private name but matches no Service of the input")
		return
	}
	if ep.port == 0 {
		e.unresolve(m.model.Name, ev, redact(ep.text), "external host without a port: no egress flow inferred")
		return
	}
	e.addEgress(m, name, ep.port, ev)
}
