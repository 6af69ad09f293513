package platform

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/budnet/budnet/internal/diag"
)

// validator collects every problem of a model; each names file, line and
// field path, and says what was expected.
type validator struct {
	p    *Platform
	errs []error
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, diag.Errorf(v.p.Source.File, v.p.line(path), path, format, args...))
}

// Validate checks the whole model and returns every problem found, joined
// (see Problems), or nil. It expects a defaulted model (see Default).
func (p *Platform) Validate() error {
	v := &validator{p: p}
	v.header()
	v.cluster()
	v.zones()
	v.workloads()
	v.groups()
	v.flows()
	v.mesh()
	v.edge()
	v.tls()
	v.egressGateway()
	v.monitoring()
	v.clusters()
	v.cloud()
	v.ignore()
	return diag.Join(v.errs...)
}

func (v *validator) header() {
	p := v.p
	if p.APIVersion != APIVersion {
		v.add("apiVersion", "is %q, expected %q", p.APIVersion, APIVersion)
	}
	if p.Kind != Kind {
		v.add("kind", "is %q, expected %q", p.Kind, Kind)
	}
	if p.Metadata.Name == "" {
		v.add("metadata.name", "missing, expected the platform's name")
	} else {
		v.dns1123Subdomain("metadata.name", p.Metadata.Name)
	}
}

func (v *validator) cluster() {
	c := v.p.Spec.Cluster
	v.cidrs("spec.cluster.podCIDRs", c.PodCIDRs)
	v.cidrs("spec.cluster.serviceCIDRs", c.ServiceCIDRs)
	v.dns1123Label("spec.cluster.dns.namespace", c.DNS.Namespace)
	v.labels("spec.cluster.dns.podLabels", c.DNS.PodLabels, true)
	v.numericPorts("spec.cluster.dns.ports", c.DNS.Ports)
	if c.APIServer.Group != "" {
		if _, ok := v.p.Group(c.APIServer.Group); !ok {
			v.add("spec.cluster.apiServer.group", "source group %q does not exist, expected one of %s", c.APIServer.Group, v.groupNames())
		}
	}
	v.numericPorts("spec.cluster.apiServer.ports", c.APIServer.Ports)
}

// podSecurityLevels are the Pod Security Admission levels
// (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
var podSecurityLevels = []string{"privileged", "baseline", "restricted"}

func (v *validator) zones() {
	zones := v.p.Spec.Zones
	if len(zones) == 0 {
		v.add("spec.zones", "no zones, expected at least one namespace")
	}
	seen := map[string]string{}
	for i, z := range zones {
		path := fmt.Sprintf("spec.zones[%d]", i)
		v.unique(seen, path+".name", z.Name, "zone")
		if z.Name != "" {
			v.dns1123Label(path+".name", z.Name)
		}
		v.labels(path+".labels", z.Labels, false)
		if z.PodSecurity != "" && !slices.Contains(podSecurityLevels, z.PodSecurity) {
			v.add(path+".podSecurity", "is %q, expected one of %s", z.PodSecurity, strings.Join(podSecurityLevels, ", "))
		}
	}
}

func (v *validator) workloads() {
	seen := map[string]string{}
	appIDs := map[string]int{}
	for i := range v.p.Spec.Workloads {
		w := &v.p.Spec.Workloads[i]
		path := fmt.Sprintf("spec.workloads[%d]", i)
		v.unique(seen, path+".name", w.Name, "workload")
		if w.Name != "" {
			v.dns1123Label(path+".name", w.Name)
		}
		if w.Zone == "" {
			v.add(path+".zone", "missing, expected the name of a zone")
		} else if _, ok := v.p.Zone(w.Zone); !ok {
			v.add(path+".zone", "zone %q does not exist, expected one of %s", w.Zone, v.zoneNames())
		}
		v.role(path+".role", w.Role, true)
		if len(w.PodLabels) == 0 {
			v.add(path+".podLabels", "missing, expected the labels that select the workload's pods")
		}
		v.labels(path+".podLabels", w.PodLabels, false)
		v.namedPorts(path+".ports", w.Ports)
		if w.Service != "" {
			for _, msg := range validation.IsDNS1035Label(w.Service) {
				v.add(path+".service", "%q is not a valid Service name: %s", w.Service, msg)
			}
		}
		if w.ServiceAccount != "" {
			v.dns1123Subdomain(path+".serviceAccount", w.ServiceAccount)
		}
		if w.Dapr != nil {
			v.daprApp(path+".dapr", w.Dapr, appIDs, i)
		}
	}
	v.overlappingLabels()
}

