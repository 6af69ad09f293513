package manifest

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestDaprInference(t *testing.T) {
	log, buf := bufferLogger()
	inv := mustLoad(t, []string{fixture("good", "dapr.yaml")}, Options{Logger: log})
	port := func(name string, p int32) corev1.ContainerPort {
		return corev1.ContainerPort{Name: name, ContainerPort: p, Protocol: corev1.ProtocolTCP}
	}
	defaults := []corev1.ContainerPort{port("dapr-http", 3500), port("dapr-grpc", 50001), port("dapr-internal", 50002), port("dapr-metrics", 9090)}
	cases := []struct {
		name     string
		kind     string
		workload string
		injected bool
		appID    string
		metrics  string
		ports    []corev1.ContainerPort
	}{
		{name: "defaults", kind: "Deployment", workload: "budapp", injected: true, appID: "budapp", metrics: "true", ports: defaults},
		{name: "annotations override ports; http-port is not an injector annotation; metrics port stays declared when disabled",
			kind: "Deployment", workload: "tuned", injected: true, appID: "tuned", metrics: "false",
			ports: []corev1.ContainerPort{port("dapr-http", 3500), port("dapr-grpc", 51001), port("dapr-internal", 51002), port("dapr-metrics", 9999), port("dapr-debug", 40000)}},
		{name: "bare pod falls back to its name", kind: "Pod", workload: "bare", injected: true, appID: "bare", metrics: "true", ports: defaults},
		{name: "controller pod without app id is refused by the injector", kind: "Deployment", workload: "noappid"},
		{name: "only the value true enables injection", kind: "Deployment", workload: "disabled"},
		{name: "a pod that already has daprd is left alone", kind: "Pod", workload: "already-injected"},
		{name: "native sidecar", kind: "Deployment", workload: "native", injected: true, appID: "native", metrics: "true", ports: defaults},
		{name: "a malformed port annotation keeps the default", kind: "Deployment", workload: "badport", injected: true, appID: "badport", metrics: "true", ports: defaults},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := inv.Workload(c.kind, "bud", c.workload)
			if w == nil {
				t.Fatalf("workload %s missing", c.workload)
			}
			if (w.Dapr != nil) != c.injected {
				t.Fatalf("injected = %v, want %v", w.Dapr != nil, c.injected)
			}
			var daprd *Container
			all := append(append([]Container(nil), w.Containers...), w.InitContainers...)
			for i := range all {
				if all[i].Inferred {
					daprd = &all[i]
				}
			}
			if !c.injected {
				if daprd != nil || w.Labels[DaprInjectedLabel] != "" || len(w.Inferred) != 0 {
					t.Errorf("nothing should be inferred: %v", w.Inferred)
				}
				return
			}
			if daprd == nil || daprd.Name != DaprContainerName || !slices.Equal(daprd.Ports, c.ports) {
				t.Fatalf("daprd container %+v, want ports %+v", daprd, c.ports)
			}
			if w.Labels[DaprInjectedLabel] != "true" || w.Labels[DaprAppIDLabel] != c.appID || w.Labels[DaprMetricsEnabledLabel] != c.metrics {
				t.Errorf("labels %v", w.Labels)
			}
			if w.Dapr.AppID != c.appID {
				t.Errorf("app id %q", w.Dapr.AppID)
			}
			if len(w.Inferred) != 3+len(c.ports) {
				t.Errorf("inferred %d entries, want %d: %v", len(w.Inferred), 3+len(c.ports), w.Inferred)
			}
			for _, inf := range w.Inferred {
				if !strings.Contains(inf.Reason, "dapr/dapr pkg/injector") {
					t.Errorf("inference without upstream reason: %s", inf)
				}
			}
			for _, c := range append(w.PodSpec.Containers, w.PodSpec.InitContainers...) {
				if c.Name == DaprContainerName {
					t.Error("the typed pod spec must stay as written")
				}
			}
		})
	}
	native := inv.Workload("Deployment", "bud", "native")
	if len(native.InitContainers) != 1 || !native.InitContainers[0].Sidecar || len(native.Ports()) != 4 {
		t.Errorf("native daprd should be a restartable init container whose ports count: %+v", native.InitContainers)
	}
	if got := inv.Workload("Pod", "bud", "already-injected").Labels[DaprAppIDLabel]; got != "manual" {
		t.Errorf("labels of an already injected pod changed: %q", got)
	}
	var msgs []string
	for _, w := range inv.Warnings {
		msgs = append(msgs, w.String())
	}
	want := []string{
		"testdata/good/dapr.yaml:68: bud/noappid[Deployment]: annotated dapr.io/enabled=true without dapr.io/app-id",
		`testdata/good/dapr.yaml:119: bud/badport[Deployment]: annotation dapr.io/internal-grpc-port="fifty" is not a port number`,
	}
	if len(msgs) != len(want) {
		t.Fatalf("warnings %q", msgs)
	}
	for i := range want {
		if !strings.HasPrefix(msgs[i], want[i]) {
			t.Errorf("warning %q, want prefix %q", msgs[i], want[i])
		}
	}
	if !strings.Contains(buf.String(), "without dapr.io/app-id") {
		t.Errorf("warning not logged: %s", buf.String())
	}
}
