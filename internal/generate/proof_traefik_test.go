package generate_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/testenv"
	"github.com/budnet/budnet/internal/tlsprobe"
)

// Loopback sources of the Traefik proof: the model's admin group is the
// first; each check sends from an address of its own, so the per-client
// rate limit of one check never answers another's requests.
const (
	srcAdmin    = "127.0.0.2"
	srcOther    = "127.0.0.3"
	srcHeaders  = "127.0.0.4"
	srcPaths    = "127.0.0.5"
	srcBody     = "127.0.0.6"
	srcStream   = "127.0.0.7"
	srcLimited  = "127.0.0.8"
	srcRedirect = "127.0.0.9"
)

// The proof's edge limits: the model's rate limit is lowered from Bud's
// 50/s, burst 100 so that the limit is reached within a bounded number of
// requests whatever the machine's speed; the body limit is Bud's.
const (
	proofRPS   = 10
	proofBurst = 20
)

// edgeRoute is one host's HTTPS IngressRoute as generated.
type edgeRoute struct {
	host, namespace, service, secret string
	port                             int64
	middlewares                      []string
	paths                            []string // the model's paths; nil routes every path
	admin, streaming                 bool
}

// traefikProofModel is the Bud model as the Traefik proof runs it: the admin
// source group is the loopback address srcAdmin, the rate limit is
// proofRPS/proofBurst, and the WAF is off (Traefik loads the Coraza plugin
// only as compiled WebAssembly, which cannot be built here: docs/generate.md,
// "Proven with").
func traefikProofModel(t *testing.T) *platform.Platform {
	t.Helper()
	p := loadModel(t, "")
	found := false
	for i := range p.Spec.SourceGroups {
		if p.Spec.SourceGroups[i].Name == "admin" {
			p.Spec.SourceGroups[i].CIDRs = []string{srcAdmin + "/32"}
			found = true
		}
	}
	if !found {
		t.Fatal("the Bud model has no admin source group")
	}
	p.Spec.Edge.RateLimit = &platform.RateLimit{RPS: proofRPS, Burst: proofBurst}
	off := false
	p.Spec.Edge.WAF = &off
	return p
}

// generatedObjects are the Kubernetes objects of every generated file.
func generatedObjects(files []generate.File) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	for _, f := range files {
		objs = append(objs, f.Objects...)
	}
	return objs
}

// referenceObjects are the workloads and Services of examples/bud-reference.
func referenceObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "examples", "bud-reference", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("examples/bud-reference: %v (%d files)", err, len(paths))
	}
	var objs []*unstructured.Unstructured
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		o, err := kubetest.ParseObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, u := range o {
			// kube-dns's fixed 10.96.0.10 is kubeadm's service range,
			// not the test API server's.
			unstructured.RemoveNestedField(u.Object, "spec", "clusterIP")
			unstructured.RemoveNestedField(u.Object, "spec", "clusterIPs")
		}
		objs = append(objs, o...)
	}
	return objs
}

// httpsRoutes reads the generated websecure IngressRoutes, one per host,
// joined with the model's host entry.
func httpsRoutes(t *testing.T, p *platform.Platform, objs []*unstructured.Unstructured) []edgeRoute {
	t.Helper()
	var out []edgeRoute
	for _, o := range objs {
		if o.GetKind() != "IngressRoute" {
			continue
		}
		eps, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "entryPoints")
		if !slices.Equal(eps, []string{"websecure"}) {
			continue
		}
		routes, _, _ := unstructured.NestedSlice(o.Object, "spec", "routes")
		if len(routes) != 1 {
			t.Fatalf("IngressRoute %s/%s has %d routes, want 1", o.GetNamespace(), o.GetName(), len(routes))
		}
		route := routes[0].(map[string]any)
		m := hostRule.FindStringSubmatch(route["match"].(string))
		if m == nil {
			t.Fatalf("IngressRoute %s/%s: no Host in %q", o.GetNamespace(), o.GetName(), route["match"])
		}
		svc := route["services"].([]any)[0].(map[string]any)
		secret, _, _ := unstructured.NestedString(o.Object, "spec", "tls", "secretName")
		r := edgeRoute{host: m[1], namespace: o.GetNamespace(), service: svc["name"].(string),
			port: svc["port"].(int64), secret: secret}
		for _, mw := range route["middlewares"].([]any) {
			r.middlewares = append(r.middlewares, mw.(map[string]any)["name"].(string))
		}
		i := slices.IndexFunc(p.Spec.Edge.Hosts, func(h platform.EdgeHost) bool { return h.Name == r.host })
		if i < 0 {
			t.Fatalf("IngressRoute for %s, a host the model does not name", r.host)
		}
		h := p.Spec.Edge.Hosts[i]
		r.paths, r.admin, r.streaming = h.Paths, h.Admin, h.Streaming
		out = append(out, r)
	}
	if len(out) != len(p.Spec.Edge.Hosts) {
		t.Fatalf("%d HTTPS IngressRoutes for %d hosts", len(out), len(p.Spec.Edge.Hosts))
	}
	return out
}