// overlappingLabels reports workloads of one zone whose pod labels select
// another workload's pods too: a policy written for the one would also apply
// to the other, and manifests could not be matched to the model.
func (v *validator) overlappingLabels() {
	ws := v.p.Spec.Workloads
	for i := range ws {
		if len(ws[i].PodLabels) == 0 {
			continue
		}
		for j := range ws {
			if i == j || ws[i].Zone != ws[j].Zone || !subset(ws[i].PodLabels, ws[j].PodLabels) {
				continue
			}
			if j < i && subset(ws[j].PodLabels, ws[i].PodLabels) {
				continue // identical labels: reported once, at the later workload
			}
			v.add(fmt.Sprintf("spec.workloads[%d].podLabels", i),
				"also select the pods of workload %q in zone %s, expected labels that tell the workloads apart", ws[j].Name, ws[j].Zone)
		}
	}
}

// subset reports whether every label of a is in b.
func subset(a, b map[string]string) bool {
	for k, val := range a {
		if bv, ok := b[k]; !ok || bv != val {
			return false
		}
	}
	return true
}

func (v *validator) daprApp(path string, d *DaprApp, seen map[string]int, i int) {
	if d.AppID == "" {
		v.add(path+".appId", "missing, expected the Dapr app id")
		return
	}
	// Dapr app ids become DNS names of the sidecar's headless Service.
	v.dns1123Label(path+".appId", d.AppID)
	if first, dup := seen[d.AppID]; dup {
		v.add(path+".appId", "Dapr app id %q is also used by spec.workloads[%d], expected app ids to be unique", d.AppID, first)
	} else {
		seen[d.AppID] = i
	}
	if d.AppPort != 0 {
		v.portNumber(path+".appPort", d.AppPort)
	}
}

func (v *validator) namedPorts(path string, ports []NamedPort) {
	names := map[string]int{}
	for j, np := range ports {
		pp := fmt.Sprintf("%s[%d]", path, j)
		switch {
		case np.Name == "":
			v.add(pp+".name", "missing, expected a port name (flows refer to ports by name)")
		default:
			for _, msg := range validation.IsValidPortName(np.Name) {
				v.add(pp+".name", "%q is not a valid port name: %s", np.Name, msg)
			}
			if first, dup := names[np.Name]; dup {
				v.add(pp+".name", "port name %q is also used by %s[%d], expected port names to be unique within a workload", np.Name, path, first)
			} else {
				names[np.Name] = j
			}
		}
		v.portNumber(pp+".port", np.Port)
		v.protocol(pp+".protocol", np.Protocol)
	}
}

func (v *validator) groups() {
	seen := map[string]string{}
	for i, g := range v.p.Spec.SourceGroups {
		path := fmt.Sprintf("spec.sourceGroups[%d]", i)
		v.unique(seen, path+".name", g.Name, "source group")
		if len(g.CIDRs) == 0 {
			v.add(path+".cidrs", "empty, expected at least one CIDR")
		}
		v.cidrs(path+".cidrs", g.CIDRs)
	}
}

func (v *validator) mesh() {
	m := v.p.Spec.Mesh
	v.dns1123Label("spec.mesh.namespace", m.Namespace)
	v.dns1123Subdomain("spec.mesh.trustDomain", m.TrustDomain)
	if d := m.MTLS.WorkloadCertTTL; d != nil && d.Duration <= 0 {
		v.add("spec.mesh.mtls.workloadCertTTL", "is %s, expected a positive duration such as 24h", d.Duration)
	}
	if d := m.MTLS.AllowedClockSkew; d != nil && d.Duration < 0 {
		v.add("spec.mesh.mtls.allowedClockSkew", "is %s, expected a duration of zero or more such as 15m", d.Duration)
	}
}

