package audit

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/budnet/budnet/internal/manifest"
)

// Guide section 6.1: certificate management with cert-manager
// (https://cert-manager.io/docs/usage/ingress/, https://cert-manager.io/docs/usage/gateway/).

// renewWarning is how close to expiry a certificate counts as not renewed:
// cert-manager renews at two thirds of the lifetime (30 days before the end
// of a 90-day ACME certificate), so a certificate this close has missed it.
const renewWarning = 14 * 24 * time.Hour

func checkIssuer() Check {
	return Check{
		ID: "BUD-6.1-01", Title: "A cert-manager issuer exists for the edge certificates", Section: "6.1", Severity: SeverityMedium,
		Remediation: "Create the ClusterIssuer `budnet generate` emits from the model's tls.issuer (ACME with HTTP-01 through the edge, or a CA issuer for air-gapped installs).",
		Doc:         docOf("BUD-6.1-01"),
		Run: func(c *Context) []Result {
			uses := tlsSecretUses(newEdge(c.Inventory))
			if len(uses) == 0 {
				return nil
			}
			issuers := objectsOf(c.Inventory, groupsCertMgr, "Issuer", "ClusterIssuer")
			if len(issuers) == 0 {
				return []Result{res(StatusFail, "issuer", fmt.Sprintf("the edge presents %s but no cert-manager Issuer or ClusterIssuer exists: nothing issues or renews them", plural(len(uses), "TLS secret", "TLS secrets")))}
			}
			var names []string
			for _, o := range issuers {
				names = append(names, o.Ref())
			}
			return []Result{res(StatusPass, "issuer", "cert-manager issuers: "+listing(names, 4), ObjectEvidence(issuers[0], "spec", ""))}
		},
	}
}

// secretOwner is a route or Gateway that presents a TLS secret.
type secretOwner struct {
	obj *manifest.Object
	use secretUse
}

// tlsSecretUses lists the TLS secrets the edge presents: Ingress and
// IngressRoute secrets, and Gateway listeners' certificateRefs.
func tlsSecretUses(e *edge) []secretOwner {
	var out []secretOwner
	for _, r := range e.routes {
		for _, s := range r.secrets {
			out = append(out, secretOwner{obj: r.obj, use: s})
		}
	}
	for _, g := range objectsOf(e.inv, groupsGateway, "Gateway") {
		for i, l := range nestedSlice(g, "spec", "listeners") {
			for j, ref := range sliceIn(asMap(l), "tls", "certificateRefs") {
				rm := asMap(ref)
				if k := stringIn(rm, "kind"); k != "" && k != "Secret" {
					continue
				}
				ns := stringIn(rm, "namespace")
				if ns == "" {
					ns = g.Namespace
				}
				out = append(out, secretOwner{obj: g, use: secretUse{ns, stringIn(rm, "name"), fmt.Sprintf("spec.listeners[%d].tls.certificateRefs[%d]", i, j)}})
			}
		}
	}
	return out
}

func checkCertManaged() Check {
	return Check{
		ID: "BUD-6.1-02", Title: "Edge certificates are issued by cert-manager", Section: "6.1", Severity: SeverityMedium,
		Remediation: "Issue every edge certificate through cert-manager: `budnet generate` emits a Certificate per edge host set (or the cert-manager.io/cluster-issuer annotation on the Gateway) referencing its ClusterIssuer.",
		Doc:         docOf("BUD-6.1-02"),
		Run: func(c *Context) []Result {
			var out []Result
			seen := map[string]bool{}
			for _, u := range tlsSecretUses(newEdge(c.Inventory)) {
				key := u.use.namespace + "/" + u.use.name
				if seen[key] {
					continue
				}
				seen[key] = true
				out = append(out, certManaged(c.Inventory, u, key))
			}
			return out
		},
	}
}

func issuerExists(inv *manifest.Inventory, kind, ns, name string) bool {
	if kind == "" {
		kind = "Issuer"
	}
	for _, o := range objectsOf(inv, groupsCertMgr, kind) {
		if o.Name == name && (kind == "ClusterIssuer" || o.Namespace == ns) {
			return true
		}
	}
	return false
}

