package generate

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/platform"
)

// FileCerts holds the cert-manager issuers and certificates.
const FileCerts = "40-certificates.yaml"

// cert-manager names (https://cert-manager.io/docs/reference/api-docs/).
const (
	apiCertManager     = "cert-manager.io/v1"
	kindClusterIssuer  = "ClusterIssuer"
	kindCertificate    = "Certificate"
	issuerSelfSigned   = "budnet-selfsigned"
	issuerInternalCA   = "budnet-internal-ca"
	issuerACME         = "budnet-acme"
	secretInternalCA   = "budnet-internal-ca"
	defaultACMEServer  = "https://acme-v02.api.letsencrypt.org/directory"
	certManagerDefault = "cert-manager"
	// Lifetimes: the CA outlives the server certificates it signs many times
	// over; server certificates follow the 90 days ACME certificates have,
	// renewed with 30 days to spare.
	caDuration         = "87600h"
	serverDuration     = "2160h"
	serverRenewBefore  = "720h"
	issuerKindACME     = "acme"
	secretACMEAccount  = "budnet-acme-account-key"
	clusterDomainLocal = "cluster.local"
)

// Certs implements guide sections 6.1 and 6.3 with cert-manager: an
// internal CA (self-signed bootstrap ClusterIssuer, CA Certificate, CA
// ClusterIssuer, https://cert-manager.io/docs/configuration/selfsigned/#bootstrapping-ca-issuers),
// server Certificates for every datastore with a TLS port (PostgreSQL,
// ClickHouse, Redis/Valkey), and for the edge hosts an ACME ClusterIssuer
// solving HTTP-01 through the edge, or the internal CA for air-gapped
// installs (spec.tls.issuer.kind ca or unset).
func Certs(p *platform.Platform, o Options) ([]File, error) {
	var objs []*unstructured.Unstructured
	caNS := certManagerNamespace(p)
	objs = append(objs,
		Object(apiCertManager, kindClusterIssuer, "", issuerSelfSigned, "spec.tls",
			"6.3 internal CA: self-signed bootstrap issuer, used only to sign the CA",
			map[string]any{"spec": map[string]any{"selfSigned": map[string]any{}}}),
		Object(apiCertManager, kindCertificate, caNS, secretInternalCA, "spec.tls",
			"6.3 internal CA certificate (its Secret lives in cert-manager's cluster resource namespace)",
			map[string]any{"spec": map[string]any{
				"isCA":       true,
				"commonName": p.Metadata.Name + " internal CA",
				"secretName": secretInternalCA,
				"duration":   caDuration,
				"privateKey": map[string]any{"algorithm": "ECDSA", "size": int64(256)},
				"issuerRef":  issuerRef(issuerSelfSigned),
			}}),
		Object(apiCertManager, kindClusterIssuer, "", issuerInternalCA, "spec.tls",
			"6.3 internal CA issuer for database and service certificates",
			map[string]any{"spec": map[string]any{"ca": map[string]any{"secretName": secretInternalCA}}}),
	)
	for i := range p.Spec.Workloads {
		w := &p.Spec.Workloads[i]
		if w.Role == platform.RoleDatastore && slices.ContainsFunc(w.Ports, func(np platform.NamedPort) bool { return np.TLS }) {
			objs = append(objs, serverCertificate(w, i))
		}
	}
	edge, err := edgeCerts(p, o)
	if err != nil {
		return nil, err
	}
	objs = append(objs, edge...)
	concern := "cert-manager issuers and certificates (guide 6.1, 6.3)"
	if p.Spec.TLS.Issuer.Kind == issuerKindACME && edgeKind(p, o) == platform.EdgeGatewayAPI {
		// Said in the file's header comment too, where whoever applies the
		// output reads it: without it no edge certificate is issued.
		concern += ". REQUIRES " + certManagerGatewayAPINeeded + ": the ACME issuer solves HTTP-01 with gatewayHTTPRoute, which cert-manager ignores otherwise"
	}
	return []File{{Name: FileCerts, Concern: concern, Objects: objs}}, nil
}

// certManagerNamespace is where cert-manager runs: the zone of the workload
// named cert-manager, else cert-manager's own default. A ClusterIssuer of
// kind ca reads its Secret from the cluster resource namespace, which the
// Helm chart sets to the namespace cert-manager is installed in.
func certManagerNamespace(p *platform.Platform) string {
	if w, ok := p.Workload("cert-manager"); ok {
		return w.Zone
	}
	return certManagerDefault
}

