package generate_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/platform"
)

// daprCase is one service invocation as hack/dapr-check takes it, with the
// decision the model intends.
type daprCase struct {
	Namespace       string `json:"namespace"`
	CallerAppID     string `json:"callerAppID"`
	CallerNamespace string `json:"callerNamespace"`
	TrustDomain     string `json:"trustDomain"`
	Method          string `json:"method"`
	Verb            string `json:"verb"`
	AppProtocol     string `json:"appProtocol,omitempty"`

	why   string
	allow bool
}

type daprDecision struct {
	Allowed bool               `json:"allowed"`
	Stage   string             `json:"stage"`
	Message string             `json:"message"`
	Method  string             `json:"method"`
	Metrics map[string]float64 `json:"metrics"`
}

// methodsFor are concrete methods an operation pattern of the model covers:
// a trailing "/*" means everything below the prefix, at any depth (the
// model's reading, platform validation's "/v1/* or /*"), so one-segment and
// multi-segment methods are all intended.
func methodsFor(op string) []string {
	prefix, ok := strings.CutSuffix(op, "/*")
	if !ok {
		return []string{op}
	}
	return []string{prefix + "/health", prefix + "/cluster/list", prefix + "/api/v1/health", prefix + "/models/3f2a/versions/2/deploy"}
}

// verbsFor are the HTTP verbs an operation grants.
func verbsFor(verbs []string) []string {
	if len(verbs) == 0 || slices.Contains(verbs, "*") {
		return []string{"GET", "POST", "PUT", "DELETE", "PATCH"}
	}
	return verbs
}

// intendedInvocations reads the model's rows as a reviewer would, not
// through generate: a flow between two Dapr apps with invoke operations, or
// naming its caller by workload and opening the callee's dapr-internal port,
// means the caller may invoke those operations (every one when none are
// listed) on the callee. It returns the allowed cases and, per callee zone,
// the callers granted something there.
func intendedInvocations(p *platform.Platform) ([]daprCase, map[string][]string) {
	td := p.Spec.Mesh.TrustDomain
	var cases []daprCase
	callers := map[string][]string{}
	for i := range p.Spec.Flows.Internal {
		f := &p.Spec.Flows.Internal[i]
		ops := f.Invoke
		if len(ops) == 0 {
			if f.From.Workload == "" || !slices.ContainsFunc(f.Ports, func(pt platform.Port) bool { return pt.Name == "dapr-internal" }) {
				continue
			}
			ops = []platform.DaprOperation{{Name: "/*"}}
		}
		for _, from := range p.Select(f.From) {
			for _, to := range p.Select(f.To) {
				if from.Dapr == nil || to.Dapr == nil || from == to {
					continue
				}
				if !slices.Contains(callers[to.Zone], from.Dapr.AppID) {
					callers[to.Zone] = append(callers[to.Zone], from.Dapr.AppID)
				}
				for _, op := range ops {
					for _, m := range methodsFor(op.Name) {
						base := daprCase{Namespace: to.Zone, CallerAppID: from.Dapr.AppID, CallerNamespace: from.Zone, TrustDomain: td,
							Method: m, allow: true, why: fmt.Sprintf("flow %s: %s invokes %s %s", f.Name, from.Dapr.AppID, to.Dapr.AppID, m)}
						for _, v := range verbsFor(op.Verbs) {
							c := base
							c.Verb = v
							cases = append(cases, c)
						}
						// A gRPC app: no verb, the operation alone decides.
						c := base
						c.AppProtocol = "grpc"
						cases = append(cases, c)
					}
				}
			}
		}
	}
	return cases, callers
}

// refusedInvocations are calls the model does not intend, per callee zone:
// a caller the model does not know, a granted app id from another namespace
// or trust domain, a Dapr app of the model granted nothing in the zone, a
// caller without a workload certificate, and a path-traversal method.
func refusedInvocations(p *platform.Platform, callers map[string][]string) []daprCase {
	td := p.Spec.Mesh.TrustDomain
	var cases []daprCase
	zones := make([]string, 0, len(callers))
	for z := range callers {
		zones = append(zones, z)
	}
	slices.Sort(zones)
	for _, z := range zones {
		granted := callers[z][0]
		w := daprApp(p, granted)
		cases = append(cases,
			daprCase{Namespace: z, CallerAppID: "intruder", CallerNamespace: z, TrustDomain: td, Method: "/cluster/list", Verb: "GET", why: "unknown app id"},
			daprCase{Namespace: z, CallerAppID: granted, CallerNamespace: "bud-attacker", TrustDomain: td, Method: "/cluster/list", Verb: "GET", why: granted + " from another namespace"},
			daprCase{Namespace: z, CallerAppID: granted, CallerNamespace: w.Zone, TrustDomain: "evil.example", Method: "/cluster/list", Verb: "GET", why: granted + " from another trust domain"},
			daprCase{Namespace: z, Method: "/cluster/list", Verb: "GET", why: "no client certificate"},
		)
		for i := range p.Spec.Workloads {
			o := &p.Spec.Workloads[i]
			if o.Dapr != nil && !slices.Contains(callers[z], o.Dapr.AppID) {
				cases = append(cases, daprCase{Namespace: z, CallerAppID: o.Dapr.AppID, CallerNamespace: o.Zone, TrustDomain: td,
					Method: "/api/v1/health", Verb: "GET", why: o.Dapr.AppID + " is granted nothing in " + z})
			}
		}
	}
	return cases
}

