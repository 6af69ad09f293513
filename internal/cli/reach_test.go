package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/reach"
)

// run executes budnet with args through the real command tree.
func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Execute(context.Background(), args, Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

type reachJSON struct {
	Metadata struct {
		IPBlockMatchesPods bool     `json:"ipBlockMatchesPods"`
		Inputs             []string `json:"inputs"`
		Workloads          int      `json:"workloads"`
		Notes              []string `json:"notes"`
	} `json:"metadata"`
	Connections    []connJSON `json:"connections"`
	OverPermissive []connJSON `json:"overPermissive"`
	Broken         []connJSON `json:"broken"`
}

type connJSON struct {
	Src   string           `json:"src"`
	Dst   string           `json:"dst"`
	Ports []map[string]any `json:"ports"`
	Flow  string           `json:"flow"`
}

const twoApps = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api, ports: [{name: http, containerPort: 9000}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: db, image: pg, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 5432}, {port: 7000, endPort: 7010}]
`

func TestReachJSONContract(t *testing.T) {
	code, out, stderr := run(t, twoApps, "reach", "-f", "-", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got reachJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if got.Metadata.IPBlockMatchesPods || got.Metadata.Workloads != 2 || got.Metadata.Inputs[0] != "-" {
		t.Errorf("metadata %+v", got.Metadata)
	}
	byPair := map[string]connJSON{}
	for _, c := range got.Connections {
		byPair[c.Src+" -> "+c.Dst] = c
	}
	api2db, ok := byPair["shop/api[Deployment] -> shop/db[Pod]"]
	if !ok {
		t.Fatalf("api -> db missing: %+v", got.Connections)
	}
	want := `[{"endPort":5432,"port":5432,"protocol":"TCP"},{"endPort":7010,"port":7000,"protocol":"TCP"}]`
	if b, _ := json.Marshal(api2db.Ports); string(b) != want {
		t.Errorf("ports %s, want %s", b, want)
	}
	db2api := byPair["shop/db[Pod] -> shop/api[Deployment]"]
	if b, _ := json.Marshal(db2api.Ports); string(b) != `[{"protocol":"all"}]` {
		t.Errorf("unisolated pair ports %s", b)
	}
	if _, ok := byPair["0.0.0.0/0 -> shop/db[Pod]"]; ok {
		t.Error("external traffic to the isolated db is listed")
	}
	if got.OverPermissive != nil || got.Broken != nil {
		t.Error("diff arrays present without --intended")
	}
}

func TestReachExplain(t *testing.T) {
	tests := []struct {
		name, from, to, port string
		want                 []string
	}{
		{name: "allowed by a rule", from: "shop/api", to: "shop/db", port: "tcp/5432", want: []string{"ALLOWED", "ingress allowed by shop/db ingress[0]"}},
		{name: "port range end is inclusive", from: "shop/api[Deployment]", to: "shop/db[Pod]", port: "7010", want: []string{"ALLOWED"}},
		{name: "other protocol denied", from: "shop/api", to: "shop/db", port: "udp/5432", want: []string{"DENIED", "isolated by shop/db"}},
		{name: "external address", from: "203.0.113.9", to: "shop/db", port: "tcp/5432", want: []string{"DENIED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := run(t, twoApps, "reach", "-f", "-", "--from", tt.from, "--to", tt.to, "--port", tt.port)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in %s", w, out)
				}
			}
		})
	}
}

func TestReachErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    version: 1.0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no input", args: []string{"reach"}, want: "no input"},
		{name: "both inputs", args: []string{"reach", "--example", "-f", "x"}, want: "mutually exclusive"},
		{name: "bad output", args: []string{"reach", "--example", "-o", "yaml"}, want: "unknown output format"},
		{name: "from without to", args: []string{"reach", "--example", "--from", "a/b"}, want: "go together"},
		{name: "bad port", args: []string{"reach", "--example", "--from", "a/b", "--to", "c/d", "--port", "tcp/99999"}, want: "1 to 65535"},
		{name: "unknown workload", args: []string{"reach", "--example", "--from", "a/b", "--to", "c/d", "--port", "80"}, want: "no such workload"},
		{name: "missing file", args: []string{"reach", "-f", filepath.Join(dir, "nope.yaml")}, want: "nope.yaml"},
		{name: "bad manifest names file, line and field", args: []string{"reach", "-f", bad}, want: "bad.yaml:6: metadata.labels.version"},
		{name: "bad platform file", args: []string{"reach", "--example", "--intended", "--platform", bad}, want: "bad.yaml"},
		{name: "unknown flag", args: []string{"reach", "--bogus"}, want: "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := run(t, "", tt.args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want 2; stderr %s", code, stderr)
			}
			if out != "" {
				t.Errorf("wrote to stdout on error: %q", out)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.want)
			}
		})
	}
}

func TestReachExampleIntended(t *testing.T) {
	code, out, stderr := run(t, "", "reach", "--example", "--intended", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got reachJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	// The unhardened example has no platform-wide default deny: the data
	// stores' own chart policies are the only isolation, so many flows are
	// over-permissive, e.g. budapp may reach the metrics stack on any port.
	if len(got.OverPermissive) < 100 {
		t.Errorf("only %d over-permissive flows in the unhardened example", len(got.OverPermissive))
	}
	// The Keycloak chart's policy blocks the model's TLS port 8443, which the
	// chart does not serve: one model drift note, not a broken flow per
	// caller (issue 13, section 4).
	for _, b := range got.Broken {
		if strings.Contains(b.Dst, "keycloak") && b.Flow == "system-to-keycloak" {
			t.Errorf("the unserved Keycloak TLS port is reported as a broken flow: %+v", b)
		}
	}
	drift := 0
	for _, n := range got.Metadata.Notes {
		if strings.HasPrefix(n, "model drift: the model's bud-auth/keycloak is intended to serve TCP/8443 ") {
			drift++
		}
	}
	if drift != 1 {
		t.Errorf("want one model drift note for Keycloak's TLS port, got %d in %q", drift, got.Metadata.Notes)
	}
}

// TestReachFailOn: --intended gates CI with --fail-on. The unhardened example
// is over-permissive; generate's output with the reference install is
// neither over-permissive nor broken; an input the model does not describe
// at all is an error, never a pass.
func TestReachFailOn(t *testing.T) {
	gen := filepath.Join(t.TempDir(), "gen")
	if code, _, stderr := run(t, "", "generate", "-o", gen); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	ref := filepath.Join("..", "..", "examples", "bud-reference")
	unrelated := filepath.Join(t.TempDir(), "unrelated.yaml")
	if err := os.WriteFile(unrelated, []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop, namespace: web}\nspec:\n  selector: {matchLabels: {app: shop}}\n  template:\n    metadata: {labels: {app: shop}}\n    spec: {containers: [{name: shop, image: shop:1}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{name: "over-permissive example fails", args: []string{"--example", "--fail-on", "over-permissive"}, want: ExitFindings},
		{name: "any on the example fails", args: []string{"--example", "--fail-on", "any"}, want: ExitFindings},
		{name: "no gate, no failure", args: []string{"--example"}, want: 0},
		{name: "generated output passes any", args: []string{"-f", gen, "-f", ref, "--fail-on", "any"}, want: 0},
		{name: "generated output without its policies breaks nothing but opens everything", args: []string{"-f", ref, "--fail-on", "broken"}, want: 0},
		{name: "reference without policies is over-permissive", args: []string{"-f", ref, "--fail-on", "over-permissive"}, want: ExitFindings},
		{name: "nothing the model describes is an error", args: []string{"-f", unrelated, "--fail-on", "any"}, want: ExitUsage, msg: "nothing to judge"},
		{name: "bad value", args: []string{"--example", "--fail-on", "high"}, want: ExitUsage, msg: "want over-permissive, broken or any"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, "", append([]string{"reach", "--intended", "-o", "json"}, tt.args...)...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.want, stderr)
			}
			if !strings.Contains(stderr, tt.msg) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.msg)
			}
		})
	}
	if code, _, stderr := run(t, "", "reach", "--example", "--fail-on", "any"); code != ExitUsage || !strings.Contains(stderr, "needs --intended") {
		t.Errorf("--fail-on without --intended: exit %d, stderr %q", code, stderr)
	}
}

// TestReachHostNetworkPods: the two readings the API reference allows for
// host-network pods give opposite answers for one connection, and the JSON
// metadata says which reading was used.
func TestReachHostNetworkPods(t *testing.T) {
	file := filepath.Join("testdata", "hostnetwork.yaml")
	for _, tt := range []struct {
		reading string
		allowed bool
	}{
		{reading: "node", allowed: true}, // the node's traffic: no policy isolates it
		{reading: "pod", allowed: false}, // the namespace's default deny applies
	} {
		t.Run(tt.reading, func(t *testing.T) {
			code, out, stderr := run(t, "", "reach", "-f", file, "--host-network-pods", tt.reading, "--from", "web/client", "--to", "monitoring/node-exporter", "--port", "9100", "-o", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got struct{ Allowed bool }
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if got.Allowed != tt.allowed {
				t.Errorf("allowed = %v, want %v:\n%s", got.Allowed, tt.allowed, out)
			}
			_, out, _ = run(t, "", "reach", "-f", file, "--host-network-pods", tt.reading, "-o", "json")
			if !strings.Contains(out, `"hostNetworkPods":"`+tt.reading+`"`) {
				t.Errorf("metadata does not record the reading %q:\n%.400s", tt.reading, out)
			}
		})
	}
	if code, _, stderr := run(t, "", "reach", "--example", "--host-network-pods", "both"); code != ExitUsage || !strings.Contains(stderr, "want node or pod") {
		t.Errorf("bad reading: exit %d, stderr %q", code, stderr)
	}
}

// TestReachListsUnjudgedPolicies: the network-policy-api tiers are judged
// (an AdminNetworkPolicy's Deny removes a connection NetworkPolicies leave
// open); what the engine cannot judge (the ANP's node selector with labels,
// a Calico policy) is named with file and line in JSON and text, never
// dropped silently.
func TestReachListsUnjudgedPolicies(t *testing.T) {
	file := filepath.Join("testdata", "othertiers.yaml")
	code, out, stderr := run(t, "", "reach", "-f", file, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Metadata struct {
			Unjudged []reach.Unjudged
			Tiers    map[string]int
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := []reach.Unjudged{
		{Kind: "GlobalNetworkPolicy", Object: "deny-egress", Source: file + ":37"},
		{Kind: "AdminNetworkPolicy", Object: "deny-shop", Source: file + ":26", Field: "spec.egress[0].to[0].nodes"},
	}
	if len(got.Metadata.Unjudged) != len(want) {
		t.Fatalf("unjudged = %+v, want %d entries", got.Metadata.Unjudged, len(want))
	}
	for i, w := range want {
		g := got.Metadata.Unjudged[i]
		if g.Kind != w.Kind || g.Object != w.Object || g.Source != w.Source || g.Field != w.Field || g.Why == "" {
			t.Errorf("unjudged[%d] = %+v, want %+v with a reason", i, g, w)
		}
	}
	if got.Metadata.Tiers["AdminNetworkPolicy"] != 1 {
		t.Errorf("metadata.tiers = %v, want the AdminNetworkPolicy counted", got.Metadata.Tiers)
	}
	_, text, _ := run(t, "", "reach", "-f", file)
	if !strings.Contains(text, "# not judged: GlobalNetworkPolicy deny-egress ("+file+":37)") {
		t.Errorf("text output does not name the Calico policy:\n%s", text)
	}
	if strings.Contains(text, "web/client[Deployment] => shop/api[Deployment]") || !strings.Contains(text, "shop/api[Deployment] => web/client[Deployment]") {
		t.Errorf("the AdminNetworkPolicy's ingress Deny is not applied (or too much is denied):\n%s", text)
	}
	_, explain, _ := run(t, "", "reach", "-f", file, "--from", "web/client", "--to", "shop/api", "--port", "80")
	if !strings.Contains(explain, `ingress denied by Admin tier: deny-shop[AdminNetworkPolicy] ingress[0] "deny-all" (Deny)`) {
		t.Errorf("explain does not name the deciding tier and rule:\n%s", explain)
	}
	_, js, _ := run(t, "", "reach", "-f", file, "--from", "web/client", "--to", "shop/api", "--port", "80", "-o", "json")
	if !strings.Contains(js, `"tier": "Admin"`) || !strings.Contains(js, `"tier": "Default"`) {
		t.Errorf("explain JSON does not carry the tiers:\n%s", js)
	}
}

// TestReachRejectsInvalidTierPolicy: a typo'd field in a tiered policy is an
// error naming the file and line, exit 2, never a policy judged as absent.
func TestReachRejectsInvalidTierPolicy(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "anp.yaml")
	if err := os.WriteFile(file, []byte(`apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: typo}