var tlsVersions = []string{"1.2", "1.3"}

func (v *validator) tls() {
	t := v.p.Spec.TLS
	if !slices.Contains(tlsVersions, t.MinVersion) {
		v.add("spec.tls.minVersion", "is %q, expected \"1.2\" or \"1.3\" (older versions are broken, guide 11.1)", t.MinVersion)
	}
	switch t.Issuer.Kind {
	case "", "ca":
	case "acme":
		if t.Issuer.Email == "" {
			v.add("spec.tls.issuer.email", "missing, expected the ACME account e-mail address")
		}
	default:
		v.add("spec.tls.issuer.kind", "is %q, expected acme or ca", t.Issuer.Kind)
	}
	if t.Issuer.Email != "" && !strings.Contains(t.Issuer.Email, "@") {
		v.add("spec.tls.issuer.email", "%q is not an e-mail address", t.Issuer.Email)
	}
	if t.Issuer.Server != "" {
		v.httpsURL("spec.tls.issuer.server", t.Issuer.Server)
	}
}

func (v *validator) monitoring() {
	m := v.p.Spec.Monitoring
	if m.IngressErrorRate <= 0 || m.IngressErrorRate > 1 {
		v.add("spec.monitoring.ingressErrorRate", "is %v, expected a fraction above 0 and at most 1 (0.05 is 5%%)", m.IngressErrorRate)
	}
	if m.EgressBytesPerSecond < 0 {
		v.add("spec.monitoring.egressBytesPerSecond", "is %d, expected zero or more", m.EgressBytesPerSecond)
	}
	if m.Namespace != "" {
		v.dns1123Label("spec.monitoring.namespace", m.Namespace)
	}
	v.labels("spec.monitoring.labels", m.Labels, false)
}

func (v *validator) clusters() {
	seen := map[string]string{}
	for i, c := range v.p.Spec.Clusters {
		path := fmt.Sprintf("spec.clusters[%d]", i)
		v.unique(seen, path+".name", c.Name, "cluster")
		if c.Server == "" {
			v.add(path+".server", "missing, expected the cluster's API server URL")
		} else {
			v.httpsURL(path+".server", c.Server)
		}
		for j, ns := range c.Namespaces {
			v.dns1123Label(fmt.Sprintf("%s.namespaces[%d]", path, j), ns)
		}
	}
}

var subnetTiers = []string{"public", "app", "data"}

func (v *validator) cloud() {
	c := v.p.Spec.Cloud
	switch c.Provider {
	case "", "aws", "azure":
	default:
		v.add("spec.cloud.provider", "is %q, expected aws or azure", c.Provider)
	}
	var vpc netip.Prefix
	if c.VPCCIDR != "" {
		vpc, _ = v.cidr("spec.cloud.vpcCIDR", c.VPCCIDR)
	}
	for _, tier := range sortedKeys(c.Subnets) {
		path := "spec.cloud.subnets." + tier
		if !slices.Contains(subnetTiers, tier) {
			v.add(path, "unknown subnet tier %q, expected one of %s", tier, strings.Join(subnetTiers, ", "))
		}
		sub, ok := v.cidr(path, c.Subnets[tier])
		if ok && vpc.IsValid() && !(vpc.Contains(sub.Addr()) && sub.Bits() >= vpc.Bits()) {
			v.add(path, "subnet %s is not inside the VPC %s", sub, vpc)
		}
	}
}

// checkID matches audit check IDs such as BUD-4.2-01 or BUD-11-03: the guide
// section, then a two-digit number.
var checkID = regexp.MustCompile(`^BUD-[0-9]+(\.[0-9]+)*-[0-9]{2}$`)

