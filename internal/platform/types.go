// Package platform is budnet's model of intent: the zones, workloads and
// intended flows of a platform (guide sections 3 and 4) and the settings the
// other commands read. Every command works from one *Platform, loaded from a
// user's YAML file or the embedded Bud AI Foundry reference.
package platform

import (
	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIVersion and Kind identify a platform file.
const (
	APIVersion = "budnet.io/v1alpha1"
	Kind       = "Platform"
)

// Platform is the root of a platform file.
type Platform struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`

	// Source is where the model was read from, for error messages and evidence.
	Source Source `json:"-"`

	// node is the parsed document, kept so Validate can name the line of any
	// field; nil for models built in code.
	node *yaml.Node
}

// Metadata names the platform.
type Metadata struct {
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Source locates a model element in its file.
type Source struct {
	File string `json:"-"`
	Line int    `json:"-"`
}

// Spec is the model proper.
type Spec struct {
	// Cluster describes the cluster's address plan and system services.
	Cluster Cluster `json:"cluster"`
	// Zones are the namespaces of guide section 3.1.
	Zones []Zone `json:"zones"`
	// Workloads are the platform's components, each in one zone.
	Workloads []Workload `json:"workloads"`
	// SourceGroups name sets of external CIDRs used by ingress and egress flows
	// (for example internet, admin, monitoring, control-plane).
	SourceGroups []CIDRGroup `json:"sourceGroups,omitempty"`
	// Flows is the intended firewall matrix of guide section 4.
	Flows Flows `json:"flows"`
	// Mesh configures Dapr mTLS and access control (guide section 5).
	Mesh Mesh `json:"mesh,omitempty"`
	// Edge configures the ingress edge (guide sections 6.1, 6.2, 7).
	Edge Edge `json:"edge,omitempty"`
	// TLS holds TLS requirements (guide section 6).
	TLS TLS `json:"tls,omitempty"`
	// EgressGateway configures `budnet egress` (guide sections 4.3, 8.2).
	EgressGateway EgressGateway `json:"egressGateway,omitempty"`
	// Monitoring holds alert thresholds (guide section 10).
	Monitoring Monitoring `json:"monitoring,omitempty"`
	// Clusters are registered workload clusters (guide section 9.2).
	Clusters []RegisteredCluster `json:"clusters,omitempty"`
	// Cloud describes the cloud perimeter (guide sections 4.1, 11.3).
	Cloud Cloud `json:"cloud,omitempty"`
	// Ignore suppresses audit findings; every entry needs a reason.
	Ignore []Suppression `json:"ignore,omitempty"`
}

// Cluster is the cluster's address plan and system services.
type Cluster struct {
	// PodCIDRs and ServiceCIDRs are never reachable through the egress gateway
	// and are excepted from ipBlock egress rules.
	PodCIDRs     []string `json:"podCIDRs,omitempty"`
	ServiceCIDRs []string `json:"serviceCIDRs,omitempty"`
	// DNS is where pods resolve names; default-deny egress must let them reach it.
	DNS DNS `json:"dns,omitempty"`
	// APIServer is the Kubernetes API as seen from pods.
	APIServer APIServer `json:"apiServer,omitempty"`
	// Note explains a choice, in particular where the model corrects the guide.
	Note string `json:"note,omitempty"`
}

// DNS locates the cluster DNS pods.
type DNS struct {
	Namespace string            `json:"namespace,omitempty"` // default kube-system
	PodLabels map[string]string `json:"podLabels,omitempty"` // default k8s-app: kube-dns
	Ports     []Port            `json:"ports,omitempty"`     // default UDP and TCP 53
	Note      string            `json:"note,omitempty"`
}

// APIServer is the Kubernetes API endpoint.
type APIServer struct {
	// Group names the source group holding the control plane's addresses.
	Group string `json:"group,omitempty"`
	Ports []Port `json:"ports,omitempty"` // default 443 and 6443
	Note  string `json:"note,omitempty"`
}

// Zone is a namespace with a purpose (guide section 3.1).
type Zone struct {
	Name    string            `json:"name"`
	Purpose string            `json:"purpose,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	// PodSecurity is the Pod Security Admission level to enforce:
	// privileged, baseline or restricted.
	PodSecurity string `json:"podSecurity,omitempty"`
	Note        string `json:"note,omitempty"`
	Source      Source `json:"-"`
}