func certManaged(inv *manifest.Inventory, u secretOwner, key string) Result {
	for _, cert := range objectsOf(inv, groupsCertMgr, "Certificate") {
		if cert.Namespace != u.use.namespace || nestedString(cert, "spec", "secretName") != u.use.name {
			continue
		}
		kind, name := nestedString(cert, "spec", "issuerRef", "kind"), nestedString(cert, "spec", "issuerRef", "name")
		if issuerExists(inv, kind, cert.Namespace, name) {
			return res(StatusPass, key, "issued by Certificate "+cert.Ref(), ObjectEvidence(cert, "spec.issuerRef", kind+" "+name))
		}
		return res(StatusFail, key, fmt.Sprintf("Certificate %s names issuer %s, which does not exist", cert.Ref(), name), ObjectEvidence(cert, "spec.issuerRef", name))
	}
	ann := annotationsOf(u.obj)
	for _, k := range []string{"cert-manager.io/cluster-issuer", "cert-manager.io/issuer"} {
		name := ann[k]
		if name == "" {
			continue
		}
		kind := "Issuer"
		if k == "cert-manager.io/cluster-issuer" {
			kind = "ClusterIssuer"
		}
		field := "metadata.annotations[" + k + "]"
		if issuerExists(inv, kind, u.obj.Namespace, name) {
			return res(StatusPass, key, "cert-manager issues it from the annotation on "+u.obj.Ref(), ObjectEvidence(u.obj, field, name))
		}
		return res(StatusFail, key, fmt.Sprintf("%s asks for %s %s, which does not exist", u.obj.Ref(), kind, name), ObjectEvidence(u.obj, field, name))
	}
	if ann["kubernetes.io/tls-acme"] == "true" {
		return res(StatusPartial, key, "kubernetes.io/tls-acme relies on cert-manager's default issuer flags (--default-issuer-name), which the manifests do not show; name the issuer with cert-manager.io/cluster-issuer",
			ObjectEvidence(u.obj, "metadata.annotations[kubernetes.io/tls-acme]", "true"))
	}
	return res(StatusFail, key, fmt.Sprintf("%s presents secret %s, which no cert-manager Certificate or issuer annotation manages: nobody renews it", u.obj.Ref(), key),
		ObjectEvidence(u.obj, u.use.field, u.use.name))
}

func checkCertExpiry() Check {
	return Check{
		ID: "BUD-6.1-03", Title: "Certificates are valid and not about to expire", Section: "6.1", Severity: SeverityHigh,
		Remediation: "Fix the failing issuance (kubectl describe certificate) so cert-manager renews it; `budnet generate` also emits an alert on certmanager_certificate_expiration_timestamp_seconds.",
		Doc:         docOf("BUD-6.1-03"),
		Run: func(c *Context) []Result {
			now := c.Now
			if now.IsZero() {
				now = time.Now()
			}
			var out []Result
			for _, cert := range objectsOf(c.Inventory, groupsCertMgr, "Certificate") {
				if s := nestedString(cert, "status", "notAfter"); s != "" {
					t, err := time.Parse(time.RFC3339, s)
					if err != nil {
						out = append(out, res(StatusFail, cert.Ref(), "status.notAfter is not a time: "+s, ObjectEvidence(cert, "status.notAfter", s)))
						continue
					}
					out = append(out, expiry(cert, "status.notAfter", t, now))
				}
			}
			for _, s := range objectsOf(c.Inventory, groupsCore, "Secret") {
				if t, ok := secretNotAfter(s); ok {
					out = append(out, expiry(s, "data[tls.crt]", t, now))
				}
			}
			return out
		},
	}
}

func expiry(o *manifest.Object, field string, notAfter, now time.Time) Result {
	left := notAfter.Sub(now)
	detail := "notAfter " + notAfter.UTC().Format(time.RFC3339)
	switch {
	case left <= 0:
		return res(StatusFail, o.Ref(), fmt.Sprintf("expired %s ago", (-left).Round(time.Hour)), ObjectEvidence(o, field, detail))
	case left < renewWarning:
		return res(StatusPartial, o.Ref(), fmt.Sprintf("expires in %s: renewal should have happened", left.Round(time.Hour)), ObjectEvidence(o, field, detail))
	}
	return res(StatusPass, o.Ref(), fmt.Sprintf("valid for %d more days", int(left.Hours()/24)), ObjectEvidence(o, field, detail))
}

// secretNotAfter reads the leaf certificate of a TLS secret.
func secretNotAfter(s *manifest.Object) (time.Time, bool) {
	raw := nestedString(s, "data", "tls.crt")
	var pemBytes []byte
	if raw != "" {
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return time.Time{}, false
		}
		pemBytes = b
	} else if v := nestedString(s, "stringData", "tls.crt"); v != "" {
		pemBytes = []byte(v)
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		return time.Time{}, false
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return time.Time{}, false
	}
	return cert.NotAfter, true
}