func daprApp(p *platform.Platform, appID string) *platform.Workload {
	for i := range p.Spec.Workloads {
		if w := &p.Spec.Workloads[i]; w.Dapr != nil && w.Dapr.AppID == appID {
			return w
		}
	}
	return nil
}

// decideDapr runs hack/dapr-check over the generated mesh file.
func decideDapr(t *testing.T, bin string, p *platform.Platform, cases []daprCase) []daprDecision {
	t.Helper()
	files, err := generate.Mesh(p, generate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no Dapr Configurations generated")
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runHarness(t, bin, in, "-config", writeStream(t, files), "-name", generate.DaprAccessConfiguration)
	if err != nil {
		t.Fatalf("dapr-check: %v", err)
	}
	var got []daprDecision
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got) != len(cases) {
		t.Fatalf("%d decisions for %d cases", len(got), len(cases))
	}
	return got
}

// narrowed is the Bud model with every invoke row narrowed to GET and POST
// under /v1, so verbs and prefixes are decided too.
func narrowed(t *testing.T) *platform.Platform {
	p := loadModel(t, "")
	for i := range p.Spec.Flows.Internal {
		if f := &p.Spec.Flows.Internal[i]; len(f.Invoke) > 0 {
			f.Invoke = []platform.DaprOperation{{Name: "/v1/*", Verbs: []string{"GET", "POST"}}}
		}
	}
	return p
}