// Role classifies a workload; checks and generators treat roles differently.
type Role string

// The roles a workload can have.
const (
	RoleService          Role = "service"
	RoleFrontend         Role = "frontend"
	RoleDatastore        Role = "datastore"
	RoleIngress          Role = "ingress"
	RoleMonitoring       Role = "monitoring"
	RoleIdentity         Role = "identity"
	RoleDaprControlPlane Role = "dapr-control-plane"
	RoleGateway          Role = "gateway"
)

// Roles lists every valid role, in documentation order.
var Roles = []Role{RoleService, RoleFrontend, RoleDatastore, RoleIngress, RoleMonitoring, RoleIdentity, RoleDaprControlPlane, RoleGateway}

// Workload is one component of the platform.
type Workload struct {
	Name string `json:"name"`
	Zone string `json:"zone"`
	Role Role   `json:"role"`
	// PodLabels select the workload's pods; policies and the manifest matcher use them.
	PodLabels map[string]string `json:"podLabels"`
	// Ports are the container ports, by name.
	Ports []NamedPort `json:"ports,omitempty"`
	// Service is the Service name in front of the pods; default the workload name.
	Service string `json:"service,omitempty"`
	// ServiceAccount identifies the workload to the egress gateway (SPIFFE ID).
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// Dapr is set when the workload runs a Dapr sidecar.
	Dapr *DaprApp `json:"dapr,omitempty"`
	Note string   `json:"note,omitempty"`

	Source Source `json:"-"`
}

// NamedPort is a container port of a workload.
type NamedPort struct {
	Name     string `json:"name"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol,omitempty"` // TCP (default), UDP or SCTP
	// AppProtocol says what speaks on the port: http, https, grpc, postgresql,
	// redis, clickhouse-http, clickhouse-https, clickhouse-native, ...
	AppProtocol string `json:"appProtocol,omitempty"`
	// TLS is true when the port serves TLS; `budnet tls --platform` probes it.
	TLS  bool   `json:"tls,omitempty"`
	Note string `json:"note,omitempty"`
}

// DaprApp is a workload's Dapr sidecar.
type DaprApp struct {
	AppID   string `json:"appId"`
	AppPort int32  `json:"appPort,omitempty"`
}

// CIDRGroup is a named set of external address ranges.
type CIDRGroup struct {
	Name  string   `json:"name"`
	CIDRs []string `json:"cidrs"`
	Note  string   `json:"note,omitempty"`
}

// Flows is the intended firewall matrix.
type Flows struct {
	// Ingress are flows from outside the cluster (guide table 4.1).
	Ingress []IngressFlow `json:"ingress,omitempty"`
	// Internal are flows between workloads (guide table 4.2).
	Internal []InternalFlow `json:"internal,omitempty"`
	// Egress are flows to destinations outside the cluster (guide table 4.3).
	Egress []EgressFlow `json:"egress,omitempty"`
}

// Selector picks workloads of the model. Set fields are AND-ed; an empty
// selector is invalid. Workload names are unique across the model.
type Selector struct {
	Zone     string `json:"zone,omitempty"`
	Workload string `json:"workload,omitempty"`
	Role     Role   `json:"role,omitempty"`
	// Dapr selects workloads that run a Dapr sidecar.
	Dapr bool `json:"dapr,omitempty"`
}

// Port is a port or port range of a flow. Name refers to a named port of the
// destination workload(s) instead of a number.
type Port struct {
	Port     int32  `json:"port,omitempty"`
	EndPort  int32  `json:"endPort,omitempty"`
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol,omitempty"` // TCP (default), UDP or SCTP
}

// Guide cites the row of the guide a flow implements, for example
// "4.2 bud-system -> bud-data (PostgreSQL) 5432". Rows the guide lacks but the
// platform needs cite domain knowledge in Note.
type Guide string

// InternalFlow is an intended connection between workloads.
type InternalFlow struct {
	Name    string   `json:"name"`
	From    Selector `json:"from"`
	To      Selector `json:"to"`
	Ports   []Port   `json:"ports"`
	Purpose string   `json:"purpose,omitempty"`
	Guide   Guide    `json:"guide,omitempty"`
	// Invoke lists the Dapr service-invocation operations the flow allows when
	// both ends are Dapr apps; it becomes the callee's accessControl policy.
	Invoke []DaprOperation `json:"invoke,omitempty"`
	Note   string          `json:"note,omitempty"`
	Source Source          `json:"-"`
}

