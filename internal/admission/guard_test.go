package admission

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
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

// ownedPod returns the Pod a controller would create from tmpl's pod
// template (a Deployment's, a StatefulSet's): its labels plus extra, owned
// through a controller reference to owner (the ReplicaSet or StatefulSet).
func ownedPod(t testing.TB, tmpl *unstructured.Unstructured, owner metav1.OwnerReference, name string, extra map[string]string) *unstructured.Unstructured {
	t.Helper()
	labels, _, err := unstructured.NestedStringMap(tmpl.Object, "spec", "template", "metadata", "labels")
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(labels, extra)
	spec, ok, err := unstructured.NestedMap(tmpl.Object, "spec", "template", "spec")
	if err != nil || !ok {
		t.Fatalf("%s has no pod template: %v", tmpl.GetName(), err)
	}
	pod := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	pod.SetAPIVersion("v1")
	pod.SetKind("Pod")
	pod.SetNamespace(tmpl.GetNamespace())
	pod.SetName(name)
	pod.SetLabels(labels)
	pod.SetOwnerReferences([]metav1.OwnerReference{owner})
	return pod
}

// controllerRef is the reference a controller sets on what it creates.
func controllerRef(apiVersion, kind, name string, uid types.UID) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &yes, BlockOwnerDeletion: &yes}
}

// statefulPods returns db-0, the StatefulSet db's first Pod, and a Pod of
// the toolbox Deployment's ReplicaSet, labelled as their controllers label
// them.
func statefulPods(t testing.TB, objs []*unstructured.Unstructured, dbUID, rsUID types.UID) (db0, toolbox *unstructured.Unstructured) {
	t.Helper()
	var db, tb *unstructured.Unstructured
	for _, o := range objs {
		switch {
		case o.GetKind() == "StatefulSet" && o.GetName() == "db":
			db = o
		case o.GetKind() == "Deployment" && o.GetName() == "toolbox":
			tb = o
		}
	}
	if db == nil || tb == nil {
		t.Fatal("the fixture lost db or toolbox")
	}
	db0 = ownedPod(t, db, controllerRef("apps/v1", "StatefulSet", "db", dbUID), "db-0", map[string]string{
		"apps.kubernetes.io/pod-index": "0", "controller-revision-hash": "db-5d8f7c9b4", "statefulset.kubernetes.io/pod-name": "db-0"})
	toolbox = ownedPod(t, tb, controllerRef("apps/v1", "ReplicaSet", "toolbox-6f9c7d5b8", rsUID), "toolbox-6f9c7d5b8-k2x4p",
		map[string]string{"pod-template-hash": "6f9c7d5b8"})
	return db0, toolbox
}

// TestGuard: table tests, with the attacks that try to get past the guard
// (a harmless-looking policy, a namespace relabel, a pod relabel, the
// relabel of a Pod a controller owns).
func TestGuard(t *testing.T) {
	objs, model := fixture(t)
	db0, toolbox := statefulPods(t, objs, "5b0e1c2a-0000-4000-8000-00000000d0b0", "5b0e1c2a-0000-4000-8000-0000000070b0")
	objs = append(objs, db0, toolbox)
	relabel := func(kind, ns, name string, labels map[string]string) Change {
		old := find(t, objs, kind, ns, name)
		nu := old.DeepCopy()
		nu.SetLabels(labels)
		return Change{Operation: Update, Object: nu, OldObject: old}
	}
	// label sets one label on a copy of a Pod's labels ("" removes it).
	label := func(o *unstructured.Unstructured, key, value string) Change {
		l := maps.Clone(o.GetLabels())
		if value == "" {
			delete(l, key)
		} else {
			l[key] = value
		}
		return relabel(o.GetKind(), o.GetNamespace(), o.GetName(), l)
	}
	orphaned := toolbox.DeepCopy()
	orphaned.SetOwnerReferences(nil)
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
			name:   "attack: kubectl label pod db-0 metrics=scrape opts the owned Pod into the exporters' allow",
			change: label(db0, "metrics", "scrape"),
			mode:   ModeEnforce, allowed: false, wantOpened: "opens lab/scratch[Deployment] => data/db-0[Pod] : TCP/9187",
		},
		{
			name:   "attack: an owned Pod relabelled out of the sandbox escapes its deny",
			change: label(toolbox, "sandbox", ""),
			mode:   ModeEnforce, allowed: false, wantOpened: "opens tools/toolbox-6f9c7d5b8-k2x4p[Pod] => data/db[StatefulSet] : TCP/5432",
		},
		{
			name:   "warn mode admits the owned Pod's relabel and says so",
			change: label(db0, "metrics", "scrape"),
			mode:   ModeWarn, allowed: true, wantOpened: "opens lab/scratch[Deployment] => data/db-0[Pod] : TCP/9187",
		},
		{
			name: "attack: relabelled and orphaned in one update",
			change: Change{Operation: Update, Object: func() *unstructured.Unstructured {
				o := orphaned.DeepCopy()
				o.SetLabels(map[string]string{"app": "toolbox"})
				return o
			}(), OldObject: toolbox},
			mode: ModeEnforce, allowed: false, wantOpened: "opens tools/toolbox-6f9c7d5b8-k2x4p[Pod] => data/db[StatefulSet] : TCP/5432",
		},
		{
			name:   "orphaning an owned Pod changes nothing it reaches",
			change: Change{Operation: Update, Object: orphaned, OldObject: toolbox},
			mode:   ModeEnforce, allowed: true,
		},
		{
			name:   "a label nothing selects on an owned Pod is harmless",
			change: label(db0, "tier", "primary"),
			mode:   ModeEnforce, allowed: true,
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
			check(t, d, tc.allowed, tc.wantOpened)
		})
	}
}

