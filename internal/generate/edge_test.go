package generate_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/platform"
)

var adminCIDRs = []string{"203.0.113.0/24", "2001:db8:a::/48"}

func edgeObjects(t *testing.T, p *platform.Platform, edge platform.EdgeKind) []*unstructured.Unstructured {
	t.Helper()
	files, err := generate.Edge(p, generate.Options{Edge: edge})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != generate.FileEdge {
		t.Fatalf("files %v", files)
	}
	return files[0].Objects
}

func byKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func find(objs []*unstructured.Unstructured, kind, ns, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	return nil
}

// checkHeaders checks the security headers however an edge spells them.
func checkHeaders(t *testing.T, h map[string]string) {
	t.Helper()
	var age int
	if _, err := fmt.Sscanf(h["Strict-Transport-Security"], "max-age=%d", &age); err != nil || age < 31536000 ||
		!strings.Contains(h["Strict-Transport-Security"], "includeSubDomains") {
		t.Errorf("HSTS %q, want max-age >= 31536000 with includeSubDomains", h["Strict-Transport-Security"])
	}
	want := map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("%s %q, want %q", k, h[k], v)
		}
	}
	if !strings.Contains(h["Content-Security-Policy"], "default-src") || h["Referrer-Policy"] == "" {
		t.Errorf("CSP %q, Referrer-Policy %q", h["Content-Security-Policy"], h["Referrer-Policy"])
	}
}

func TestEdgeGatewayAPI(t *testing.T) {
	p := loadModel(t, "")
	objs := edgeObjects(t, p, platform.EdgeGatewayAPI)
	gw := find(objs, "Gateway", "bud-infra", generate.EdgeGatewayName)
	if gw == nil {
		t.Fatal("no Gateway")
	}
	listeners := spec(t, gw, "spec", "listeners").([]any)
	https := 0
	for _, l := range listeners {
		m := l.(map[string]any)
		if m["protocol"] == "HTTPS" {
			https++
			refs, _, _ := unstructured.NestedSlice(m, "tls", "certificateRefs")
			if len(refs) != 1 {
				t.Errorf("listener %v: certificateRefs %v", m["name"], refs)
			}
		}
	}
	if https != len(p.Spec.Edge.Hosts) {
		t.Errorf("%d HTTPS listeners for %d hosts", https, len(p.Spec.Edge.Hosts))
	}
	redirect := find(objs, "HTTPRoute", "bud-infra", "budnet-https-redirect")
	if redirect == nil || !strings.Contains(fmt.Sprint(redirect.Object), "RequestRedirect") ||
		!strings.Contains(fmt.Sprint(redirect.Object), "sectionName:http") {
		t.Fatalf("redirect route %v", redirect)
	}
	admin := find(objs, "HTTPRoute", "bud-frontend", "admin-bud-example-com")
	if admin == nil {
		t.Fatal("no admin route")
	}
	filters := spec(t, admin, "spec", "rules").([]any)[0].(map[string]any)["filters"].([]any)
	h := map[string]string{}
	var ext []string
	for _, f := range filters {
		m := f.(map[string]any)
		switch m["type"] {
		case "ResponseHeaderModifier":
			for _, s := range m["responseHeaderModifier"].(map[string]any)["set"].([]any) {
				h[s.(map[string]any)["name"].(string)] = s.(map[string]any)["value"].(string)
			}
		case "ExtensionRef":
			ext = append(ext, m["extensionRef"].(map[string]any)["name"].(string))
		}
	}
	checkHeaders(t, h)
	if !slices.Contains(ext, "budnet-admin-allowlist") || !slices.Contains(ext, "budnet-rate-limit") || !slices.Contains(ext, "budnet-request-size") {
		t.Errorf("admin route middlewares %v", ext)
	}
	allow := find(objs, "Middleware", "bud-frontend", "budnet-admin-allowlist")
	if got := fmt.Sprint(spec(t, allow, "spec", "ipAllowList", "sourceRange")); got != fmt.Sprint(adminCIDRs) {
		t.Errorf("allowlist %s", got)
	}
	if opt := find(objs, "TLSOption", "bud-infra", "default"); opt == nil || spec(t, opt, "spec", "minVersion") != "VersionTLS12" {
		t.Errorf("TLSOption default %v", opt)
	}
}

