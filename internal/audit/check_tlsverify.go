package audit

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
)

// Guide section 6, TLS configuration, inside the cluster: the identity
// provider serves TLS in production mode, clients verify what they connect
// to, and aggregated APIs are verified by the API server.

func checkKeycloakTLS() Check {
	return Check{
		ID: "BUD-6-01", Title: "Keycloak runs in production mode over HTTPS", Section: "6", Severity: SeverityHigh,
		Remediation: "Run Keycloak with `start` (Bitnami: production=true, KEYCLOAK_PRODUCTION=true) and HTTPS (Bitnami: tls.enabled, KEYCLOAK_ENABLE_HTTPS=true with its certificate; the official image: KC_HTTPS_CERTIFICATE_FILE and KC_HTTP_ENABLED=false). start-dev serves plain HTTP with development defaults; tokens and passwords then cross the cluster in the clear.",
		Doc:         docOf("BUD-6-01"),
		Run: func(c *Context) []Result {
			sets := envSetsBySubject(c.Inventory)
			var out []Result
			for _, w := range c.Inventory.Workloads {
				for _, ct := range w.Containers {
					if ct.Inferred || !keycloakImage.MatchString(ct.Image) {
						continue
					}
					s := sets[w.Ref()+" container "+ct.Name]
					if s == nil {
						continue
					}
					out = append(out, keycloak(w, ct, s)...)
				}
			}
			return out
		},
	}
}

// keycloakImage matches the Keycloak server images (quay.io/keycloak/keycloak,
// bitnami/keycloak), not its config CLI or operator.
var keycloakImage = regexp.MustCompile(`(?i)(^|/)keycloak(:|@|$)`)

// keycloak judges dev mode and HTTP as separate causes. The Bitnami image
// runs start-dev unless KEYCLOAK_PRODUCTION is yes and serves HTTP unless
// KEYCLOAK_ENABLE_HTTPS is yes (bitnami/containers keycloak-env.sh and
// run.sh); the official image serves HTTPS only once a certificate is given
// (https://www.keycloak.org/server/enabletls).
func keycloak(w *manifest.Workload, ct manifest.Container, s *envSet) []Result {
	subject := w.Ref() + " container " + ct.Name
	bitnami := strings.Contains(strings.ToLower(ct.Image), "bitnami")
	var out []Result
	args := ctArgs(w, ct)
	devArg := -1
	for i, a := range args {
		if strings.EqualFold(strings.TrimSpace(a), "start-dev") || strings.Contains(a, " start-dev") {
			devArg = i
		}
	}
	switch prod, ok := s.get("KEYCLOAK_PRODUCTION"); {
	case devArg >= 0:
		out = append(out, res(StatusFail, subject+" mode", "Keycloak runs start-dev: development mode serves HTTP with relaxed hostname and cache settings",
			ObjectEvidence(w.Object, ct.Path, "start-dev in command/args")))
	case bitnami && ok && !truthy(prod.value):
		out = append(out, s.finding(StatusFail, prod, "KEYCLOAK_PRODUCTION is off: the Bitnami image runs start-dev"))
	case bitnami && !ok:
		out = append(out, res(StatusFail, subject+" mode", "no KEYCLOAK_PRODUCTION: the Bitnami image runs start-dev by default",
			ObjectEvidence(w.Object, ct.Path+".env", "no KEYCLOAK_PRODUCTION")))
	default:
		out = append(out, res(StatusPass, subject+" mode", "Keycloak runs in production mode"))
	}
	out = append(out, keycloakHTTP(w, ct, s, bitnami))
	return out
}