func issuerRef(name string) map[string]any {
	return map[string]any{"name": name, "kind": kindClusterIssuer, "group": "cert-manager.io"}
}

// serverCertificate is a datastore's server certificate from the internal CA
// for every name its Service answers to, so clients can verify the host name
// (sslmode=verify-full, rediss:// with verification, ClickHouse verify).
func serverCertificate(w *platform.Workload, i int) *unstructured.Unstructured {
	svc := w.Service
	dns := []any{
		svc,
		svc + "." + w.Zone,
		svc + "." + w.Zone + ".svc",
		svc + "." + w.Zone + ".svc." + clusterDomainLocal,
	}
	return Object(apiCertManager, kindCertificate, w.Zone, objectName(w.Name, "tls"),
		ModelRow(fmt.Sprintf("spec.workloads[%d]", i), w.Name),
		"6.3 database TLS: server certificate for "+w.Name,
		map[string]any{"spec": map[string]any{
			"secretName":  objectName(w.Name, "tls"),
			"commonName":  svc + "." + w.Zone + ".svc",
			"dnsNames":    dns,
			"duration":    serverDuration,
			"renewBefore": serverRenewBefore,
			"usages":      []any{"server auth", "digital signature", "key encipherment"},
			"privateKey":  map[string]any{"algorithm": "ECDSA", "size": int64(256), "rotationPolicy": "Always"},
			"issuerRef":   issuerRef(issuerInternalCA),
		}})
}

// edgeCerts are the edge issuer (for ACME) and one Certificate per edge
// host, in the namespace where the edge reads the Secret: the Gateway's for
// gateway-api (listeners' certificateRefs name Secrets in their own
// namespace), the backend's for Traefik IngressRoutes and Ingresses.
func edgeCerts(p *platform.Platform, o Options) ([]*unstructured.Unstructured, error) {
	hosts, err := edgeHosts(p)
	if err != nil || len(hosts) == 0 {
		return nil, err
	}
	kind := edgeKind(p, o)
	var objs []*unstructured.Unstructured
	issuer := issuerInternalCA
	if p.Spec.TLS.Issuer.Kind == issuerKindACME {
		issuer = issuerACME
		acme, err := acmeIssuer(p, kind)
		if err != nil {
			return nil, err
		}
		objs = append(objs, acme)
	}
	gwNS := ""
	if kind == platform.EdgeGatewayAPI {
		gw, err := edgeWorkload(p)
		if err != nil {
			return nil, err
		}
		gwNS = gw.Zone
	}
	var certNS []string
	for _, h := range hosts {
		ns := h.backend.Zone
		if gwNS != "" {
			ns = gwNS
		}
		certNS = append(certNS, ns)
		objs = append(objs, Object(apiCertManager, kindCertificate, ns, h.secret,
			h.row, "6.1 TLS certificate for "+h.Name,
			map[string]any{"spec": map[string]any{
				"secretName": h.secret,
				"dnsNames":   []any{h.Name},
				"privateKey": map[string]any{"algorithm": "ECDSA", "size": int64(256), "rotationPolicy": "Always"},
				"issuerRef":  issuerRef(issuer),
			}}))
	}
	if issuer == issuerACME {
		pols, err := acmeSolverPolicies(p, certNS)
		if err != nil {
			return nil, err
		}
		objs = append(objs, pols...)
	}
	return objs, nil
}

// cert-manager's HTTP-01 solver pods (pkg/issuer/acme/http pod.go
// buildDefaultPod, cert-manager v1.21.2): created in the Challenge's
// namespace, which is the Certificate's, labelled
// acme.cert-manager.io/http01-solver "true" (with per-domain and per-token
// hash labels), serving the token on container port 8089 named http
// (acmeSolverListenPort in http.go).
const (
	acmeSolverLabel = "acme.cert-manager.io/http01-solver"
	acmeSolverPort  = 8089
	// acmeSolverPolicy names the solver policies in both namespaces.
	acmeSolverPolicy = "allow-ingress-to-acme-http01-solver"
)