func TestEdgeTraefik(t *testing.T) {
	objs := edgeObjects(t, loadModel(t, ""), platform.EdgeTraefik)
	mw := find(objs, "Middleware", "bud-frontend", "budnet-security-headers")
	hd := spec(t, mw, "spec", "headers").(map[string]any)
	h := map[string]string{
		"Strict-Transport-Security": fmt.Sprintf("max-age=%d", hd["stsSeconds"]),
		"Content-Security-Policy":   fmt.Sprint(hd["contentSecurityPolicy"]),
		"Referrer-Policy":           fmt.Sprint(hd["referrerPolicy"]),
	}
	if hd["stsIncludeSubdomains"] == true {
		h["Strict-Transport-Security"] += "; includeSubDomains"
	}
	if hd["frameDeny"] == true {
		h["X-Frame-Options"] = "DENY"
	}
	if hd["contentTypeNosniff"] == true {
		h["X-Content-Type-Options"] = "nosniff"
	}
	checkHeaders(t, h)
	if got := spec(t, find(objs, "Middleware", "bud-frontend", "budnet-request-size"), "spec", "buffering", "maxRequestBodyBytes"); got != int64(10<<20) {
		t.Errorf("maxRequestBodyBytes %v, want 10 MiB", got)
	}
	if find(objs, "Middleware", "bud-system", "budnet-admin-allowlist") != nil {
		t.Error("admin allowlist in a zone without admin hosts")
	}
	secure := find(objs, "IngressRoute", "bud-frontend", "admin-bud-example-com")
	if got := fmt.Sprint(spec(t, secure, "spec", "routes")); !strings.Contains(got, "budnet-admin-allowlist") || !strings.Contains(got, "budnet-rate-limit") {
		t.Errorf("admin route %s", got)
	}
	if spec(t, secure, "spec", "tls", "options", "name") != "budnet-tls" || spec(t, secure, "spec", "entryPoints").([]any)[0] != "websecure" {
		t.Errorf("admin route TLS %v", secure.Object["spec"])
	}
	for _, r := range byKind(objs, "IngressRoute") {
		if strings.HasSuffix(r.GetName(), "-http") && !strings.Contains(fmt.Sprint(r.Object), "budnet-redirect-https") {
			t.Errorf("%s does not redirect", r.GetName())
		}
	}
	if opt := find(objs, "TLSOption", "bud-frontend", "budnet-tls"); spec(t, opt, "spec", "minVersion") != "VersionTLS12" {
		t.Error("TLSOption minVersion")
	}
	// Traefik picks a TLSOption by the SNI a client sends; a client that
	// sends none, or an unknown name, gets the option named default, so
	// sniStrict and the version floor must be there too (Traefik refused
	// nothing without SNI in TestTraefikEnforcesGeneratedEdge before).
	if opt := find(objs, "TLSOption", "bud-infra", "default"); opt == nil || spec(t, opt, "spec", "sniStrict") != true ||
		spec(t, opt, "spec", "minVersion") != "VersionTLS12" {
		t.Errorf("TLSOption default in the ingress controller's namespace: %v", opt)
	}
}

func TestEdgeNginx(t *testing.T) {
	objs := edgeObjects(t, loadModel(t, ""), platform.EdgeNginx)
	ctl := find(objs, "ConfigMap", "bud-infra", "ingress-nginx-controller")
	data := spec(t, ctl, "data").(map[string]any)
	want := map[string]string{"ssl-protocols": "TLSv1.2 TLSv1.3", "hsts": "true", "hsts-include-subdomains": "true",
		"hsts-max-age": "31536000", "add-headers": "bud-infra/budnet-security-headers", "allow-snippet-annotations": "false",
		"enable-modsecurity": "true", "enable-owasp-modsecurity-crs": "true"}
	for k, v := range want {
		if data[k] != v {
			t.Errorf("controller %s=%v, want %s", k, data[k], v)
		}
	}
	h := map[string]string{"Strict-Transport-Security": "max-age=" + data["hsts-max-age"].(string) + "; includeSubDomains"}
	for k, v := range spec(t, find(objs, "ConfigMap", "bud-infra", "budnet-security-headers"), "data").(map[string]any) {
		h[k] = v.(string)
	}
	checkHeaders(t, h)
	for _, ing := range byKind(objs, "Ingress") {
		a := ing.GetAnnotations()
		for _, k := range []string{"limit-rps", "limit-connections", "proxy-body-size", "force-ssl-redirect", "enable-modsecurity", "enable-owasp-core-rules"} {
			if a["nginx.ingress.kubernetes.io/"+k] == "" {
				t.Errorf("%s: no %s", ing.GetName(), k)
			}
		}
		if strings.Contains(fmt.Sprint(a), "snippet") {
			t.Errorf("%s uses a snippet annotation", ing.GetName())
		}
		got := a["nginx.ingress.kubernetes.io/whitelist-source-range"]
		if admin := ing.GetName() == "admin-bud-example-com"; admin != (got != "") || (admin && got != strings.Join(adminCIDRs, ",")) {
			t.Errorf("%s: whitelist-source-range %q", ing.GetName(), got)
		}
		if spec(t, ing, "spec", "ingressClassName") != "nginx" {
			t.Errorf("%s: class %v", ing.GetName(), spec(t, ing, "spec", "ingressClassName"))
		}
	}
}