// TestDaprDecidesGeneratedAccessControl is the service-invocation proof
// (issue 12 defect 1): Dapr v1.18.0's own access-control code
// (hack/dapr-check: pkg/acl over the Configuration as daprd decodes it, the
// caller identified by a sentry-shaped SPIFFE certificate) decides every
// invocation the model intends, multi-segment methods included, and refuses
// the others. Every decision must move the ACL counter the
// BudDaprAccessDenied alert reads (defect 7).
func TestDaprDecidesGeneratedAccessControl(t *testing.T) {
	bin := harnessBinary(t, "BUDNET_DAPR_CHECK", "dapr-check-v1.18.0", "dapr-check")
	tests := []struct {
		name  string
		model func(t *testing.T) *platform.Platform
		extra []daprCase // refused cases specific to the model
	}{
		{name: "bud model", model: func(t *testing.T) *platform.Platform { return loadModel(t, "") }},
		{name: "narrowed to GET and POST under /v1", model: narrowed, extra: []daprCase{
			{Namespace: "bud-system", CallerAppID: "budcluster", CallerNamespace: "bud-system", Method: "/v2/cluster/list", Verb: "GET", why: "outside /v1"},
			{Namespace: "bud-system", CallerAppID: "budcluster", CallerNamespace: "bud-system", Method: "/v1/cluster/3", Verb: "DELETE", why: "verb not granted"},
			{Namespace: "bud-system", CallerAppID: "budcluster", CallerNamespace: "bud-system", Method: "/v1/../admin/reset", Verb: "POST", why: "traversal out of /v1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.model(t)
			allowed, callers := intendedInvocations(p)
			if len(allowed) == 0 {
				t.Fatal("the model intends no invocation")
			}
			refused := refusedInvocations(p, callers)
			for _, c := range tt.extra {
				c.TrustDomain = p.Spec.Mesh.TrustDomain
				refused = append(refused, c)
			}
			cases := slices.Concat(allowed, refused)
			got := decideDapr(t, bin, p, cases)
			var wrong int
			for i, c := range cases {
				g := got[i]
				if g.Allowed != c.allow {
					wrong++
					if wrong <= 10 {
						t.Errorf("%s (%s %s from %s/%s to %s): Dapr allowed=%v, want %v; %s", c.why, c.Verb, c.Method, c.CallerNamespace, c.CallerAppID, c.Namespace, g.Allowed, c.allow, g.Message)
					}
				}
				if c.CallerAppID == "" {
					// With mTLS on, a caller without a workload certificate
					// never reaches access control.
					if g.Stage != "tls" {
						t.Errorf("%s: ended at %q, want the mTLS handshake", c.why, g.Stage)
					}
					continue
				}
				if !movedACLCounter(g.Metrics, c.allow) {
					t.Errorf("%s: allowed=%v moved no dapr_runtime_acl_*_%s_total counter: %v", c.why, g.Allowed, map[bool]string{true: "allowed", false: "blocked"}[c.allow], g.Metrics)
				}
			}
			if wrong > 0 {
				t.Errorf("%d of %d decisions differ from the model", wrong, len(cases))
			}
			t.Logf("%d intended invocations allowed, %d others refused by Dapr v1.18.0 pkg/acl", len(allowed), len(refused))
		})
	}
}

// movedACLCounter: Dapr counts every access-control decision in
// dapr_runtime_acl_{app,global}_policy_action_{allowed,blocked}_total
// (pkg/acl/acl.go emitACLMetrics), for CallLocal and CallLocalStream alike.
func movedACLCounter(metrics map[string]float64, allowed bool) bool {
	suffix := "_policy_action_blocked_total{"
	if allowed {
		suffix = "_policy_action_allowed_total{"
	}
	for k, v := range metrics {
		if strings.HasPrefix(k, "dapr_runtime_acl_") && strings.Contains(k, suffix) && v == 1 {
			return true
		}
	}
	return false
}

// TestDaprAccessDeniedAlertReadsDaprSeries closes defect 7 with Dapr's own
// output: the series dapr-check's exporter produced for refused calls (the
// same OpenCensus Prometheus exporter daprd serves) make
// BudDaprAccessDenied fire, and the allowed ones keep it quiet.
func TestDaprAccessDeniedAlertReadsDaprSeries(t *testing.T) {
	bin := harnessBinary(t, "BUDNET_DAPR_CHECK", "dapr-check-v1.18.0", "dapr-check")
	p := loadModel(t, "")
	allowed, callers := intendedInvocations(p)
	refused := refusedInvocations(p, callers)
	got := decideDapr(t, bin, p, slices.Concat(allowed[:1], refused))
	var bad, good []string
	for i, d := range got {
		for series := range d.Metrics {
			// A counter that stays at zero for a minute, then counts.
			line := series + " 0x4 1x390"
			if i == 0 {
				good = append(good, series+" 0+1x400")
			} else if !slices.Contains(bad, line) {
				bad = append(bad, line)
			}
		}
	}
	if len(bad) == 0 || len(good) == 0 {
		t.Fatalf("no series from Dapr: bad %v good %v", bad, good)
	}
	data := ruleGroups(t, p, generate.Options{Edge: platform.EdgeGatewayAPI})
	for _, line := range bad {
		if got := evalAlert(t, data, "BudDaprAccessDenied", line); got != "firing" {
			t.Errorf("refusal series %s: BudDaprAccessDenied is %q, want firing", line, got)
		}
	}
	if got := evalAlert(t, data, "BudDaprAccessDenied", strings.Join(good, "\n")); got != "" {
		t.Errorf("allowed series %v: BudDaprAccessDenied is %q, want quiet", good, got)
	}
}

// TestDaprOperationNames: the model's trailing "/*" (everything under the
// path) is written as Dapr's multi-level "/**"; Dapr syntax passes.
func TestDaprOperationNames(t *testing.T) {
	tests := []struct{ name, model, want string }{
		{name: "everything", model: "/*", want: "/**"},
		{name: "under a prefix", model: "/v1/*", want: "/v1/**"},
		{name: "already multi-level", model: "/v1/**", want: "/v1/**"},
		{name: "exact", model: "/health", want: "/health"},
		{name: "mid-path segment wildcard", model: "/v1/*/status", want: "/v1/*/status"},
		{name: "wildcard inside a segment", model: "/v1/model*", want: "/v1/model*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadModel(t, "")
			for i := range p.Spec.Flows.Internal {
				if f := &p.Spec.Flows.Internal[i]; len(f.Invoke) > 0 {
					f.Invoke = []platform.DaprOperation{{Name: tt.model}}
				}
			}
			files, err := generate.Mesh(p, generate.Options{})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, u := range files[0].Objects[1:] {
				pols, _, _ := unstructured.NestedSlice(u.Object, "spec", "accessControl", "policies")
				for _, pol := range pols {
					for _, op := range pol.(map[string]any)["operations"].([]any) {
						if got := op.(map[string]any)["name"]; got != tt.want {
							t.Errorf("%s: operation %v, want %s", u.GetNamespace(), got, tt.want)
						}
						n++
					}
				}
			}
			if n == 0 {
				t.Fatal("no operations generated")
			}
		})
	}
}