// routedPath is a path the host's route serves.
func (r edgeRoute) routedPath() string {
	if len(r.paths) > 0 {
		return r.paths[0] + "/bud/account"
	}
	return "/"
}

// generatedSpec reads a string field of the generated object kind
// namespace/name.
func generatedSpec(t *testing.T, objs []*unstructured.Unstructured, kind, namespace, name string, fields ...string) any {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			v, ok, err := unstructured.NestedFieldNoCopy(o.Object, fields...)
			if err != nil || !ok {
				t.Fatalf("%s %s/%s has no %v: %v", kind, namespace, name, fields, err)
			}
			return v
		}
	}
	t.Fatalf("no generated %s %s/%s", kind, namespace, name)
	return nil
}

// edgeProof is one generated edge served by a running Traefik.
type edgeProof struct {
	p        *platform.Platform
	objs     []*unstructured.Unstructured // generated
	routes   []edgeRoute
	ca       *edgeCA
	tp       *traefikProcess
	backends map[string]*backend // namespace/service
	// csp is the Content-Security-Policy the generated objects set on
	// route r's responses; suites the TLS 1.2 suites of the TLSOption the
	// hosts use.
	csp    func(r edgeRoute) string
	suites []any
	// postRedirect is the redirect status for a POST over plain HTTP.
	postRedirect int
}

// serveEdge applies the reference install and objs to a fresh control
// plane, with TLS Secrets (secrets: namespace/name) from a test CA and
// loopback backends for the routes' Services, and runs Traefik with
// providers on it, entry points at web and websecure (0 picks a port).
// It returns once every route answers through Traefik.
func serveEdge(t *testing.T, p *platform.Platform, objs []*unstructured.Unstructured, routes []edgeRoute,
	secrets []string, extraCRDs []*unstructured.Unstructured, providers string, web, websecure int) *edgeProof {
	t.Helper()
	ref := referenceObjects(t)
	env := kubetest.ForTest(t, kubetest.Options{})
	ctx := t.Context()
	if len(extraCRDs) > 0 {
		if err := env.Apply(ctx, extraCRDs...); err != nil {
			t.Fatalf("apply the CRDs Traefik's provider watches: %v", err)
		}
	}
	if err := env.Apply(ctx, objs...); err != nil {
		t.Fatalf("apply the generated objects: %v", err)
	}
	if err := env.Apply(ctx, ref...); err != nil {
		t.Fatalf("apply examples/bud-reference: %v", err)
	}
	var hosts []string
	for _, r := range routes {
		hosts = append(hosts, r.host)
	}
	e := &edgeProof{p: p, objs: objs, routes: routes, ca: newEdgeCA(t, hosts), backends: map[string]*backend{}}
	for _, r := range routes {
		key := r.namespace + "/" + r.service
		if e.backends[key] != nil {
			continue
		}
		b := startBackend(t, r.service)
		e.backends[key] = b
		es := loopbackEndpointSlice(r.namespace, r.service, servicePortName(t, ref, r.namespace, r.service, r.port), b.port)
		if _, err := env.Clientset.DiscoveryV1().EndpointSlices(r.namespace).Create(ctx, es, metav1.CreateOptions{}); err != nil {
			t.Fatalf("EndpointSlice for %s: %v", key, err)
		}
	}
	for _, nn := range secrets {
		ns, name, _ := strings.Cut(nn, "/")
		if _, err := env.Clientset.CoreV1().Secrets(ns).Create(ctx, e.ca.secret(ns, name), metav1.CreateOptions{}); err != nil {
			t.Fatalf("Secret %s: %v", nn, err)
		}
	}
	e.tp = startTraefik(t, env, providers, web, websecure)
	e.waitServed(t)
	return e
}

