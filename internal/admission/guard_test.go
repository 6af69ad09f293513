package admission

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/platform"
)

func fixture(t testing.TB) ([]*unstructured.Unstructured, *platform.Platform) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubetest.ParseObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	model, err := platform.Load(filepath.Join("testdata", "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return objs, model
}

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s/%s", kind, ns, name)
	return nil
}

// TestGuard: table tests, with the attacks that try to get past the guard
// (a harmless-looking policy, a namespace relabel, a pod relabel).
func TestGuard(t *testing.T) {
	objs, model := fixture(t)
	relabel := func(kind, ns, name string, labels map[string]string) Change {
		old := find(t, objs, kind, ns, name)
		nu := old.DeepCopy()
		nu.SetLabels(labels)
		return Change{Operation: Update, Object: nu, OldObject: old}
	}
	for _, tc := range []struct {
		name       string
		change     Change
		mode       Mode
		allowed    bool
		wantOpened string // a substring of the message or warnings
	}{
		{
			name: "a default deny for lab is harmless",
			change: Change{Operation: Create, Object: obj(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: lab}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`)},
			mode: ModeEnforce, allowed: true,
		},
		{
			name: "attack: a metrics policy whose namespaceSelector {} opens db to every namespace",
			change: Change{Operation: Create, Object: obj(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-metrics, namespace: data}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {}}]
      ports: [{port: 9187}]`)},
			mode: ModeEnforce, allowed: false, wantOpened: "opens lab/scratch[Deployment] => data/db[StatefulSet] : TCP/9187",
		},
		{
			name:   "attack: relabelling lab team=web makes db's allow rule match it",
			change: relabel("Namespace", "", "lab", map[string]string{"kubernetes.io/metadata.name": "lab", "team": "web"}),
			mode:   ModeEnforce, allowed: false, wantOpened: "opens lab/scratch[Deployment] => data/db[StatefulSet] : TCP/5432",
		},
		{
			name:   "attack: a pod relabel escapes the label-selected deny",
			change: relabel("Pod", "tools", "debug", map[string]string{"app": "debug"}),
			mode:   ModeEnforce, allowed: false, wantOpened: "opens tools/debug[Pod] => data/db[StatefulSet] : TCP/5432",
		},
		{
			name:   "deleting db's ingress rule breaks the model flow",
			change: Change{Operation: Delete, OldObject: find(t, objs, "NetworkPolicy", "data", "db-from-team-web")},
			mode:   ModeEnforce, allowed: false, wantOpened: "breaks app/web[Deployment] => data/db[StatefulSet] : TCP/5432 (flow web-to-db",
		},
		{
			name:   "warn mode admits the break and says so",
			change: Change{Operation: Delete, OldObject: find(t, objs, "NetworkPolicy", "data", "db-from-team-web")},
			mode:   ModeWarn, allowed: true, wantOpened: "breaks app/web[Deployment] => data/db[StatefulSet]",
		},
		{
			name:   "relabelling a pod within the sandbox is harmless",
			change: relabel("Pod", "tools", "debug", map[string]string{"app": "debug2", "sandbox": "true"}),
			mode:   ModeEnforce, allowed: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Guard{Mode: tc.mode, Platform: model}.Decide(t.Context(), objs, tc.change)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tc.allowed {
				t.Errorf("allowed %v, want %v; message %q warnings %q", d.Allowed, tc.allowed, d.Message, d.Warnings)
			}
			said := d.Message + strings.Join(d.Warnings, "\n")
			if tc.wantOpened == "" && said != "" {
				t.Errorf("a harmless change got %q", said)
			}
			if !strings.Contains(said, tc.wantOpened) {
				t.Errorf("answer %q does not say %q", said, tc.wantOpened)
			}
		})
	}
}

func TestGuardRejectsBadInput(t *testing.T) {
	objs, model := fixture(t)
	for _, tc := range []struct {
		name   string
		guard  Guard
		change Change
	}{
		{name: "no model", guard: Guard{Mode: ModeEnforce}, change: Change{Operation: Create, Object: objs[0]}},
		{name: "create without object", guard: Guard{Mode: ModeEnforce, Platform: model}, change: Change{Operation: Create}},
		{name: "delete without old object", guard: Guard{Mode: ModeEnforce, Platform: model}, change: Change{Operation: Delete}},
		{name: "connect", guard: Guard{Mode: ModeEnforce, Platform: model}, change: Change{Operation: "CONNECT", Object: objs[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.guard.Decide(t.Context(), objs, tc.change); err == nil {
				t.Error("decided")
			}
		})
	}
}
