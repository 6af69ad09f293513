package infer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/platform"
)

// Observation is a connection seen at runtime, by the egress gateway or by
// Hubble, to be added to what the manifests say.
type Observation struct {
	// How names the source: "egress gateway audit log" or "Hubble flow export".
	How string
	// Evidence is "file:line".
	Evidence string
	// SourceWorkload is the workload name the egress gateway identified.
	SourceWorkload string
	// Source and destination pods: namespace, pod name, labels.
	SourceNamespace, SourcePod string
	SourceLabels               map[string]string
	DestNamespace, DestPod     string
	DestLabels                 map[string]string
	// DestHost is an external name (the host requested, a DNS name Hubble saw).
	DestHost string
	// DestAddr is the destination address when nothing better is known.
	DestAddr string
	Port     int32
	Protocol string // TCP (default) or UDP
}

// maxLine bounds one line of an observation file; longer lines are an error.
const maxLine = 1 << 20

// skippedReasons are the audit reasons (internal/egress/verdict) of
// requests that do not describe a needed connection.
var skippedReasons = map[string]bool{
	"invalid_host": true, "non_canonical_ip": true, "denied_address": true, "mixed_addresses": true,
	"host_mismatch": true, "bad_request": true, "header_too_large": true, "header_timeout": true,
	"method_not_allowed": true,
}

