// Package identity names the workload behind a connection to the egress gateway,
// trying sources in order of trust: an mTLS client certificate, the pod IP as a
// Kubernetes informer reports it, and a static source-CIDR map.
package identity

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/budnet/budnet/internal/platform"
)

// Method says how a caller was identified.
type Method uint8

// Methods, from most to least trusted.
const (
	MethodNone Method = iota
	MethodCertificate
	MethodPod
	MethodCIDR
)

func (m Method) String() string {
	switch m {
	case MethodCertificate:
		return "certificate"
	case MethodPod:
		return "pod"
	case MethodCIDR:
		return "cidr"
	}
	return "none"
}

// Identity is who a caller is; Workload is empty when unidentified.
type Identity struct {
	Workload string
	Method   Method
	Detail   string // SPIFFE ID, certificate CN, pod namespace/name or matched CIDR
}

// Known reports whether the caller was identified.
func (i Identity) Known() bool { return i.Workload != "" }

// Peer is what the gateway knows about a connection when it identifies it.
type Peer struct {
	Addr  netip.Addr
	Certs []*x509.Certificate // verified chain leaf first; empty without mTLS
}

// Workload is a workload as the model describes it, for matching certificates
// and pods to a name.
type Workload struct {
	Name           string
	Namespace      string
	ServiceAccount string
	PodLabels      map[string]string
}

// SourceCIDR maps a source range to a workload (the model's static map).
type SourceCIDR struct {
	Prefix   netip.Prefix
	Workload string
}

// PodInfo is the part of a pod identity needs.
type PodInfo struct {
	Namespace      string
	Name           string
	ServiceAccount string
	Labels         map[string]string
}

// PodLookup finds the pod that owns an IP; PodIndex implements it.
type PodLookup interface {
	PodByIP(a netip.Addr) (PodInfo, bool)
}

// Config is the model-derived part of identification; it is swapped on reload.
type Config struct {
	TrustDomain string
	Workloads   []Workload
	Sources     []SourceCIDR
}

// Identifier resolves peers with one model snapshot. It is immutable.
type Identifier struct {
	trustDomain string
	bySA        map[string]string // "namespace/serviceaccount" -> workload
	byName      map[string]bool
	workloads   []Workload
	sources     []SourceCIDR
}

// New builds an Identifier from cfg.
func New(cfg Config) (*Identifier, error) {
	id := &Identifier{
		trustDomain: cfg.TrustDomain,
		bySA:        map[string]string{},
		byName:      map[string]bool{},
		workloads:   cfg.Workloads,
	}
	for _, w := range cfg.Workloads {
		if w.Name == "" {
			return nil, fmt.Errorf("identity: workload with empty name in namespace %q", w.Namespace)
		}
		id.byName[w.Name] = true
		if w.ServiceAccount != "" && w.Namespace != "" {
			key := w.Namespace + "/" + w.ServiceAccount
			if prev, dup := id.bySA[key]; dup && prev != w.Name {
				// Two workloads sharing a service account cannot be told apart by
				// certificate; refusing both is safer than picking one.
				id.bySA[key] = ""
				continue
			}
			id.bySA[key] = w.Name
		}
	}
	for _, s := range cfg.Sources {
		if !s.Prefix.IsValid() || s.Workload == "" {
			return nil, fmt.Errorf("identity: invalid source mapping %v -> %q", s.Prefix, s.Workload)
		}
		id.sources = append(id.sources, SourceCIDR{Prefix: s.Prefix.Masked(), Workload: s.Workload})
	}
	return id, nil
}

// Identify names the workload behind p. Order of trust: a verified client
// certificate wins, then the pod that owns the source IP, then the static map.
// A certificate that is present but maps to no workload leaves the caller
// unidentified rather than falling through to weaker evidence: a caller that
// proved a different identity must not be treated as whoever owns its IP.
func (id *Identifier) Identify(p Peer, pods PodLookup) Identity {
	if len(p.Certs) > 0 {
		return id.fromCert(p.Certs[0])
	}
	if pods != nil && p.Addr.IsValid() {
		if pod, ok := pods.PodByIP(p.Addr.Unmap()); ok {
			if w := id.fromPod(pod); w != "" {
				return Identity{Workload: w, Method: MethodPod, Detail: pod.Namespace + "/" + pod.Name}
			}
		}
	}
	if p.Addr.IsValid() {
		best := -1
		var hit SourceCIDR
		for _, s := range id.sources {
			if s.Prefix.Contains(p.Addr.Unmap()) && s.Prefix.Bits() > best {
				best, hit = s.Prefix.Bits(), s
			}
		}
		if best >= 0 {
			return Identity{Workload: hit.Workload, Method: MethodCIDR, Detail: hit.Prefix.String()}
		}
	}
	return Identity{}
}

func (id *Identifier) fromCert(c *x509.Certificate) Identity {
	for _, u := range c.URIs {
		ns, sa, ok := ParseSPIFFE(u, id.trustDomain)
		if !ok {
			continue
		}
		if w := id.bySA[ns+"/"+sa]; w != "" {
			return Identity{Workload: w, Method: MethodCertificate, Detail: u.String()}
		}
		return Identity{Method: MethodCertificate, Detail: u.String()}
	}
	if cn := c.Subject.CommonName; cn != "" && id.byName[cn] {
		return Identity{Workload: cn, Method: MethodCertificate, Detail: "CN=" + cn}
	}
	return Identity{Method: MethodCertificate, Detail: "CN=" + c.Subject.CommonName}
}

func (id *Identifier) fromPod(p PodInfo) string {
	for _, w := range id.workloads {
		if w.Namespace != p.Namespace {
			continue
		}
		switch {
		case len(w.PodLabels) > 0:
			if platform.HasLabels(p.Labels, w.PodLabels) {
				return w.Name
			}
		case w.ServiceAccount != "":
			if w.ServiceAccount == p.ServiceAccount {
				return w.Name
			}
		}
	}
	return ""
}

// ParseSPIFFE reads spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>,
// the form Istio, Linkerd and SPIRE's Kubernetes workload registrar issue (see
// https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md). The trust
// domain must equal want (case-insensitive, as SPIFFE trust domains are
// lower-case). Anything else, including extra path segments, is rejected.
func ParseSPIFFE(u *url.URL, want string) (namespace, serviceAccount string, ok bool) {
	if u == nil || u.Scheme != "spiffe" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" {
		return "", "", false
	}
	if want == "" || !strings.EqualFold(u.Host, want) {
		return "", "", false
	}
	parts := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	if len(parts) != 4 || parts[0] != "ns" || parts[2] != "sa" || !spiffeSegment(parts[1]) || !spiffeSegment(parts[3]) {
		return "", "", false
	}
	return parts[1], parts[3], true
}

// spiffeSegment applies the SPIFFE ID path rule: letters, digits, ".", "-"
// and "_" only, so percent-encoded slashes cannot smuggle extra segments.
func spiffeSegment(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