// waitServed waits until every route answers its routed path over HTTPS
// with the test CA's certificate (the admin source, so admin hosts answer
// too), then fails the test for any router Traefik reports in error.
func (e *edgeProof) waitServed(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := edgeClient(e.tp, e.ca, srcAdmin)
	for _, r := range e.routes {
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+r.host+r.routedPath(), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				routers, _ := e.tp.routers(t.Context(), "")
				t.Fatalf("%s is not served through Traefik (last: %v); routers: %+v", r.host, err, routers)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	routers, err := e.tp.routers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range routers {
		if rt.Status != "enabled" || len(rt.Error) > 0 {
			t.Errorf("Traefik router %s (%s) is %s: %v", rt.Name, rt.Rule, rt.Status, rt.Error)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func (e *edgeProof) backendOf(r edgeRoute) *backend { return e.backends[r.namespace+"/"+r.service] }

// TestTraefikEnforcesGeneratedEdge is the Traefik proof (issue 12): a
// Traefik v3.7.13 binary built from its module (hack/ci-traefik.sh) runs
// its kubernetescrd provider against a real kube-apiserver holding the
// reference install (examples/bud-reference) and everything `budnet
// generate --edge traefik` writes for the Bud model, with the workloads'
// Services pointed at loopback HTTP servers and the hosts' TLS Secrets
// issued by a test CA. Real clients then go through it: what Traefik does
// with the generated objects is what is judged.
func TestTraefikEnforcesGeneratedEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane and Traefik")
	}
	traefikBinary(t) // skip (or fail under CI) before starting anything
	p := traefikProofModel(t)
	files, err := generate.Generate(p, generate.Options{Edge: platform.EdgeTraefik})
	if err != nil {
		t.Fatal(err)
	}
	objs := generatedObjects(files)
	routes := httpsRoutes(t, p, objs)
	var secrets []string
	for _, r := range routes {
		secrets = append(secrets, r.namespace+"/"+r.secret)
	}
	e := serveEdge(t, p, objs, routes, secrets, nil, "  kubernetesCRD: {}\n", 0, 0)
	e.csp = func(r edgeRoute) string {
		return generatedSpec(t, objs, "Middleware", r.namespace, "budnet-security-headers", "spec", "headers", "contentSecurityPolicy").(string)
	}
	e.suites = generatedSpec(t, objs, "TLSOption", routes[0].namespace, "budnet-tls", "spec", "cipherSuites").([]any)
	// redirectScheme with permanent: 301 for GET, 308 for other methods
	// (pkg/middlewares/redirect redirect.go).
	e.postRedirect = http.StatusPermanentRedirect
	e.check(t)
}

// TestTraefikServesGatewayAPIEdge is the Traefik proof of the gateway-api
// edge (the Bud model's own kind): Traefik's kubernetesgateway provider
// serves the generated Gateway and HTTPRoutes, and its kubernetescrd
// provider the Middlewares they reach through ExtensionRef filters and the
// TLSOption named default. The Gateway's listeners bind to the entry
// points with the same port (pkg/provider/kubernetes/gateway
// kubernetes.go entryPointName), so the model's ingress ports are moved to
// free loopback ports before generating.
func TestTraefikServesGatewayAPIEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane and Traefik")
	}
	bin := traefikBinary(t)
	p := traefikProofModel(t)
	web, websecure := freePort(t), freePort(t)
	ingress := p.Select(platform.Selector{Role: platform.RoleIngress})
	if len(ingress) != 1 {
		t.Fatalf("%d ingress workloads", len(ingress))
	}
	for i, np := range ingress[0].Ports {
		switch {
		case np.TLS:
			ingress[0].Ports[i].Port = int32(websecure)
		case np.Name == "web":
			ingress[0].Ports[i].Port = int32(web)
		}
	}
	files, err := generate.Generate(p, generate.Options{Edge: platform.EdgeGatewayAPI})
	if err != nil {
		t.Fatal(err)
	}
	objs := generatedObjects(files)
	var routes []edgeRoute
	var secrets []string
	var gwNamespace string
	for _, o := range objs {
		switch o.GetKind() {
		case "Gateway":
			gwNamespace = o.GetNamespace()
			listeners, _, _ := unstructured.NestedSlice(o.Object, "spec", "listeners")
			for _, l := range listeners {
				refs, _, _ := unstructured.NestedSlice(l.(map[string]any), "tls", "certificateRefs")
				for _, ref := range refs {
					secrets = append(secrets, o.GetNamespace()+"/"+ref.(map[string]any)["name"].(string))
				}
			}
		case "HTTPRoute":
			names, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "hostnames")
			rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
			if len(names) != 1 || len(rules) != 1 {
				continue // the redirect route
			}
			backend := rules[0].(map[string]any)["backendRefs"].([]any)[0].(map[string]any)
			r := edgeRoute{host: names[0], namespace: o.GetNamespace(), service: backend["name"].(string), port: backend["port"].(int64)}
			h := p.Spec.Edge.Hosts[slices.IndexFunc(p.Spec.Edge.Hosts, func(h platform.EdgeHost) bool { return h.Name == r.host })]
			r.paths, r.admin, r.streaming = h.Paths, h.Admin, h.Streaming
			routes = append(routes, r)
		}
	}
	if len(routes) != len(p.Spec.Edge.Hosts) || len(secrets) != len(routes) {
		t.Fatalf("%d host HTTPRoutes and %d certificates for %d hosts", len(routes), len(secrets), len(p.Spec.Edge.Hosts))
	}
	// The GatewayClass Traefik's Helm chart installs, and the Gateway API
	// CRDs its provider watches beyond budnet's pinned set.
	extra := crdsBesides(t, bin)
	class := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": "traefik"},
		"spec":     map[string]any{"controllerName": "traefik.io/gateway-controller"},
	}}
	e := serveEdge(t, p, objs, routes, secrets, append(extra, class),
		"  kubernetesCRD: {}\n  kubernetesGateway: {}\n", web, websecure)
	e.csp = func(r edgeRoute) string {
		for _, o := range objs {
			if o.GetKind() != "HTTPRoute" || o.GetNamespace() != r.namespace {
				continue
			}
			if names, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "hostnames"); !slices.Equal(names, []string{r.host}) {
				continue
			}
			rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
			for _, f := range rules[0].(map[string]any)["filters"].([]any) {
				set, _, _ := unstructured.NestedSlice(f.(map[string]any), "responseHeaderModifier", "set")
				for _, hv := range set {
					if hv.(map[string]any)["name"] == "Content-Security-Policy" {
						return hv.(map[string]any)["value"].(string)
					}
				}
			}
		}
		t.Fatalf("no generated CSP for %s", r.host)
		return ""
	}
	e.suites = generatedSpec(t, objs, "TLSOption", gwNamespace, "default", "spec", "cipherSuites").([]any)
	// The RequestRedirect filter's statusCode, for every method.
	e.postRedirect = http.StatusMovedPermanently
	e.check(t)
}