// TestGuardOwnedPodNotCached: a relabel of an owned Pod the informer caches
// do not hold yet (its watch event is behind the request) is judged from
// the request's old object.
func TestGuardOwnedPodNotCached(t *testing.T) {
	objs, model := fixture(t)
	db0, _ := statefulPods(t, objs, "5b0e1c2a-0000-4000-8000-00000000d0b0", "5b0e1c2a-0000-4000-8000-0000000070b0")
	nu := db0.DeepCopy()
	l := nu.GetLabels()
	l["metrics"] = "scrape"
	nu.SetLabels(l)
	d, err := Guard{Mode: ModeEnforce, Platform: model}.Decide(t.Context(), objs, Change{Operation: Update, Object: nu, OldObject: db0})
	if err != nil {
		t.Fatal(err)
	}
	check(t, d, false, "opens lab/scratch[Deployment] => data/db-0[Pod] : TCP/9187")
}

// check compares a decision with the expected answer; want is a substring
// of the message or warnings, "" for a harmless change.
func check(t *testing.T, d Decision, allowed bool, want string) {
	t.Helper()
	if d.Allowed != allowed {
		t.Errorf("allowed %v, want %v; message %q warnings %q", d.Allowed, allowed, d.Message, d.Warnings)
	}
	said := d.Message + strings.Join(d.Warnings, "\n")
	if want == "" && said != "" {
		t.Errorf("a harmless change got %q", said)
	}
	if !strings.Contains(said, want) {
		t.Errorf("answer %q does not say %q", said, want)
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

// apiServerToDB is a CiliumNetworkPolicy that lets the API server reach db on
// 5432: Cilium enforces it, while the engine, which is not given the
// addresses behind the kube-apiserver entity (Cilium reads them from the
// default/kubernetes endpoints), lists it as a part it cannot judge. (A
// fromNodes selector was the example here until the engine judged node
// selectors in clusters without host-network pods.)
const apiServerToDB = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: db-from-apiserver, namespace: data}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
    - fromEntities: [kube-apiserver]
      toPorts: [{ports: [{port: "5432", protocol: TCP}]}]`

// TestGuardNotJudged: a change that adds a policy part the engine does not
// judge is not called harmless: Decide says it cannot judge it, naming the
// field. An unjudged part already there does not taint later changes.
func TestGuardNotJudged(t *testing.T) {
	objs, model := fixture(t)
	g := Guard{Mode: ModeEnforce, Platform: model}
	cnp := obj(t, apiServerToDB)
	_, err := g.Decide(t.Context(), objs, Change{Operation: Create, Object: cnp})
	var nj *NotJudgedError
	if !errors.As(err, &nj) || !strings.Contains(err.Error(), "CiliumNetworkPolicy data/db-from-apiserver spec.ingress[0].fromEntities") {
		t.Fatalf("attack: a kube-apiserver allow for db: %v, want not judged naming the field", err)
	}
	d, err := g.Decide(t.Context(), append(slices.Clone(objs), cnp), Change{Operation: Create, Object: obj(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: lab}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`)})
	if err != nil || !d.Allowed {
		t.Errorf("a harmless change beside an unjudged policy: %+v, %v", d, err)
	}
}
