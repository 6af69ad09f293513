package manifest

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// liveObj builds a live object as a list returns it: apiVersion, kind,
// namespace, name, UID, labels and optional fields.
func liveObj(apiVersion, kind, ns, name string, labels map[string]any, tweaks ...func(map[string]any)) *unstructured.Unstructured {
	meta := map[string]any{"name": name, "uid": "uid-" + kind + "-" + name}
	if ns != "" {
		meta["namespace"] = ns
	}
	if labels != nil {
		meta["labels"] = labels
	}
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
	for _, t := range tweaks {
		t(o)
	}
	return &unstructured.Unstructured{Object: o}
}

// ownedBy sets a controller reference to kind/name with uid.
func ownedBy(apiVersion, kind, name, uid string) func(map[string]any) {
	return func(o map[string]any) {
		o["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{
			"apiVersion": apiVersion, "kind": kind, "name": name, "uid": uid, "controller": true}}
	}
}

func withTemplate(labels map[string]any) func(map[string]any) {
	return func(o map[string]any) {
		o["spec"] = map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": labels["app"]}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "c:1"}}},
			},
		}
	}
}

func podSpec(phase string) func(map[string]any) {
	return func(o map[string]any) {
		o["spec"] = map[string]any{"containers": []any{map[string]any{"name": "c", "image": "c:1",
			"ports": []any{map[string]any{"containerPort": int64(5432)}}}}}
		o["status"] = map[string]any{"phase": phase, "podIP": "10.0.0.7"}
	}
}