// crdsBesides reads the CRDs hack/ci-traefik.sh puts next to the Traefik
// binary.
func crdsBesides(t *testing.T, bin string) []*unstructured.Unstructured {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(filepath.Dir(bin), "crds", "*.yaml"))
	if err != nil || len(paths) == 0 {
		testenv.Missing(t, "no CRDs next to %s (run hack/ci-traefik.sh): %v", bin, err)
	}
	var out []*unstructured.Unstructured
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := kubetest.ParseObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, objs...)
	}
	return out
}

// check runs the edge's checks through Traefik with real clients.
func (e *edgeProof) check(t *testing.T) {
	routes, tp, ca, objs, p := e.routes, e.tp, e.ca, e.objs, e.p
	ctx := t.Context()
	var hosts []string
	for _, r := range routes {
		hosts = append(hosts, r.host)
	}
	backendOf := e.backendOf
	t.Run("redirect to https", func(t *testing.T) {
		c := edgeClient(tp, ca, srcRedirect)
		for _, r := range routes {
			target := r.routedPath() + "?page=2"
			resp, _ := do(t, c, http.MethodGet, "http://"+r.host+target, nil, nil)
			if want := "https://" + r.host + target; resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
				t.Errorf("%s: GET http:// answered %d Location %q, want 301 to %s", r.host, resp.StatusCode, resp.Header.Get("Location"), want)
			}
			resp, _ = do(t, c, http.MethodPost, "http://"+r.host+target, strings.NewReader("{}"), nil)
			if resp.StatusCode != e.postRedirect {
				t.Errorf("%s: POST http:// answered %d, want %d", r.host, resp.StatusCode, e.postRedirect)
			}
		}
	})

	t.Run("security headers", func(t *testing.T) {
		for _, r := range routes {
			// Admin hosts answer others 403 before the headers
			// Middleware runs; their headers are the admin group's.
			src := srcHeaders
			if r.admin {
				src = srcAdmin
			}
			c := edgeClient(tp, ca, src)
			csp := e.csp(r)
			if !strings.Contains(csp, "connect-src 'self' https://api.bud.example.com") {
				t.Fatalf("generated CSP %q lacks the model's connect-src origins", csp)
			}
			resp, body := do(t, c, http.MethodGet, "https://"+r.host+r.routedPath(), nil, nil)
			if want := r.service + " " + r.routedPath(); resp.StatusCode != http.StatusOK || body != want {
				t.Errorf("%s: %d %q, want 200 from %s", r.host, resp.StatusCode, body, want)
			}
			for name, want := range map[string]string{
				"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
				"X-Frame-Options":           "DENY",
				"X-Content-Type-Options":    "nosniff",
				"Referrer-Policy":           "strict-origin-when-cross-origin",
				"Content-Security-Policy":   csp,
			} {
				if got := resp.Header.Values(name); len(got) != 1 || got[0] != want {
					t.Errorf("%s: %s %q, want %q", r.host, name, got, want)
				}
			}
		}
	})

	t.Run("tls versions and suites", func(t *testing.T) {
		// budnet tls check's own code, with the model's targets.
		resolve := map[string]string{}
		for _, h := range hosts {
			resolve[h+":443"] = "127.0.0.1:" + strconv.Itoa(tp.websecure)
			resolve[h+":80"] = "127.0.0.1:" + strconv.Itoa(tp.web)
		}
		// From the admin group, so the admin host answers too.
		dialer := &net.Dialer{Timeout: 20 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(srcAdmin)}}
		prober, err := tlsprobe.New(tlsprobe.Options{RootCAs: ca.pool, Resolve: resolve, Timeout: 20 * time.Second, Dial: dialer.DialContext})
		if err != nil {
			t.Fatal(err)
		}
		var targets []tlsprobe.Target
		for _, tg := range tlsprobe.TargetsFromPlatform(p) {
			if tg.Scheme == tlsprobe.SchemeHTTPS && slices.Contains(hosts, tg.Host) {
				targets = append(targets, tg)
			}
		}
		if len(targets) != len(hosts) {
			t.Fatalf("%d https targets from the model for %d hosts", len(targets), len(hosts))
		}
		suites := e.suites
		for i, res := range prober.CheckAll(ctx, targets) {
			r := routes[slices.IndexFunc(routes, func(r edgeRoute) bool { return r.host == targets[i].Host })]
			for _, c := range res.Checks {
				// Hosts that route only some paths answer / with
				// Traefik's 404, which has no headers and no redirect:
				// their headers and redirect are checked on a routed
				// path above.
				if len(r.paths) > 0 && strings.HasPrefix(c.ID, "http.") {
					continue
				}
				if c.Status != tlsprobe.StatusPass && c.Status != tlsprobe.StatusInfo {
					t.Errorf("%s: %s %s: %s", res.Target, c.ID, c.Status, c.Message)
				}
			}
			if res.TLS == nil {
				continue
			}
			for _, v := range res.TLS.Versions {
				want := v.Version == "TLS 1.2" || v.Version == "TLS 1.3"
				if v.Accepted != want {
					t.Errorf("%s: %s accepted=%v, want %v", res.Target, v.Version, v.Accepted, want)
				}
			}
			var accepted []any
			for _, s := range res.TLS.Suites12 {
				if s.Accepted {
					accepted = append(accepted, s.Name)
				}
			}
			// Go offers only ECDSA or RSA suites for a given key: the
			// ECDSA test certificate gets the three ECDSA suites the
			// TLSOption lists.
			var want []any
			for _, s := range suites {
				if strings.Contains(s.(string), "_ECDSA_") {
					want = append(want, s)
				}
			}
			slices.SortFunc(accepted, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
			slices.SortFunc(want, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
			if !slices.Equal(accepted, want) {
				t.Errorf("%s: TLS 1.2 suites accepted %v, want the TLSOption's %v", res.Target, accepted, want)
			}
		}
		// sniStrict: a client that names no host gets no certificate.
		conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(tp.websecure), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the handshake must fail before any verification
		if err == nil {
			conn.Close()
			t.Error("a handshake without SNI succeeded; the TLSOption sets sniStrict")
		}
	})

	t.Run("keycloak paths", func(t *testing.T) {
		r := routes[slices.IndexFunc(routes, func(r edgeRoute) bool { return len(r.paths) > 0 })]
		c := edgeClient(tp, ca, srcPaths)
		tests := []struct {
			name, path string
			want       int
		}{
			{name: "realm endpoint", path: "/realms/bud/protocol/openid-connect/token", want: 200},
			{name: "path itself", path: "/realms", want: 200},
			{name: "assets", path: "/resources/abc/login/keycloak.v2/css/login.css", want: 200},
			{name: "discovery", path: "/.well-known/openid-configuration", want: 200},
			{name: "root", path: "/", want: 404},
			{name: "admin console", path: "/admin/master/console/", want: 404},
			{name: "prefix look-alike", path: "/realmsx/bud", want: 404},
			{name: "dot-dot out of a routed path", path: "/realms/../admin/master/console/", want: 404},
			{name: "metrics", path: "/metrics", want: 404},
		}
		b := backendOf(r)
		for _, tt := range tests {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+r.host+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = tt.path // sent as written, dot segments included
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s: GET %s answered %d, want %d", tt.name, tt.path, resp.StatusCode, tt.want)
			}
		}
		for _, p := range []string{"/", "/admin/master/console/", "/realmsx/bud", "/metrics"} {
			if b.seen(p) {
				t.Errorf("Keycloak was asked for %s, a path the model does not publish", p)
			}
		}
	})

	t.Run("admin allowlist", func(t *testing.T) {
		for _, r := range routes {
			for _, src := range []string{srcAdmin, srcOther, "127.0.0.1"} {
				resp, _ := do(t, edgeClient(tp, ca, src), http.MethodGet, "https://"+r.host+r.routedPath(), nil, nil)
				want := http.StatusOK
				if r.admin && src != srcAdmin {
					want = http.StatusForbidden
				}
				if resp.StatusCode != want {
					t.Errorf("%s from %s: %d, want %d", r.host, src, resp.StatusCode, want)
				}
			}
		}
	})

	t.Run("rate limit per client", func(t *testing.T) {
		r := routes[slices.IndexFunc(routes, func(r edgeRoute) bool { return !r.admin && len(r.paths) == 0 })]
		c := edgeClient(tp, ca, srcLimited)
		ok, limited := 0, 0
		var retryAfter string
		for i := 0; i < 40*proofBurst && limited == 0; i++ {
			resp, _ := do(t, c, http.MethodGet, "https://"+r.host+"/api/v1/models", nil, nil)
			switch resp.StatusCode {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				limited++
				retryAfter = resp.Header.Get("Retry-After")
			default:
				t.Fatalf("request %d: %d", i, resp.StatusCode)
			}
		}
		if limited == 0 {
			t.Fatalf("%d requests from one client, none refused with 429 (rate %d/s, burst %d)", ok, proofRPS, proofBurst)
		}
		if ok < proofBurst {
			t.Errorf("429 after %d requests, before the burst of %d was used", ok, proofBurst)
		}
		if retryAfter == "" {
			t.Error("429 without Retry-After")
		}
		// Another client is not limited by the first one's use.
		if resp, _ := do(t, edgeClient(tp, ca, srcOther), http.MethodGet, "https://"+r.host+"/api/v1/models", nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("another client got %d while the first was limited", resp.StatusCode)
		}
	})

	t.Run("request size limit", func(t *testing.T) {
		c := edgeClient(tp, ca, srcBody)
		var limit int64
		for _, r := range routes {
			if !r.streaming {
				limit = generatedSpec(t, objs, "Middleware", r.namespace, "budnet-request-size", "spec", "buffering", "maxRequestBodyBytes").(int64)
				break
			}
		}
		if limit != 10<<20 {
			t.Fatalf("the generated limit is %d bytes, want the model's 10m", limit)
		}
		for _, r := range routes {
			if r.admin || len(r.paths) > 0 {
				continue
			}
			over, _ := do(t, c, http.MethodPost, "https://"+r.host+"/upload", strings.NewReader(strings.Repeat("a", int(limit)+1)), nil)
			at, body := do(t, c, http.MethodPost, "https://"+r.host+"/upload", strings.NewReader(strings.Repeat("a", int(limit))), nil)
			if r.streaming {
				// No buffering Middleware on streaming hosts: the edge
				// sets no size limit there (docs/generate.md).
				if over.StatusCode != http.StatusOK {
					t.Errorf("%s (streaming): %d bytes answered %d, want 200 (no edge limit)", r.host, limit+1, over.StatusCode)
				}
				continue
			}
			if over.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: %d bytes answered %d, want 413", r.host, limit+1, over.StatusCode)
			}
			if want := fmt.Sprintf("%s received %d bytes", r.service, limit); at.StatusCode != http.StatusOK || body != want {
				t.Errorf("%s: %d bytes answered %d %q, want 200 %q", r.host, limit, at.StatusCode, body, want)
			}
		}
	})

	t.Run("streamed response", func(t *testing.T) {
		c := edgeClient(tp, ca, srcStream)
		for _, r := range routes {
			if r.admin || len(r.paths) > 0 {
				continue
			}
			// A streaming host gets each event as it is written: the
			// backend holds the stream open until the client has the
			// first event. Elsewhere Traefik's buffering Middleware
			// holds the whole response until the backend ends it,
			// which the backend does after a few seconds.
			wait := "5s"
			if r.streaming {
				wait = "2m"
			}
			id := strings.ReplaceAll(r.host, ".", "-")
			delivered := streamThrough(t, c, r.host, id, wait, backendOf(r))
			if delivered != r.streaming {
				t.Errorf("%s (streaming %v): first event delivered while the stream was open: %v", r.host, r.streaming, delivered)
			}
		}
	})
}