// DaprOperation is an allowed service-invocation operation.
type DaprOperation struct {
	Name  string   `json:"name"`            // path, e.g. /v1/* or /*
	Verbs []string `json:"verbs,omitempty"` // HTTP verbs; * or empty for all
}

// IngressFlow is an intended connection from outside the cluster.
type IngressFlow struct {
	Name string `json:"name"`
	// Groups name SourceGroups; CIDRs list ranges directly. At least one.
	Groups  []string `json:"groups,omitempty"`
	CIDRs   []string `json:"cidrs,omitempty"`
	To      Selector `json:"to"`
	Ports   []Port   `json:"ports"`
	Purpose string   `json:"purpose,omitempty"`
	Guide   Guide    `json:"guide,omitempty"`
	Note    string   `json:"note,omitempty"`
	Source  Source   `json:"-"`
}

// EgressFlow is an intended connection to destinations outside the cluster.
// Hosts are exact names or *.domain wildcards that match subdomains only.
type EgressFlow struct {
	Name    string   `json:"name"`
	From    Selector `json:"from"`
	Hosts   []string `json:"hosts,omitempty"`
	CIDRs   []string `json:"cidrs,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	Ports   []Port   `json:"ports"`
	Purpose string   `json:"purpose,omitempty"`
	Guide   Guide    `json:"guide,omitempty"`
	Note    string   `json:"note,omitempty"`
	Source  Source   `json:"-"`
}

// Mesh configures Dapr.
type Mesh struct {
	// Namespace holds the Dapr control plane (its Configuration daprsystem).
	Namespace string `json:"namespace,omitempty"`
	// TrustDomain is the SPIFFE trust domain of workload identities.
	TrustDomain string `json:"trustDomain,omitempty"`
	MTLS        MTLS   `json:"mtls,omitempty"`
	Note        string `json:"note,omitempty"`
}

// MTLS are the Dapr control-plane mTLS settings.
type MTLS struct {
	Enabled          *bool            `json:"enabled,omitempty"` // default true
	WorkloadCertTTL  *metav1.Duration `json:"workloadCertTTL,omitempty"`
	AllowedClockSkew *metav1.Duration `json:"allowedClockSkew,omitempty"`
}

// EdgeKind selects the ingress implementation generate emits.
type EdgeKind string

// The supported edges.
const (
	EdgeGatewayAPI EdgeKind = "gateway-api"
	EdgeTraefik    EdgeKind = "traefik"
	EdgeNginx      EdgeKind = "nginx"
)

// Edge configures the ingress edge.
type Edge struct {
	Kind EdgeKind `json:"kind,omitempty"` // default gateway-api
	// ClassName is the IngressClass or GatewayClass.
	ClassName string     `json:"className,omitempty"`
	Hosts     []EdgeHost `json:"hosts,omitempty"`
	// RateLimit is requests per second per client address.
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	// MaxBodySize limits request bodies, e.g. "10m".
	MaxBodySize string `json:"maxBodySize,omitempty"`
	// WAF enables ModSecurity with the OWASP core rule set where the edge supports it.
	WAF  *bool  `json:"waf,omitempty"`
	Note string `json:"note,omitempty"`
}

// EdgeHost is a host name served at the edge.
type EdgeHost struct {
	Name string `json:"name"`
	// Workload is the backend the host routes to, with its port name.
	Workload string `json:"workload"`
	Port     string `json:"port,omitempty"`
	// Admin hosts are reachable only from the admin source group.
	Admin bool `json:"admin,omitempty"`
	// Streaming hosts answer with responses that must reach the client as
	// they are produced (server-sent events, streamed LLM completions,
	// WebSocket): the edge puts no response-buffering middleware in front
	// of them.
	Streaming bool `json:"streaming,omitempty"`
	// Calls are the origins (https://host[:port] or wss://host[:port]) that
	// the pages served on this host call from the browser with fetch, XHR,
	// EventSource or WebSocket; the edge's Content-Security-Policy lists
	// them in connect-src, so the browser lets those calls through.
	Calls []string `json:"calls,omitempty"`
	// Paths are the path prefixes the edge routes to the workload, matched
	// element by element (/realms matches /realms and /realms/x, not
	// /realmsx); empty routes every path. A host whose workload also serves
	// an admin UI lists only its public paths: Keycloak's /realms, /resources
	// and /.well-known, never / or /admin (keycloak.org, "Configuring a
	// reverse proxy", exposed path recommendations).
	Paths []string `json:"paths,omitempty"`
}

// RoutedPaths are the path prefixes the edge routes for the host: Paths, or
// the root when it names none.
func (h EdgeHost) RoutedPaths() []string {
	if len(h.Paths) == 0 {
		return []string{"/"}
	}
	return h.Paths
}

// RateLimit is an edge rate limit.
type RateLimit struct {
	RPS   int32 `json:"rps"`
	Burst int32 `json:"burst,omitempty"`
}

// TLS holds TLS requirements.
type TLS struct {
	// MinVersion is the lowest TLS version accepted anywhere: "1.2" or "1.3".
	MinVersion string `json:"minVersion,omitempty"`
	// Issuer selects how edge certificates are issued.
	Issuer Issuer `json:"issuer,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Issuer is the cert-manager issuer for edge certificates.
type Issuer struct {
	// Kind is acme (Let's Encrypt style, HTTP-01) or ca (internal, air-gapped).
	Kind   string `json:"kind,omitempty"`
	Email  string `json:"email,omitempty"`
	Server string `json:"server,omitempty"`
}

// EgressMode is how the gateway treats what the allowlist denies.
type EgressMode string

// Egress gateway modes.
const (
	EgressEnforce EgressMode = "enforce"
	EgressReport  EgressMode = "report"
)

// EgressGateway configures `budnet egress serve`.
type EgressGateway struct {
	Enabled bool `json:"enabled,omitempty"`
	// Workload names the gateway's workload in Workloads.
	Workload string     `json:"workload,omitempty"`
	Mode     EgressMode `json:"mode,omitempty"` // default enforce
	// DefaultAction applies to callers that cannot be identified: deny (default) or allow.
	DefaultAction string `json:"defaultAction,omitempty"`
	// AllowedCIDRs are ranges the address guard lets through although they are
	// private (for example a corporate proxy); DeniedCIDRs add to the guard's list.
	AllowedCIDRs []string `json:"allowedCIDRs,omitempty"`
	DeniedCIDRs  []string `json:"deniedCIDRs,omitempty"`
	// Sources maps caller address ranges to workloads, the least trusted identity.
	Sources []SourceMapping `json:"sources,omitempty"`
	Note    string          `json:"note,omitempty"`
}

// SourceMapping identifies callers from a CIDR as a workload.
type SourceMapping struct {
	CIDR     string `json:"cidr"`
	Workload string `json:"workload"`
}

// Monitoring holds alert settings.
type Monitoring struct {
	// IngressErrorRate is the fraction of 5xx responses that fires the alert; default 0.05.
	IngressErrorRate float64 `json:"ingressErrorRate,omitempty"`
	// EgressBytesPerSecond is the egress volume per source that counts as unusual.
	EgressBytesPerSecond int64 `json:"egressBytesPerSecond,omitempty"`
	// Namespace receives the PrometheusRule; Labels select it for the Prometheus instance.
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// RegisteredCluster is a workload cluster budcluster manages (guide 9.2).
type RegisteredCluster struct {
	Name   string `json:"name"`
	Server string `json:"server"`
	// Namespaces budcluster deploys into there.
	Namespaces []string `json:"namespaces,omitempty"`
}

// Cloud describes the cloud perimeter.
type Cloud struct {
	Provider string `json:"provider,omitempty"` // aws or azure
	VPCCIDR  string `json:"vpcCIDR,omitempty"`
	// Subnets by tier: public (load balancer), app, data.
	Subnets map[string]string `json:"subnets,omitempty"`
	// DDoSProtection enables AWS Shield Advanced or an Azure DDoS protection plan.
	DDoSProtection bool `json:"ddosProtection,omitempty"`
}

// Suppression silences one audit check, optionally for one object.
type Suppression struct {
	Check string `json:"check"`
	// Object is kind/namespace/name or kind/name; empty means everywhere.
	Object string `json:"object,omitempty"`
	Reason string `json:"reason"`
	// Until is the last day (YYYY-MM-DD, UTC) the suppression holds; after
	// it the finding fails again and the report says the suppression
	// expired. Empty means no expiry.
	Until string `json:"until,omitempty" jsonschema:"format=date"`
}
