package audit

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Guide section 7 (edge hardening, with the security headers of 11.2): a
// CORS policy that lets any origin send credentialed requests and read the
// answers undoes the same-origin policy for the platform's API. Read from
// Traefik headers Middlewares
// (https://doc.traefik.io/traefik/middlewares/http/headers/#cors-headers),
// ingress-nginx annotations
// (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#enable-cors)
// and the Gateway API CORS filter (HTTPCORSFilter, whose "*" with
// allowCredentials makes the gateway answer with the request's origin).

func checkCORS() Check {
	return edgeCheck("BUD-7-06", "CORS does not let any origin send credentials", SeverityHigh,
		"List the platform's own origins (https://app.bud.example.com) in accessControlAllowOriginList / cors-allow-origin / allowOrigins; never *, a regex such as .* or an unanchored one, with credentials; list the request headers the API needs instead of *.",
		judgeCORS)
}

// corsPolicy is what a route's CORS configuration allows.
type corsPolicy struct {
	origins     []string
	regexes     []string
	credentials bool
	headers     []string
	// literalStar: "*" is answered as is (Traefik), which browsers refuse
	// with credentials; otherwise the request's origin is echoed.
	literalStar bool
	ev          Evidence
}

// attackerOrigins are origins an attacker controls; a policy admitting one
// admits any origin.
var attackerOrigins = []string{"https://attacker.example", "null", "https://app.bud.example.com.attacker.example", "https://attackerbud.example.com"}

func (p corsPolicy) anyOrigin() (string, bool) {
	if slices.Contains(p.origins, "*") {
		return "*", true
	}
	for _, re := range p.regexes {
		// Traefik matches with regexp.MatchString: unanchored.
		rx, err := regexp.Compile(re)
		if err != nil {
			continue
		}
		for _, o := range attackerOrigins {
			if rx.MatchString(o) {
				return fmt.Sprintf("regex %q admits %s", re, o), true
			}
		}
	}
	return "", false
}

func judgeCORS(e *edge, r *route) Result {
	subject := r.obj.Ref()
	pols := corsOf(e, r)
	if len(pols) == 0 {
		return res(StatusPass, subject, "no CORS headers: browsers keep the same-origin policy")
	}
	for _, p := range pols {
		what, any := p.anyOrigin()
		switch {
		case any && p.credentials && p.literalStar && what == "*":
			return res(StatusPartial, subject, "Access-Control-Allow-Origin * with Allow-Credentials: browsers refuse the credentials, and any origin reads every uncredentialed answer; list the origins", p.ev)
		case any && p.credentials:
			return res(StatusFail, subject, fmt.Sprintf("any origin may send credentialed requests and read the answers (%s, credentials allowed)", what), p.ev)
		case any && slices.Contains(p.headers, "*"):
			return res(StatusFail, subject, fmt.Sprintf("any origin may send any request header (%s, Access-Control-Allow-Headers *)", what), p.ev)
		}
	}
	return res(StatusPass, subject, "CORS admits only listed origins", pols[0].ev)
}

func corsOf(e *edge, r *route) []corsPolicy {
	var out []corsPolicy
	for _, u := range mwSpecs(r.middlewares, "headers") {
		p := corsPolicy{
			origins:     stringsIn(u.spec, "accessControlAllowOriginList"),
			regexes:     stringsIn(u.spec, "accessControlAllowOriginListRegex"),
			credentials: truthy(stringIn(u.spec, "accessControlAllowCredentials")),
			headers:     stringsIn(u.spec, "accessControlAllowHeaders"),
			literalStar: true,
			ev:          ObjectEvidence(u.obj, u.field+".accessControlAllowOriginList", ""),
		}
		if len(p.origins) == 0 && len(p.regexes) == 0 {
			continue
		}
		if len(p.origins) == 0 {
			p.ev = ObjectEvidence(u.obj, u.field+".accessControlAllowOriginListRegex", strings.Join(p.regexes, ", "))
		} else {
			p.ev.Detail = strings.Join(p.origins, ", ")
		}
		out = append(out, p)
	}
	if r.kind == edgeNginx {
		ann := annotationsOf(r.obj)
		const pre = "nginx.ingress.kubernetes.io/"
		if truthy(ann[pre+"enable-cors"]) {
			// The annotations' defaults: origin *, credentials true.
			origin := ann[pre+"cors-allow-origin"]
			if origin == "" {
				origin = "*"
			}
			creds := ann[pre+"cors-allow-credentials"]
			out = append(out, corsPolicy{origins: splitList(origin), credentials: creds == "" || truthy(creds), headers: splitList(ann[pre+"cors-allow-headers"]),
				ev: ObjectEvidence(r.obj, "metadata.annotations["+pre+"enable-cors]", "cors-allow-origin "+origin)})
		}
	}
	for _, f := range r.filters {
		if !strings.EqualFold(stringIn(f, "type"), "CORS") {
			continue
		}
		out = append(out, corsPolicy{origins: stringsIn(f, "cors", "allowOrigins"), credentials: truthy(stringIn(f, "cors", "allowCredentials")),
			headers: stringsIn(f, "cors", "allowHeaders"), ev: ObjectEvidence(r.obj, "spec.rules", "CORS filter")})
	}
	return out
}