func keycloakHTTP(w *manifest.Workload, ct manifest.Container, s *envSet, bitnami bool) Result {
	subject := w.Ref() + " container " + ct.Name
	_, certFile := s.get("KC_HTTPS_CERTIFICATE_FILE", "KC_HTTPS_KEY_STORE_FILE")
	if bitnami {
		v, ok := s.get("KEYCLOAK_ENABLE_HTTPS")
		switch {
		case ok && truthy(v.value):
			return s.finding(StatusPass, v, "Keycloak serves HTTPS")
		case ok:
			return s.finding(StatusFail, v, "KEYCLOAK_ENABLE_HTTPS is off: Keycloak serves only HTTP")
		case certFile:
			return res(StatusPass, subject, "Keycloak is given a certificate")
		}
		return res(StatusFail, subject, "no KEYCLOAK_ENABLE_HTTPS: the Bitnami image serves only HTTP by default", ObjectEvidence(w.Object, ct.Path+".env", "no KEYCLOAK_ENABLE_HTTPS"))
	}
	if v, ok := s.get("KC_HTTP_ENABLED"); ok && truthy(v.value) {
		if certFile {
			return s.finding(StatusPartial, v, "KC_HTTP_ENABLED serves HTTP beside HTTPS")
		}
		return s.finding(StatusFail, v, "KC_HTTP_ENABLED without a certificate: Keycloak serves only HTTP")
	}
	if certFile {
		return res(StatusPass, subject, "Keycloak serves HTTPS")
	}
	return res(StatusFail, subject, "no KC_HTTPS_CERTIFICATE_FILE or key store: Keycloak has no certificate to serve HTTPS with", ObjectEvidence(w.Object, ct.Path+".env", "no HTTPS certificate"))
}

func checkClientVerify() Check {
	return Check{
		ID: "BUD-6-02", Title: "Clients verify the TLS certificates of what they call", Section: "6", Severity: SeverityHigh,
		Remediation: "Remove every verify-off setting (KEYCLOAK_VERIFY_SSL=false, VALIDATE_CERTS=false, NODE_TLS_REJECT_UNAUTHORIZED=0, *_INSECURE_SKIP_VERIFY=true, ...) and mount the issuing CA instead (the cert-manager CA the model's issuer names, via trust-manager or a projected Secret).",
		Doc:         docOf("BUD-6-02"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, s := range envSets(c.Inventory) {
				out = append(out, judgeVerify(s)...)
			}
			return perSource(out)
		},
	}
}

var (
	// verifyOn names say "verify": off when the value is falsy.
	verifyOn = regexp.MustCompile(`(?i)^PYTHONHTTPSVERIFY$|(^|_)(VERIFY_SSL|SSL_VERIFY|VERIFY_TLS|TLS_VERIFY|VALIDATE_CERTS?|VERIFY_CERTS?|CERT_VERIFY|SSL_VALIDATE|TLS_VALIDATE|VERIFY_SERVER_CERT|SSL_VERIFY_PEER|REJECT_UNAUTHORIZED|CHECK_CERTS?)$`)
	// verifyOff names say "skip verifying": off when the value is truthy.
	verifyOff = regexp.MustCompile(`(?i)(^|_)(INSECURE_SKIP_VERIFY|INSECURE_SKIP_TLS_VERIFY|SKIP_TLS_VERIFY|TLS_SKIP_VERIFY|SKIP_SSL_VERIFY|SSL_SKIP_VERIFY|SKIP_VERIFY|TLS_INSECURE|SSL_INSECURE|INSECURE_TLS|INSECURE_SSL|DISABLE_SSL_VERIFICATION|DISABLE_TLS_VERIFICATION|SSL_NO_VERIFY|NO_VERIFY_SSL|ALLOW_INSECURE|TLS_ALLOW_INSECURE)$`)
)

func judgeVerify(s *envSet) []Result {
	var out []Result
	for _, name := range s.order {
		v := s.vars[name]
		un := strings.ToUpper(name)
		// ClickHouse's verify is BUD-6.3-02's; one cause, one finding.
		if strings.Contains(un, "CLICKHOUSE") {
			continue
		}
		switch {
		case verifyOn.MatchString(name) && falsy(v.value):
			out = append(out, s.finding(StatusFail, v, fmt.Sprintf("%s turns certificate verification off: any server, a man in the middle included, is trusted", name)))
		case verifyOff.MatchString(name) && truthy(v.value):
			out = append(out, s.finding(StatusFail, v, fmt.Sprintf("%s skips certificate verification: any server, a man in the middle included, is trusted", name)))
		case verifyOn.MatchString(name) && truthy(v.value), verifyOff.MatchString(name) && falsy(v.value):
			out = append(out, s.finding(StatusPass, v, "certificates are verified"))
		}
	}
	return out
}