// acmeSolverPolicies let the ingress controller reach cert-manager's
// HTTP-01 solver pods on 8089 under the zones' default deny: an ingress
// policy in every Certificate namespace selecting the solver pods, and an
// egress policy at the controller to them. Without both the ACME server's
// request for /.well-known/acme-challenge/TOKEN reaches the edge but not the
// solver, and certificates never issue or renew. cert-manager's own
// self-check (an http:// GET of that URL from the cert-manager pod) is an
// egress flow of the model, checked by Warnings.
func acmeSolverPolicies(p *platform.Platform, certNS []string) ([]*unstructured.Unstructured, error) {
	ctl, err := edgeWorkload(p)
	if err != nil {
		return nil, err
	}
	slices.Sort(certNS)
	certNS = slices.Compact(certNS)
	solver := map[string]string{acmeSolverLabel: "true"}
	ports := portList([]platform.PortRange{{Protocol: platform.DefaultProtocol, Port: acmeSolverPort, EndPort: acmeSolverPort}})
	const guide = "not in the guide: ACME HTTP-01 under default deny, the edge reaches cert-manager's solver pods"
	var objs []*unstructured.Unstructured
	var to []any
	for _, ns := range certNS {
		to = append(to, peer(ns, solver))
		objs = append(objs, policy(ns, acmeSolverPolicy, "spec.tls.issuer", guide, map[string]any{
			"podSelector": matchLabels(solver),
			"policyTypes": []any{"Ingress"},
			"ingress":     []any{map[string]any{"from": workloadPeers([]*platform.Workload{ctl}), "ports": ports}},
		}))
	}
	objs = append(objs, policy(ctl.Zone, objectName("allow", ctl.Name, "to-acme-http01-solver-egress"), "spec.tls.issuer", guide, map[string]any{
		"podSelector": matchLabels(ctl.PodLabels),
		"policyTypes": []any{"Egress"},
		"egress":      []any{map[string]any{"to": to, "ports": ports}},
	}))
	return objs, nil
}

// acmeIssuer solves HTTP-01 through the edge that serves the hosts: an
// Ingress of the edge's class for traefik and nginx, an HTTPRoute attached
// to the Gateway's HTTP listener for gateway-api
// (https://cert-manager.io/docs/configuration/acme/http01/).
func acmeIssuer(p *platform.Platform, kind platform.EdgeKind) (*unstructured.Unstructured, error) {
	is := p.Spec.TLS.Issuer
	server := is.Server
	if server == "" {
		server = defaultACMEServer
	}
	var http01 map[string]any
	requires := ""
	if kind == platform.EdgeGatewayAPI {
		gw, err := edgeWorkload(p)
		if err != nil {
			return nil, err
		}
		requires = certManagerGatewayAPINeeded
		http01 = map[string]any{"gatewayHTTPRoute": map[string]any{"parentRefs": []any{map[string]any{
			"group": "gateway.networking.k8s.io", "kind": "Gateway",
			"name": EdgeGatewayName, "namespace": gw.Zone, "sectionName": listenerHTTP,
		}}}}
	} else {
		http01 = map[string]any{"ingress": map[string]any{"ingressClassName": edgeClass(p, kind)}}
	}
	acme := map[string]any{
		"server":              server,
		"privateKeySecretRef": map[string]any{"name": secretACMEAccount},
		"solvers":             []any{map[string]any{"http01": http01}},
	}
	if is.Email != "" {
		acme["email"] = is.Email
	}
	u := Object(apiCertManager, kindClusterIssuer, "", issuerACME, "spec.tls.issuer",
		"6.1 TLS certificates from an ACME CA (HTTP-01 through the edge)",
		map[string]any{"spec": map[string]any{"acme": acme}})
	if requires != "" {
		setAnnotation(u, AnnotationRequires, requires)
	}
	return u, nil
}

// certManagerGatewayAPINeeded: cert-manager ignores the gatewayHTTPRoute
// solver unless its controller runs with Gateway API support, off by
// default (pkg/apis/config/controller/v1alpha1 defaultEnableGatewayAPI
// false; pkg/issuer/acme/http Present fails with "gateway api is not
// enabled"), and the Gateway API CRDs must be installed before it starts.
const certManagerGatewayAPINeeded = "cert-manager controller with Gateway API support: --enable-gateway-api " +
	"(Helm: config.enableGatewayAPI=true; ControllerConfiguration gatewayAPI.enabled: true), " +
	"started after the Gateway API CRDs are installed"