// ParseEgressLog reads the egress gateway's audit log (one slog JSON object
// a line, msg "egress"; docs/egress.md): every request, allowed, denied or
// only reported, is an observed egress connection. Other lines are skipped.
func ParseEgressLog(name string, r io.Reader) ([]Observation, error) {
	var out []Observation
	err := eachLine(name, r, func(n int, line []byte) error {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("%s:%d: not a JSON audit line: %w", name, n, err)
		}
		if rec["msg"] != "egress" {
			return nil
		}
		// Requests refused as malformed or aimed at private addresses are
		// attacks or mistakes, not connections the platform needs.
		if reason, _ := rec["reason"].(string); skippedReasons[reason] {
			return nil
		}
		req, _ := rec["requested"].(string)
		host, port, err := net.SplitHostPort(req)
		if err != nil {
			return fmt.Errorf("%s:%d: requested: %q is not host:port", name, n, req)
		}
		o := Observation{How: "egress gateway audit log", Evidence: fmt.Sprintf("%s:%d", name, n),
			DestHost: observedHost(host), Port: atoiPort(port), Protocol: "TCP"}
		o.SourceWorkload, _ = rec["source"].(string)
		if by, _ := rec["source_id_by"].(string); by == "pod" {
			if id, _ := rec["source_id"].(string); strings.Contains(id, "/") {
				o.SourceNamespace, o.SourcePod, _ = strings.Cut(id, "/")
			}
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

// ParseHubble reads `hubble observe -o jsonpb` output: one GetFlowsResponse
// a line ({"flow": {...}}). Replies are skipped; field names are accepted in
// proto (destination_port) and JSON (destinationPort) spelling, since
// Hubble versions print either.
func ParseHubble(name string, r io.Reader) ([]Observation, error) {
	var out []Observation
	err := eachLine(name, r, func(n int, line []byte) error {
		var resp map[string]any
		if err := json.Unmarshal(line, &resp); err != nil {
			return fmt.Errorf("%s:%d: not a Hubble jsonpb line: %w", name, n, err)
		}
		flow, _ := resp["flow"].(map[string]any)
		if flow == nil {
			return nil // node status and lost-event lines
		}
		if reply, ok := get(flow, "is_reply", "isReply").(bool); ok && reply {
			return nil
		}
		if reply, ok := get(flow, "is_reply", "isReply").(map[string]any); ok && reply["value"] == true {
			return nil
		}
		o := Observation{How: "Hubble flow export", Evidence: fmt.Sprintf("%s:%d", name, n)}
		l4, _ := flow["l4"].(map[string]any)
		for _, proto := range []string{"TCP", "UDP"} {
			if p, ok := l4[proto].(map[string]any); ok {
				o.Protocol = proto
				o.Port = int32(number(get(p, "destination_port", "destinationPort")))
			}
		}
		if o.Port == 0 {
			return nil // ICMP and L7-only records carry no port to allow
		}
		src, _ := flow["source"].(map[string]any)
		dst, _ := flow["destination"].(map[string]any)
		o.SourceNamespace, o.SourcePod, o.SourceLabels = endpointOf(src)
		o.DestNamespace, o.DestPod, o.DestLabels = endpointOf(dst)
		if names, _ := get(flow, "destination_names", "destinationNames").([]any); len(names) > 0 {
			name, _ := names[0].(string)
			o.DestHost = observedHost(name)
		}
		if ip, ok := flow["IP"].(map[string]any); ok {
			o.DestAddr, _ = ip["destination"].(string)
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

func get(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

func number(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case string:
		f, _ := strconv.ParseFloat(n, 64)
		return f
	}
	return 0
}

// endpointOf reads a Hubble endpoint: its pod's namespace, name and
// Kubernetes labels ("k8s:app=x" in Cilium's label notation).
func endpointOf(ep map[string]any) (ns, pod string, labels map[string]string) {
	if ep == nil {
		return "", "", nil
	}
	ns, _ = ep["namespace"].(string)
	pod, _ = get(ep, "pod_name", "podName").(string)
	ls, _ := ep["labels"].([]any)
	labels = map[string]string{}
	for _, l := range ls {
		s, _ := l.(string)
		s, ok := strings.CutPrefix(s, "k8s:")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(s, "=")
		labels[k] = v
	}
	return ns, pod, labels
}

func eachLine(name string, r io.Reader, f func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		if err := f(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return nil
}

// observedFlows adds the observed connections: one evidence line per flow
// and source kind, with how often it was seen.
func (e *engine) observedFlows(obs []Observation) {
	type key struct{ src, dst, how string }
	type seen struct {
		count int
		first string
	}
	counts := map[key]*seen{}
	var order []key
	for _, o := range obs {
		src := e.observedWorkload(o.SourceWorkload, o.SourceNamespace, o.SourcePod, o.SourceLabels)
		if src == nil {
			e.unresolve("", o.Evidence, o.SourceNamespace+"/"+o.SourcePod+o.SourceWorkload, "seen in the "+o.How+", but no workload of the input is its source")
			continue
		}
		dst := ""
		if o.DestPod != "" || len(o.DestLabels) > 0 {
			if dm := e.observedWorkload("", o.DestNamespace, o.DestPod, o.DestLabels); dm != nil {
				dst = "internal/" + dm.model.Name + "/" + strconv.Itoa(int(o.Port)) + "/" + o.Protocol
			}
		}
		if dst == "" && o.DestHost != "" {
			dst = "egress/" + o.DestHost + "/" + strconv.Itoa(int(o.Port))
		}
		if dst == "" {
			e.unresolve(src.model.Name, o.Evidence, o.DestAddr, "seen in the "+o.How+" by address only: neither a workload of the input nor a host name")
			continue
		}
		k := key{src.model.Name, dst, o.How}
		if counts[k] == nil {
			counts[k] = &seen{first: o.Evidence}
			order = append(order, k)
		}
		counts[k].count++
	}
	for _, k := range order {
		s := counts[k]
		src := e.byName(k.src)
		note := fmt.Sprintf("seen %d time(s) in the %s (first at %s)", s.count, k.how, s.first)
		parts := strings.Split(k.dst, "/")
		port := int32(atoiPort(parts[2]))
		if parts[0] == "egress" {
			e.external(src, parts[1], endpoint{host: parts[1], port: port, text: parts[1]}, note)
			continue
		}
		dm := e.byName(parts[1])
		proto := corev1.Protocol(parts[3])
		pt := platform.Port{Port: port}
		if n, ok := dm.portName(proto, port); ok {
			pt = platform.Port{Name: n}
		}
		if proto != corev1.ProtocolTCP && pt.Name == "" {
			pt.Protocol = string(proto)
		}
		e.addInternal(src, dm, pt, note)
	}
}

func (e *engine) byName(name string) *modelWorkload {
	for _, m := range e.models {
		if m.model.Name == name {
			return m
		}
	}
	return nil
}

// observedWorkload finds the model workload of an observed endpoint: by the
// name the gateway reported, by namespace and pod labels, or by a pod name
// that starts with the workload's name (Deployment and StatefulSet pods).
func (e *engine) observedWorkload(name, ns, pod string, labels map[string]string) *modelWorkload {
	if name != "" {
		for _, m := range e.models {
			if m.model.Name == name || (m.mw.Name == name && (ns == "" || m.model.Zone == ns)) {
				return m
			}
		}
	}
	if len(labels) > 0 {
		for _, m := range e.models {
			if m.model.Zone == ns && platform.HasLabels(labels, m.model.PodLabels) {
				return m
			}
		}
	}
	if pod != "" {
		var best *modelWorkload
		for _, m := range e.models {
			if m.model.Zone == ns && strings.HasPrefix(pod, m.mw.Name+"-") && (best == nil || len(m.mw.Name) > len(best.mw.Name)) {
				best = m
			}
		}
		return best
	}
	return nil
}

// observedHost is a host name seen in a log or flow record in the form the
// model compares (platform.ReadHostPattern: case, trailing dot, IDNA), so
// every spelling of one host counts as one destination. What is no host
// name is kept as seen, lower-cased, for external to report.
func observedHost(h string) string {
	if hp, err := platform.ReadHostPattern(h); err == nil && !hp.Wildcard() {
		return hp.Domain()
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
