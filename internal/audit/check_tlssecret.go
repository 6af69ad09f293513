package audit

import (
	"fmt"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
)

// Guide section 6.1: a route that asks for TLS must present a certificate
// that something provides. An Ingress TLS entry without secretName, an
// IngressRoute tls without secretName or certResolver, or a secret that no
// Secret, Certificate or cert-manager annotation provides makes the
// controller serve its own self-signed default certificate (Traefik's
// "TRAEFIK DEFAULT CERT", ingress-nginx's "Kubernetes Ingress Controller
// Fake Certificate"): clients either fail or learn to click through.
// BUD-6.1-02 asks who renews a named secret; this asks whether there is one.

func checkTLSSecretProvided() Check {
	return Check{
		ID: "BUD-6.1-04", Title: "Every TLS route presents a certificate that something provides", Section: "6.1", Severity: SeverityHigh,
		Remediation: "Name a secretName in every TLS entry and have cert-manager create it (a Certificate, or the cert-manager.io/cluster-issuer annotation on the Ingress); with Traefik, an IngressRoute may use tls.certResolver instead, or a default TLSStore with a real defaultCertificate.",
		Doc:         docOf("BUD-6.1-04"),
		Run: func(c *Context) []Result {
			var out []Result
			defaultCert, storeEv := traefikDefaultCert(c.Inventory)
			for _, r := range newEdge(c.Inventory).routes {
				if r.redirectOnly {
					continue
				}
				out = append(out, routeSecrets(c, r, defaultCert, storeEv)...)
			}
			return out
		},
	}
}

// traefikDefaultCert reports a default TLSStore that replaces Traefik's
// self-signed default certificate
// (https://doc.traefik.io/traefik/https/tls/#default-certificate).
func traefikDefaultCert(inv *manifest.Inventory) (bool, Evidence) {
	for _, o := range objectsOf(inv, groupsTraefik, "TLSStore") {
		if o.Name != "default" {
			continue
		}
		if s := nestedString(o, "spec", "defaultCertificate", "secretName"); s != "" {
			return true, ObjectEvidence(o, "spec.defaultCertificate.secretName", s)
		}
		if _, ok := nested(o, "spec", "defaultGeneratedCert", "resolver"); ok {
			return true, ObjectEvidence(o, "spec.defaultGeneratedCert", "")
		}
	}
	return false, Evidence{}
}

func routeSecrets(c *Context, r *route, defaultCert bool, storeEv Evidence) []Result {
	subject := r.obj.Ref()
	var out []Result
	missing := func(field string) {
		switch {
		case defaultCert && r.kind == edgeTraefik:
			out = append(out, res(StatusPass, subject, "no secret named: Traefik presents the default TLSStore's certificate", storeEv))
		default:
			out = append(out, res(StatusFail, subject, fmt.Sprintf("%s asks for TLS without naming a certificate: the controller presents its self-signed default certificate", subject),
				ObjectEvidence(r.obj, field, "no secretName")))
		}
	}
	switch r.obj.Kind {
	case "Ingress":
		for i, t := range nestedSlice(r.obj, "spec", "tls") {
			if stringIn(asMap(t), "secretName") == "" {
				missing(fmt.Sprintf("spec.tls[%d]", i))
			}
		}
	case "IngressRoute":
		if _, ok := nested(r.obj, "spec", "tls"); ok && nestedString(r.obj, "spec", "tls", "secretName") == "" {
			if resolver := nestedString(r.obj, "spec", "tls", "certResolver"); resolver != "" {
				out = append(out, res(StatusPass, subject, "Traefik obtains the certificate through certResolver "+resolver, ObjectEvidence(r.obj, "spec.tls.certResolver", resolver)))
			} else {
				missing("spec.tls")
			}
		}
	}
	for _, s := range r.secrets {
		out = append(out, secretProvided(c, r, s))
	}
	return out
}

func secretProvided(c *Context, r *route, s secretUse) Result {
	subject := r.obj.Ref() + " " + s.namespace + "/" + s.name
	for _, o := range objectsOf(c.Inventory, groupsCore, "Secret") {
		if o.Namespace != s.namespace || o.Name != s.name {
			continue
		}
		cd := readConfigData(o)
		if strings.TrimSpace(cd.data["tls.crt"]) == "" || strings.TrimSpace(cd.data["tls.key"]) == "" {
			return res(StatusFail, subject, "Secret "+o.Ref()+" has no tls.crt and tls.key: the controller falls back to its default certificate", ObjectEvidence(o, "data", "no tls.crt/tls.key"))
		}
		return res(StatusPass, subject, "the Secret is in the input", ObjectEvidence(o, "data[tls.crt]", ""))
	}
	for _, cert := range objectsOf(c.Inventory, groupsCertMgr, "Certificate") {
		if cert.Namespace == s.namespace && nestedString(cert, "spec", "secretName") == s.name {
			return res(StatusPass, subject, "Certificate "+cert.Ref()+" creates it", ObjectEvidence(cert, "spec.secretName", s.name))
		}
	}
	ann := annotationsOf(r.obj)
	for _, k := range []string{"cert-manager.io/cluster-issuer", "cert-manager.io/issuer", "kubernetes.io/tls-acme"} {
		if ann[k] != "" && r.obj.Kind != "IngressRoute" {
			return res(StatusPass, subject, "cert-manager's ingress-shim creates it ("+k+")", ObjectEvidence(r.obj, "metadata.annotations["+k+"]", ann[k]))
		}
	}
	ev := ObjectEvidence(r.obj, s.field, s.name)
	if c.Source == "cluster" {
		return res(StatusFail, subject, fmt.Sprintf("secret %s/%s does not exist and nothing creates it: the controller presents its self-signed default certificate", s.namespace, s.name), ev)
	}
	// Manifests and charts often expect a Secret created out of band: its
	// absence from the input is no proof it is missing in the cluster.
	return res(StatusNotApplicable, subject, fmt.Sprintf("not judged: no Secret, Certificate or cert-manager annotation in the input provides %s/%s; it may be created out of band (audit --cluster to judge)", s.namespace, s.name), ev)
}