// TestLivePodsFold is the attack table of the owner resolution: a Pod is
// one of a workload's LivePods only when its controller reference names,
// by UID, kind, name and namespace, a workload of the same read; anything
// else it claims leaves it its own workload.
func TestLivePodsFold(t *testing.T) {
	dep := liveObj("apps/v1", "Deployment", "app", "web", nil, withTemplate(map[string]any{"app": "web"}))
	rs := liveObj("apps/v1", "ReplicaSet", "app", "web-7c9f", nil, withTemplate(map[string]any{"app": "web"}),
		ownedBy("apps/v1", "Deployment", "web", "uid-Deployment-web"))
	cron := liveObj("batch/v1", "CronJob", "app", "nightly", nil, func(o map[string]any) {
		o["spec"] = map[string]any{"schedule": "0 1 * * *", "jobTemplate": map[string]any{"spec": map[string]any{"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"app": "nightly"}},
			"spec":     map[string]any{"restartPolicy": "OnFailure", "containers": []any{map[string]any{"name": "c", "image": "c:1"}}}}}}}
	})
	job := liveObj("batch/v1", "Job", "app", "nightly-29001", nil, ownedBy("batch/v1", "CronJob", "nightly", "uid-CronJob-nightly"),
		func(o map[string]any) {
			o["spec"] = map[string]any{"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "nightly"}},
				"spec":     map[string]any{"restartPolicy": "Never", "containers": []any{map[string]any{"name": "c", "image": "c:1"}}}}}
		})
	cm := liveObj("v1", "ConfigMap", "app", "settings", nil)
	base := []*unstructured.Unstructured{dep, rs, cron, job, cm}

	for _, tc := range []struct {
		name string
		pod  *unstructured.Unstructured
		// owner is the workload ref the Pod must be a LivePod of; "" when
		// it must be its own workload.
		owner string
		// own is the OwnWorkload note's prefix, when one is due.
		own string
	}{
		{name: "ReplicaSet Pod is the Deployment's",
			pod:   liveObj("v1", "Pod", "app", "web-7c9f-a", map[string]any{"app": "web", "x": "relabelled"}, ownedBy("apps/v1", "ReplicaSet", "web-7c9f", "uid-ReplicaSet-web-7c9f"), podSpec("Running")),
			owner: "app/web[Deployment]"},
		{name: "Job Pod is the CronJob's",
			pod:   liveObj("v1", "Pod", "app", "nightly-29001-b", map[string]any{"app": "nightly"}, ownedBy("batch/v1", "Job", "nightly-29001", "uid-Job-nightly-29001"), podSpec("Running")),
			owner: "app/nightly[CronJob]"},
		{name: "right name, forged UID",
			pod: liveObj("v1", "Pod", "app", "web-7c9f-f", map[string]any{"app": "web"}, ownedBy("apps/v1", "ReplicaSet", "web-7c9f", "not-the-uid"), podSpec("Running")),
			own: "app/web-7c9f-f[Pod]: controller ReplicaSet/web-7c9f (uid not-the-uid)"},
		{name: "right UID, wrong kind",
			pod: liveObj("v1", "Pod", "app", "web-k", map[string]any{"app": "web"}, ownedBy("apps/v1", "StatefulSet", "web-7c9f", "uid-ReplicaSet-web-7c9f"), podSpec("Running")),
			own: "app/web-k[Pod]: controller StatefulSet/web-7c9f"},
		{name: "owner not in the read",
			pod: liveObj("v1", "Pod", "app", "ghost-0", map[string]any{"app": "ghost"}, ownedBy("apps/v1", "StatefulSet", "ghost", "uid-StatefulSet-ghost"), podSpec("Running")),
			own: "app/ghost-0[Pod]: controller StatefulSet/ghost"},
		{name: "owner in another namespace",
			pod: liveObj("v1", "Pod", "other", "web-7c9f-n", map[string]any{"app": "web"}, ownedBy("apps/v1", "ReplicaSet", "web-7c9f", "uid-ReplicaSet-web-7c9f"), podSpec("Running")),
			own: "other/web-7c9f-n[Pod]: controller ReplicaSet/web-7c9f"},
		{name: "owner runs no pods",
			pod: liveObj("v1", "Pod", "app", "cm-pod", map[string]any{"app": "web"}, ownedBy("v1", "ConfigMap", "settings", "uid-ConfigMap-settings"), podSpec("Running")),
			own: "app/cm-pod[Pod]: controller ConfigMap/settings"},
		{name: "static pod mirror owned by its Node",
			pod: liveObj("v1", "Pod", "kube-system", "etcd-node1", map[string]any{"component": "etcd"}, ownedBy("v1", "Node", "node1", "uid-Node-node1"), podSpec("Running"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := append(slices.Clone(base), tc.pod)
			inv, err := InventoryFromObjects(objs, "test", nil, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			var holder *Workload
			for _, w := range inv.Workloads {
				if slices.ContainsFunc(w.LivePods, func(p LivePod) bool { return p.Name == tc.pod.GetName() }) {
					holder = w
				}
			}
			self := inv.Workload("Pod", tc.pod.GetNamespace(), tc.pod.GetName())
			switch {
			case tc.owner != "":
				if holder == nil || holder.Ref() != tc.owner || self != nil {
					t.Fatalf("pod held by %v, own workload %v; want a LivePod of %s", holder, self != nil, tc.owner)
				}
				p := holder.LivePods[0]
				if p.Labels["app"] != tc.pod.GetLabels()["app"] || len(p.Ports) != 1 || p.Ports[0].ContainerPort != 5432 || !slices.Equal(p.IPs, []string{"10.0.0.7"}) {
					t.Errorf("live pod %+v does not carry the Pod's own labels, ports and IP", p)
				}
				if tc.pod.GetLabels()["x"] != "" && p.Labels["x"] != "relabelled" {
					t.Errorf("live pod labels %v lack the relabel", p.Labels)
				}
			default:
				// A mirror pod keeps its Node owner: reach names it as itself
				// for that owner (WorkloadName), and it is not forged.
				if holder != nil || self == nil || (self.Owner != nil && self.Owner.Kind != "Node") {
					t.Fatalf("pod held by %v, own workload %v; want its own workload without an owner", holder, self != nil)
				}
			}
			gotOwn := slices.ContainsFunc(inv.Live.OwnWorkload, func(s string) bool { return tc.own != "" && strings.HasPrefix(s, tc.own) })
			if tc.own != "" && !gotOwn {
				t.Errorf("OwnWorkload %q lacks %q", inv.Live.OwnWorkload, tc.own)
			}
			if tc.own == "" && len(inv.Live.OwnWorkload) != 0 {
				t.Errorf("OwnWorkload %q, want none", inv.Live.OwnWorkload)
			}
			if tc.own != "" && !slices.ContainsFunc(inv.Warnings, func(w Warning) bool { return strings.Contains(w.Msg, tc.own) }) {
				t.Errorf("warnings %v do not name %q", inv.Warnings, tc.own)
			}
			// The owned ReplicaSet and Job are folded into their owners.
			if inv.Workload("ReplicaSet", "app", "web-7c9f") != nil || inv.Workload("Job", "app", "nightly-29001") != nil {
				t.Error("an owned ReplicaSet or Job is a workload of its own")
			}
		})
	}
}

// TestLivePodsTemplateOnly: finished Pods run nothing; a workload left with
// no running Pod is judged by its template, and the read says so.
func TestLivePodsTemplateOnly(t *testing.T) {
	dep := liveObj("apps/v1", "Deployment", "app", "web", nil, withTemplate(map[string]any{"app": "web"}))
	rs := liveObj("apps/v1", "ReplicaSet", "app", "web-7c9f", nil, withTemplate(map[string]any{"app": "web"}),
		ownedBy("apps/v1", "Deployment", "web", "uid-Deployment-web"))
	var objs []*unstructured.Unstructured
	objs = append(objs, dep, rs)
	for i, phase := range []string{"Succeeded", "Failed"} {
		objs = append(objs, liveObj("v1", "Pod", "app", fmt.Sprintf("web-7c9f-%d", i), map[string]any{"app": "other"},
			ownedBy("apps/v1", "ReplicaSet", "web-7c9f", "uid-ReplicaSet-web-7c9f"), podSpec(phase)))
	}
	inv, err := InventoryFromObjects(objs, "test", nil, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w := inv.Workload("Deployment", "app", "web")
	if w == nil || len(w.LivePods) != 0 || len(inv.Workloads) != 1 {
		t.Fatalf("workloads %d, web %+v: finished Pods must not stand for web", len(inv.Workloads), w)
	}
	if !slices.Equal(inv.Live.TemplateOnly, []string{"app/web[Deployment]: no running Pod listed: judged by its template"}) {
		t.Errorf("TemplateOnly %q", inv.Live.TemplateOnly)
	}
}

// TestLivePodsReferenceCycle: ReplicaSets that name each other as
// controller (forged) end the walk instead of looping.
func TestLivePodsReferenceCycle(t *testing.T) {
	a := liveObj("apps/v1", "ReplicaSet", "app", "a", nil, withTemplate(map[string]any{"app": "a"}), ownedBy("apps/v1", "ReplicaSet", "b", "uid-ReplicaSet-b"))
	b := liveObj("apps/v1", "ReplicaSet", "app", "b", nil, withTemplate(map[string]any{"app": "b"}), ownedBy("apps/v1", "ReplicaSet", "a", "uid-ReplicaSet-a"))
	pod := liveObj("v1", "Pod", "app", "a-x", map[string]any{"app": "a"}, ownedBy("apps/v1", "ReplicaSet", "a", "uid-ReplicaSet-a"), podSpec("Running"))
	inv, err := InventoryFromObjects([]*unstructured.Unstructured{a, b, pod}, "test", nil, Options{AllowEmpty: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// Both ReplicaSets are each other's: folded, so the Pod's top owner is
	// not decoded and its Pods are reported as not judged.
	if !slices.ContainsFunc(inv.Warnings, func(w Warning) bool { return strings.Contains(w.Msg, "not judged") }) {
		t.Errorf("warnings %v: a Pod lost in a reference cycle must be said", inv.Warnings)
	}
}