func checkAPIServiceTLS() Check {
	return Check{
		ID: "BUD-6-03", Title: "Aggregated APIs are verified by the API server", Section: "6", Severity: SeverityHigh,
		Remediation: "Give every APIService a caBundle (cert-manager's CA injector: the annotation cert-manager.io/inject-ca-from) and drop insecureSkipTLSVerify; with it the API server forwards every user's credentials and impersonation headers to whatever answers at the Service.",
		Doc:         docOf("BUD-6-03"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, o := range objectsOf(c.Inventory, []string{"apiregistration.k8s.io"}, "APIService") {
				if _, ok := nested(o, "spec", "service"); !ok {
					continue // served by the API server itself
				}
				out = append(out, apiService(o))
			}
			return out
		},
	}
}

// apiService judges spec.insecureSkipTLSVerify and spec.caBundle
// (https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/api-service-v1/).
func apiService(o *manifest.Object) Result {
	subject := o.Ref()
	if v, _ := nested(o, "spec", "insecureSkipTLSVerify"); v != nil && truthy(scalar(v)) {
		return res(StatusFail, subject, "insecureSkipTLSVerify: the API server forwards requests with user credentials to any server answering at the Service",
			ObjectEvidence(o, "spec.insecureSkipTLSVerify", scalar(v)))
	}
	if nestedString(o, "spec", "caBundle") != "" {
		return res(StatusPass, subject, "verified against spec.caBundle", ObjectEvidence(o, "spec.caBundle", ""))
	}
	if a := annotationsOf(o)["cert-manager.io/inject-ca-from"]; a != "" {
		return res(StatusPass, subject, "cert-manager injects the caBundle from "+a, ObjectEvidence(o, "metadata.annotations[cert-manager.io/inject-ca-from]", a))
	}
	// Without a caBundle the aggregator fails closed (the API is unavailable),
	// and a controller may fill it in later: no insecure trust, not judged.
	return res(StatusNotApplicable, subject, "not judged: no caBundle and no CA injection in the input (the API server refuses to trust the service until one is set)", ObjectEvidence(o, "spec", "no caBundle"))
}

// perSource merges results about one ConfigMap or Secret key that several
// containers read (envFrom of a shared endpoints ConfigMap): one object and
// cause, one finding, naming its readers. Results about a container's own
// env stay one per container.
func perSource(rs []Result) []Result {
	type group struct {
		at      int
		readers []string
	}
	groups := map[string]*group{}
	var out []Result
	for _, r := range rs {
		if len(r.Evidence) == 0 || !(strings.HasSuffix(r.Evidence[0].Object, "[ConfigMap]") || strings.HasSuffix(r.Evidence[0].Object, "[Secret]")) {
			out = append(out, r)
			continue
		}
		ev := r.Evidence[0]
		reader, _, _ := strings.Cut(r.Subject, ": ")
		key := string(r.Status) + "|" + ev.Object + "|" + ev.Field
		if g, ok := groups[key]; ok {
			g.readers = append(g.readers, reader)
			continue
		}
		groups[key] = &group{at: len(out), readers: []string{reader}}
		r.Subject = ev.Object + " " + ev.Field
		out = append(out, r)
	}
	for _, g := range groups {
		if len(g.readers) > 1 || g.readers[0] != out[g.at].Evidence[0].Object {
			out[g.at].Message += fmt.Sprintf(" (read by %s: %s)", plural(len(g.readers), "container", "containers"), listing(g.readers, 3))
		}
	}
	return out
}
