package audit

import (
	"fmt"
	"strconv"
	"strings"
)

// Guide section 6.2: the minimum TLS version at the edge. ingress-nginx
// reads ssl-protocols from its ConfigMap (default "TLSv1.2 TLSv1.3",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/#ssl-protocols);
// Traefik reads TLSOption minVersion, its default option being VersionTLS12
// (https://doc.traefik.io/traefik/https/tls/#minimum-tls-version). Gateway
// API has no standard minimum-version field: the implementation's default
// (or its own policy object) applies.

// tlsVersion parses "1.2", "VersionTLS12", "TLSv1.2", "TLSv1" into tenths (12).
func tlsVersion(s string) (int, bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "VersionTLS"):
		n, err := strconv.Atoi(strings.TrimPrefix(s, "VersionTLS"))
		return n, err == nil
	case strings.EqualFold(s, "TLSv1"):
		return 10, true
	case strings.HasPrefix(s, "TLSv1."):
		n, err := strconv.Atoi(strings.TrimPrefix(s, "TLSv1."))
		return 10 + n, err == nil
	case strings.HasPrefix(s, "SSLv"):
		return 3, true
	case strings.HasPrefix(s, "1."):
		n, err := strconv.Atoi(strings.TrimPrefix(s, "1."))
		return 10 + n, err == nil
	}
	return 0, false
}

func versionName(v int) string { return fmt.Sprintf("TLS 1.%d", v-10) }

func checkEdgeMinTLS() Check {
	return Check{
		ID: "BUD-6.2-01", Title: "The edge accepts no TLS version below the model's minimum", Section: "6.2", Severity: SeverityHigh,
		Remediation: "Set the minimum to TLS 1.2 or the model's tls.minVersion: Traefik TLSOption minVersion VersionTLS12 (the `default` option `budnet generate` emits), ingress-nginx ssl-protocols \"TLSv1.2 TLSv1.3\". Check the live endpoint with `budnet tls`.",
		Doc:         docOf("BUD-6.2-01"),
		Run:         runEdgeMinTLS,
	}
}

func runEdgeMinTLS(c *Context) []Result {
	min := 12
	if c.Platform != nil {
		if v, ok := tlsVersion(c.Platform.Spec.TLS.MinVersion); ok {
			min = v
		}
	}
	e := newEdge(c.Inventory)
	kinds := map[edgeKind]bool{}
	for _, r := range e.routes {
		kinds[r.kind] = true
	}
	var out []Result
	hasDefault := false
	for _, o := range objectsOf(c.Inventory, groupsTraefik, "TLSOption") {
		hasDefault = hasDefault || o.Name == "default"
		s := nestedString(o, "spec", "minVersion")
		v, ok := tlsVersion(s)
		if s == "" {
			v, ok = 12, true
		}
		switch {
		case !ok:
			out = append(out, res(StatusFail, o.Ref(), "minVersion "+s+" is not a TLS version Traefik knows", ObjectEvidence(o, "spec.minVersion", s)))
		case v < min:
			out = append(out, res(StatusFail, o.Ref(), fmt.Sprintf("accepts %s, below the minimum %s", versionName(v), versionName(min)), ObjectEvidence(o, "spec.minVersion", s)))
		default:
			out = append(out, res(StatusPass, o.Ref(), "minimum "+versionName(v), ObjectEvidence(o, "spec.minVersion", s)))
		}
	}
	if (kinds[edgeTraefik] || kinds[edgeGateway]) && !hasDefault {
		st := StatusPass
		if min > 12 {
			st = StatusFail
		}
		out = append(out, res(st, "traefik default TLS option", fmt.Sprintf("no TLSOption named default: Traefik's default minimum, TLS 1.2, applies (the model asks for %s)", versionName(min))))
	}
	if kinds[edgeNginx] {
		out = append(out, nginxProtocols(e, min))
	}
	return out
}

func nginxProtocols(e *edge, min int) Result {
	protos := nginxSetting(e, "ssl-protocols")
	subject := "ingress-nginx ssl-protocols"
	if protos == "" {
		if min > 12 {
			return res(StatusFail, subject, "the default ssl-protocols (TLSv1.2 TLSv1.3) accept TLS 1.2, below the model's minimum")
		}
		return res(StatusPass, subject, "default ssl-protocols: TLSv1.2 TLSv1.3")
	}
	var low []string
	for _, p := range strings.Fields(protos) {
		if v, ok := tlsVersion(p); ok && v < min {
			low = append(low, p)
		}
	}
	if len(low) > 0 {
		return res(StatusFail, subject, "ssl-protocols enables "+strings.Join(low, ", ")+", below "+versionName(min), ObjectEvidence(e.nginxConfig, "data[ssl-protocols]", protos))
	}
	return res(StatusPass, subject, "ssl-protocols "+protos, ObjectEvidence(e.nginxConfig, "data[ssl-protocols]", protos))
}