spec:
  priority: 10
  subject: {namespaces: {}}
  ingress:
  - {action: Deny, form: [{namespaces: {}}]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The loader checks the object against the pinned CRD's schema.
	code, _, stderr := run(t, "", "reach", "-f", file)
	if code != ExitUsage || !strings.Contains(stderr, file+":8") || !strings.Contains(stderr, `"form"`) {
		t.Errorf("exit %d, stderr %q: want exit %d naming the file, line and field", code, stderr, ExitUsage)
	}
	// Told to read past unknown fields, the loader does; the engine's
	// strict decode still refuses to judge the rule without its peers.
	code, _, stderr = run(t, "", "reach", "-f", file, "--validate=warn")
	if code != ExitUsage || !strings.Contains(stderr, "typo[AdminNetworkPolicy] ("+file+":1)") || !strings.Contains(stderr, "form") {
		t.Errorf("--validate=warn: exit %d, stderr %q: want exit %d naming the object, file and field", code, stderr, ExitUsage)
	}
}

// TestReachExplainPerPod: when policies tell a workload's pods apart (a
// per-pod label on one StatefulSet pod), the explanation agrees with the
// matrix, which allows the connection, and names the pod it is allowed to;
// judging one representative pod said DENIED (issue 15).
func TestReachExplainPerPod(t *testing.T) {
	file := filepath.Join("testdata", "perpod.yaml")
	_, matrix, _ := run(t, "", "reach", "-f", file)
	if !strings.Contains(matrix, "web/client[Deployment] => data/db[StatefulSet] : TCP 5432 (partial: 1 of 2 pod pairs)") {
		t.Fatalf("matrix does not allow client to db on 5432 for 1 of 2 pod pairs:\n%s", matrix)
	}
	if _, js, _ := run(t, "", "reach", "-f", file, "-o", "json"); !strings.Contains(js, `"podPairs":2,"fullPairs":1`) {
		t.Errorf("matrix JSON does not mark the partial reach:\n%s", js)
	}
	code, out, stderr := run(t, "", "reach", "-f", file, "--from", "web/client", "--to", "data/db", "--port", "5432", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Allowed, Partial bool
		PodPairs         []struct {
			Src, Dst string
			Allowed  bool
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Allowed || !got.Partial || len(got.PodPairs) != 2 {
		t.Fatalf("want allowed to 1 of 2 pods, got %s", out)
	}
	for _, p := range got.PodPairs {
		if p.Allowed != (p.Dst == "data/db-0") {
			t.Errorf("pair %+v: only data/db-0 (role primary) is allowed", p)
		}
	}
	_, text, _ := run(t, "", "reach", "-f", file, "--from", "web/client", "--to", "data/db", "--port", "5432")
	if !strings.Contains(text, "ALLOWED for 1 of 2 pod pairs") || !strings.Contains(text, "denied  web/client => data/db-1") {
		t.Errorf("text explanation does not name the pods:\n%s", text)
	}
}