// TestAirGappedIssuer: with issuer kind ca the edge certificates come from
// the internal CA and no ACME issuer is written.
func TestAirGappedIssuer(t *testing.T) {
	p := loadModel(t, "")
	p.Spec.TLS.Issuer = platform.Issuer{Kind: "ca"}
	files, err := generate.Certs(p, generate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range files[0].Objects {
		if o.GetName() == "budnet-acme" {
			t.Error("ACME issuer written for an air-gapped install")
		}
		if o.GetKind() == "Certificate" && o.GetName() != "budnet-internal-ca" {
			if ref := spec(t, o, "spec", "issuerRef", "name"); ref != "budnet-internal-ca" {
				t.Errorf("%s issued by %v", o.GetName(), ref)
			}
		}
	}
}

// TestEdgeInputErrors: what the edge cannot be built from is an input error
// naming the model field.
func TestEdgeInputErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *platform.Platform)
		edge   platform.EdgeKind
		field  string
	}{
		{name: "no admin group", mutate: func(p *platform.Platform) {
			p.Spec.SourceGroups = slices.DeleteFunc(p.Spec.SourceGroups, func(g platform.CIDRGroup) bool { return g.Name == "admin" })
		}, edge: platform.EdgeTraefik, field: "spec.sourceGroups"},
		{name: "no ingress controller", mutate: func(p *platform.Platform) {
			for i := range p.Spec.Workloads {
				if p.Spec.Workloads[i].Role == platform.RoleIngress {
					p.Spec.Workloads[i].Role = platform.RoleService
				}
			}
		}, edge: platform.EdgeGatewayAPI, field: "spec.workloads"},
		{name: "unknown host port", mutate: func(p *platform.Platform) { p.Spec.Edge.Hosts[0].Port = "nope" },
			edge: platform.EdgeNginx, field: "spec.edge.hosts[0].port"},
		{name: "bad body size", mutate: func(p *platform.Platform) { p.Spec.Edge.MaxBodySize = "ten" },
			edge: platform.EdgeTraefik, field: "spec.edge.maxBodySize"},
		{name: "body size above what Coraza inspects", mutate: func(p *platform.Platform) { p.Spec.Edge.MaxBodySize = "2g" },
			edge: platform.EdgeGatewayAPI, field: "spec.edge.maxBodySize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadModel(t, "")
			tt.mutate(p)
			_, err := generate.Edge(p, generate.Options{Edge: tt.edge})
			var ie *diag.InputError
			if !errors.As(err, &ie) || ie.Field != tt.field {
				t.Errorf("got %v, want an input error at %s", err, tt.field)
			}
		})
	}
}

// FuzzEdgeBodySize feeds spec.edge.maxBodySize through the Traefik and nginx
// edges: either an input error naming the field, or a positive byte count
// for Traefik and the very string for nginx's proxy-body-size, which must
// then be in nginx's size syntax.
func FuzzEdgeBodySize(f *testing.F) {
	for _, s := range []string{"10m", "512k", "1g", "1", "0", "-1m", "10Mi", "9223372036854775807", "8796093022208g", " 1m", "m"} {
		f.Add(s)
	}
	p := loadModel(f, "")
	f.Fuzz(func(t *testing.T, s string) {
		q := *p
		q.Spec.Edge.MaxBodySize = s
		files, err := generate.Edge(&q, generate.Options{Edge: platform.EdgeTraefik})
		if err != nil {
			var ie *diag.InputError
			if !errors.As(err, &ie) || ie.Field != "spec.edge.maxBodySize" {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if s == "" {
			return
		}
		mw := find(files[0].Objects, "Middleware", "bud-frontend", "budnet-request-size")
		n, _, _ := unstructured.NestedInt64(mw.Object, "spec", "buffering", "maxRequestBodyBytes")
		if n <= 0 {
			t.Fatalf("%q: maxRequestBodyBytes %d", s, n)
		}
		files, err = generate.Edge(&q, generate.Options{Edge: platform.EdgeNginx})
		if err != nil {
			t.Fatalf("%q: nginx refuses what traefik accepts: %v", s, err)
		}
		got := byKind(files[0].Objects, "Ingress")[0].GetAnnotations()["nginx.ingress.kubernetes.io/proxy-body-size"]
		if got != s || strings.TrimLeft(strings.TrimRight(s, "kKmMgG"), "0123456789") != "" {
			t.Fatalf("%q: proxy-body-size %q", s, got)
		}
	})
}
