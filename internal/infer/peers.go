package infer

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/platform"
)

// peerFlows lets the pods of a StatefulSet with more than one replica reach
// each other on the ports of its governing headless Service (spec.serviceName):
// the Service exists to give each peer a stable name for replication and
// quorum traffic (https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#stable-network-id).
func (e *engine) peerFlows() {
	for _, m := range e.models {
		w := m.mw
		if w.Kind != "StatefulSet" || w.Replicas == nil || *w.Replicas < 2 {
			continue
		}
		name, _ := w.Object.Unstructured.Object["spec"].(map[string]any)["serviceName"].(string)
		s := e.services[nsName{w.Namespace, name}]
		if name == "" || s == nil || !platform.HasLabels(w.Labels, s.Selector) {
			continue
		}
		for _, sp := range s.Ports {
			if pt, ok := targetPort(m, sp); ok {
				e.addInternal(m, m, pt, fmt.Sprintf("%s: %d replicas are peers through the governing Service %s (%s): replication and quorum",
					evidence(w.Object, "spec.replicas"), *w.Replicas, s.Name, s.Object.Source))
			}
		}
	}
}

// scrapeFlows lets Prometheus servers of the input scrape the pods annotated
// prometheus.io/scrape: "true" on prometheus.io/port (the convention of the
// Prometheus Helm chart's kubernetes-pods job), and the Services annotated
// the same way (its kubernetes-service-endpoints job).
func (e *engine) scrapeFlows() {
	servers := e.prometheusServers()
	scrape := func(dst *modelWorkload, ann map[string]string, ev string) {
		if !strings.EqualFold(ann["prometheus.io/scrape"], "true") {
			return
		}
		if len(servers) == 0 {
			e.unresolve(dst.model.Name, ev, "", "annotated for Prometheus scraping, but no Prometheus server among the input's workloads")
			return
		}
		var pt platform.Port
		if p := atoiPort(ann["prometheus.io/port"]); p != 0 {
			pt = platform.Port{Port: p}
			if n, ok := dst.portName(corev1.ProtocolTCP, p); ok {
				pt = platform.Port{Name: n}
			}
		} else if len(dst.mw.Ports()) > 0 {
			// Without a port the job scrapes every declared container port.
			for _, cp := range dst.mw.Ports() {
				if n, ok := dst.portName(cp.Protocol, cp.ContainerPort); ok {
					for _, srv := range servers {
						e.addInternal(srv, dst, platform.Port{Name: n}, ev+" (Prometheus scrape)")
					}
				}
			}
			return
		}
		for _, srv := range servers {
			e.addInternal(srv, dst, pt, ev+" (Prometheus scrape)")
		}
	}
	for _, m := range e.models {
		scrape(m, m.mw.Annotations, evidence(m.mw.Object, strings.TrimSuffix(m.mw.PodSpecPath, "spec")+"metadata.annotations[prometheus.io/scrape]"))
	}
	for _, s := range e.inv.Services {
		ann := s.Object.Unstructured.GetAnnotations()
		if !strings.EqualFold(ann["prometheus.io/scrape"], "true") {
			continue
		}
		for _, w := range e.byNS[s.Namespace] {
			dm := e.byManifest[w]
			if dm == nil || !platform.HasLabels(w.Labels, s.Selector) {
				continue
			}
			// The port annotation names the container port to scrape.
			if p := atoiPort(ann["prometheus.io/port"]); p != 0 {
				scrape(dm, ann, evidence(s.Object, "metadata.annotations[prometheus.io/scrape]"))
				continue
			}
			for _, sp := range s.Ports {
				if pt, ok := targetPort(dm, sp); ok {
					for _, srv := range servers {
						e.addInternal(srv, dm, pt, evidence(s.Object, "metadata.annotations[prometheus.io/scrape]")+" (Prometheus scrape)")
					}
				}
			}
		}
	}
}

var (
	// ncWait is a wait loop with netcat: "nc -z postgresql 5432".
	ncWait = regexp.MustCompile(`\b(?:nc|ncat|netcat)\s+(?:-[a-zA-Z]+\s+(?:\d+\s+)?)*([a-zA-Z0-9][a-zA-Z0-9.\-]*)\s+(\d{1,5})\b`)
	// pgWait is "pg_isready -h HOST -p PORT" (either order).
	pgHost = regexp.MustCompile(`\bpg_isready\b.*?(?:-h\s*|--host[= ])([a-zA-Z0-9][a-zA-Z0-9.\-]*)`)
	pgPort = regexp.MustCompile(`\bpg_isready\b.*?(?:-p\s*|--port[= ])(\d{1,5})`)
)

// commandFlows reads what containers' commands and arguments connect to:
// init containers that wait for a service (nc -z, pg_isready, wait-for
// host:port) or migrate a database with a URL on the command line.
func (e *engine) commandFlows() {
	for _, m := range e.models {
		spec := m.mw.PodSpec
		if spec == nil {
			continue
		}
		var g settingGroup
		for _, list := range []struct {
			kind string
			cs   []corev1.Container
		}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
			kind := list.kind
			for i, c := range list.cs {
				line := strings.Join(append(append([]string{}, c.Command...), c.Args...), " ")
				if line == "" {
					continue
				}
				ev := evidence(m.mw.Object, fmt.Sprintf("%s.%s[%d].command", m.mw.PodSpecPath, kind, i))
				for _, match := range ncWait.FindAllStringSubmatch(line, -1) {
					g = append(g, setting{key: "command", value: match[1] + ":" + match[2], ev: ev})
				}
				if h := pgHost.FindStringSubmatch(line); h != nil {
					port := "5432"
					if p := pgPort.FindStringSubmatch(line); p != nil {
						port = p[1]
					}
					g = append(g, setting{key: "command", value: h[1] + ":" + port, ev: ev})
				}
				for _, ep := range endpointsOf(line) {
					g = append(g, setting{key: "command", value: ep.text, ev: ev})
				}
			}
		}
		e.scanGroup(m, g, "")
	}
}