func (v *validator) ignore() {
	for i, s := range v.p.Spec.Ignore {
		path := fmt.Sprintf("spec.ignore[%d]", i)
		if !checkID.MatchString(s.Check) {
			v.add(path+".check", "%q is not a check ID, expected BUD-<section>-<NN> such as BUD-3.2-01", s.Check)
		}
		if strings.TrimSpace(s.Reason) == "" {
			v.add(path+".reason", "missing, expected why the finding is accepted")
		}
		if s.Until != "" {
			if _, err := ParseUntil(s.Until); err != nil {
				v.add(path+".until", "%v", err)
			}
		}
		if s.Object != "" {
			parts := strings.Split(s.Object, "/")
			if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
				v.add(path+".object", "%q is not kind/namespace/name or kind/name", s.Object)
			}
		}
	}
}

// unique records where name was first seen and reports a missing or repeated name.
func (v *validator) unique(seen map[string]string, path, name, what string) {
	if name == "" {
		v.add(path, "missing, expected the %s's name", what)
		return
	}
	if first, dup := seen[name]; dup {
		v.add(path, "%s name %q is already used at %s, expected unique names", what, name, first)
		return
	}
	seen[name] = path
}

func (v *validator) dns1123Label(path, s string) {
	for _, msg := range validation.IsDNS1123Label(s) {
		v.add(path, "%q is not a valid name: %s", s, msg)
	}
}

func (v *validator) dns1123Subdomain(path, s string) {
	for _, msg := range validation.IsDNS1123Subdomain(s) {
		v.add(path, "%q is not a valid DNS name: %s", s, msg)
	}
}

// labels checks keys and values as Kubernetes does for metadata.labels.
func (v *validator) labels(path string, labels map[string]string, required bool) {
	if required && len(labels) == 0 {
		v.add(path, "empty, expected at least one label")
	}
	for _, k := range sortedKeys(labels) {
		for _, msg := range validation.IsQualifiedName(k) {
			v.add(path, "label key %q is invalid: %s", k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(labels[k]) {
			v.add(fmt.Sprintf("%s[%s]", path, k), "label value %q is invalid: %s", labels[k], msg)
		}
	}
}

func (v *validator) role(path string, r Role, required bool) {
	if r == "" {
		if required {
			v.add(path, "missing, expected one of %s", roleList())
		}
		return
	}
	if !slices.Contains(Roles, r) {
		v.add(path, "is %q, expected one of %s", r, roleList())
	}
}

func roleList() string {
	s := make([]string, len(Roles))
	for i, r := range Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func (v *validator) portNumber(path string, port int32) {
	if port < 1 || port > 65535 {
		v.add(path, "is %d, expected a port number from 1 to 65535", port)
	}
}

var protocols = []string{"TCP", "UDP", "SCTP"}

func (v *validator) protocol(path, proto string) {
	if slices.Contains(protocols, proto) {
		return
	}
	hint := ""
	if slices.Contains(protocols, strings.ToUpper(proto)) {
		hint = " (protocols are upper case, as in Kubernetes)"
	}
	v.add(path, "is %q, expected TCP, UDP or SCTP%s", proto, hint)
}

// cidrs checks a list of CIDRs.
func (v *validator) cidrs(path string, list []string) {
	for i, c := range list {
		v.cidr(fmt.Sprintf("%s[%d]", path, i), c)
	}
}

// cidr parses s as a prefix without host bits, as ipBlock, cloud firewalls
// and the egress guard all read it.
func (v *validator) cidr(path, s string) (netip.Prefix, bool) {
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		v.add(path, "%q is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32", s)
		return netip.Prefix{}, false
	}
	if pfx.Masked() != pfx {
		v.add(path, "%q has host bits set, expected %s", s, pfx.Masked())
		return netip.Prefix{}, false
	}
	return pfx, true
}

func (v *validator) httpsURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		v.add(path, "%q is not an https:// URL", s)
	}
}

func (v *validator) zoneNames() string {
	names := make([]string, len(v.p.Spec.Zones))
	for i, z := range v.p.Spec.Zones {
		names[i] = z.Name
	}
	return listOrNone(names)
}

func (v *validator) groupNames() string {
	names := make([]string, len(v.p.Spec.SourceGroups))
	for i, g := range v.p.Spec.SourceGroups {
		names[i] = g.Name
	}
	return listOrNone(names)
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "(none defined)"
	}
	return strings.Join(names, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