// streamThrough opens /v1/stream on host, reads the first event, tells the
// backend, and reads to the end; it returns what the backend recorded:
// whether the client had the first event while the stream was open.
func streamThrough(t *testing.T, c *http.Client, host, id, wait string, b *backend) bool {
	t.Helper()
	// The request body goes chunked (a reader of unknown length), not with
	// a Content-Length: with a Content-Length, Traefik's transport (Go
	// net/http) reads the client's body once more after the declared
	// length is on the wire, to check for excess; if the backend has
	// answered and Traefik's server has written the response head first,
	// that server has closed the client's body, the extra read fails and
	// the transport closes the backend connection mid-stream (golang/go
	// #40747; the client sees "unexpected EOF" after the first event, and
	// Traefik logs "ReverseProxy read error during body copy: use of
	// closed network connection" at DEBUG). It happened in 1 of 30 runs on
	// a loaded machine. A chunked body ends only after that
	// read, so the property under test, events delivered as written, is
	// judged without the race; docs/generate.md records the race.
	prompt := io.NopCloser(strings.NewReader(`{"model":"llama-3-8b","stream":true}`))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		"https://"+host+"/v1/stream?id="+id+"&wait="+wait, prompt)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: stream answered %d", host, resp.StatusCode)
	}
	rd := bufio.NewReader(resp.Body)
	first, err := rd.ReadString('\n')
	if err != nil || !strings.Contains(first, "first") {
		t.Fatalf("%s: first line %q: %v", host, first, err)
	}
	b.ack(id)
	var rest strings.Builder
	if _, err := rd.WriteTo(&rest); err != nil {
		t.Fatalf("%s: read the stream: %v", host, err)
	}
	if !strings.Contains(rest.String(), "[DONE]") {
		t.Fatalf("%s: stream ended without [DONE]: %q", host, rest.String())
	}
	delivered, ended := b.streamDelivered(id)
	if !ended {
		t.Fatalf("%s: the backend did not record the stream", host)
	}
	return delivered
}
