package manifest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestLoadWorkloadKinds(t *testing.T) {
	inv := mustLoad(t, []string{fixture("good", "workloads.yaml")}, Options{})
	cases := []struct {
		name      string
		kind      string
		ns        string
		line      int
		replicas  int32 // -1: nil
		labels    map[string]string
		hostNet   bool
		ports     []corev1.ContainerPort
		specPath  string
		nInit     int
		saAccount string
	}{
		{name: "pod", kind: "Pod", ns: "shop", line: 2, replicas: 1, labels: map[string]string{"app": "web"}, specPath: "spec", saAccount: "web",
			ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: "TCP"}, {Name: "dns", ContainerPort: 53, Protocol: "UDP"}}},
		{name: "deployment", kind: "Deployment", ns: "shop", line: 32, replicas: 3, labels: map[string]string{"app": "api"}, specPath: "spec.template.spec", nInit: 2, saAccount: "default",
			ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: 9000, Protocol: "TCP"}}},
		{name: "statefulset defaults replicas to 1", kind: "StatefulSet", ns: "shop", line: 77, replicas: 1, labels: map[string]string{"app": "db"}, specPath: "spec.template.spec", saAccount: "default",
			ports: []corev1.ContainerPort{{ContainerPort: 5432, Protocol: "TCP"}}},
		{name: "daemonset on the host network", kind: "DaemonSet", ns: "kube-system", line: 98, replicas: -1, labels: map[string]string{"app": "agent"}, hostNet: true, specPath: "spec.template.spec", saAccount: "default"},
		{name: "replicaset", kind: "ReplicaSet", ns: "shop", line: 117, replicas: 2, labels: map[string]string{"app": "web"}, specPath: "spec.template.spec", saAccount: "default"},
		{name: "job uses parallelism", kind: "Job", ns: "shop", line: 136, replicas: 4, labels: map[string]string{"job": "seed"}, specPath: "spec.template.spec", saAccount: "default"},
		{name: "cronjob", kind: "CronJob", ns: "shop", line: 153, replicas: 1, labels: map[string]string{"job": "backup"}, specPath: "spec.jobTemplate.spec.template.spec", saAccount: "default"},
		{name: "replicationcontroller", kind: "ReplicationController", ns: "shop", line: 172, replicas: 2, labels: map[string]string{"app": "legacy"}, specPath: "spec.template.spec", saAccount: "default"},
	}
	if len(inv.Workloads) != len(cases) {
		t.Fatalf("got %d workloads, want %d", len(inv.Workloads), len(cases))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := inv.Workloads[i]
			if w.Kind != c.kind || w.Namespace != c.ns {
				t.Fatalf("workload %d is %s, want %s in %s", i, w.Ref(), c.kind, c.ns)
			}
			if w.Object.Source.File != fixture("good", "workloads.yaml") || w.Object.Source.Line != c.line {
				t.Errorf("source %s, want line %d", w.Object.Source, c.line)
			}
			if (w.Replicas == nil) != (c.replicas == -1) || (w.Replicas != nil && *w.Replicas != c.replicas) {
				t.Errorf("replicas %v, want %d", w.Replicas, c.replicas)
			}
			for k, v := range c.labels {
				if w.Labels[k] != v {
					t.Errorf("label %s=%q, want %q", k, w.Labels[k], v)
				}
			}
			if w.HostNetwork != c.hostNet || w.PodSpecPath != c.specPath || len(w.InitContainers) != c.nInit || w.ServiceAccount != c.saAccount {
				t.Errorf("hostNetwork=%v specPath=%q init=%d sa=%q", w.HostNetwork, w.PodSpecPath, len(w.InitContainers), w.ServiceAccount)
			}
			if c.ports != nil && !slices.Equal(w.Containers[0].Ports, c.ports) {
				t.Errorf("ports %+v, want %+v", w.Containers[0].Ports, c.ports)
			}
		})
	}
	pod := inv.Workloads[0]
	if pod.Owner == nil || pod.Owner.Kind != "ReplicaSet" || pod.Owner.Name != "web-7d4b9" {
		t.Errorf("pod owner %+v", pod.Owner)
	}
	if !slices.Equal(pod.PodIPs, []string{"10.0.0.7", "fd00::7"}) {
		t.Errorf("pod IPs %v", pod.PodIPs)
	}
	dep := inv.Workloads[1]
	var ports []int32
	for _, p := range dep.Ports() {
		ports = append(ports, p.ContainerPort)
	}
	if !slices.Equal(ports, []int32{15001, 9000}) {
		t.Errorf("ports of a pod count native sidecars but not init containers: %v", ports)
	}
	if c := dep.Containers[0]; len(c.Env) != 2 || c.Env[1].ValueFrom.SecretKeyRef.Name != "db" || c.EnvFrom[0].ConfigMapRef.Name != "api-config" {
		t.Errorf("env not kept: %+v %+v", c.Env, c.EnvFrom)
	}
	if got := dep.Object.LineOf(dep.Containers[0].Path + ".env[1]"); got != 68 {
		t.Errorf("line of env[1] = %d, want 68", got)
	}
}

func TestLoadServicesPoliciesNamespaces(t *testing.T) {
	inv := mustLoad(t, []string{fixture("good", "workloads.yaml"), fixture("good", "service.json")}, Options{})
	if len(inv.Services) != 2 {
		t.Fatalf("got %d services", len(inv.Services))
	}
	svc := inv.Services[0]
	if svc.Type != corev1.ServiceTypeClusterIP || svc.Ports[0].TargetPort.StrVal != "grpc" ||
		svc.Ports[1].TargetPort.IntVal != 9090 || svc.Ports[1].Protocol != corev1.ProtocolTCP {
		t.Errorf("service defaults not applied: %+v", svc.Ports)
	}
	js := inv.Services[1]
	if js.Object.Source.Line != 1 || js.Type != corev1.ServiceTypeLoadBalancer || !slices.Equal(js.LoadBalancerSourceRanges, []string{"203.0.113.0/24"}) {
		t.Errorf("json service: %s %s %v", js.Object.Source, js.Type, js.LoadBalancerSourceRanges)
	}
	if got := js.Object.LineOf("spec.ports[0].targetPort"); got != 12 {
		t.Errorf("json field line %d, want 12", got)
	}
	if len(inv.NetworkPolicies) != 1 || inv.NetworkPolicies[0].Policy.Namespace != "shop" {
		t.Errorf("policies %+v", inv.NetworkPolicies)
	}
	cases := []struct {
		name     string
		ns       string
		implicit bool
		labels   map[string]string
	}{
		{name: "referenced only", ns: "kube-system", implicit: true, labels: map[string]string{NamespaceNameLabel: "kube-system"}},
		{name: "declared, automatic label overrides a wrong value", ns: "shop", labels: map[string]string{NamespaceNameLabel: "shop", "team": "shop"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := inv.Namespace(c.ns)
			if ns == nil {
				t.Fatalf("namespace %s missing", c.ns)
			}
			if ns.Implicit != c.implicit || (ns.Object == nil) != c.implicit {
				t.Errorf("implicit=%v object=%v", ns.Implicit, ns.Object)
			}
			for k, v := range c.labels {
				if ns.Labels[k] != v {
					t.Errorf("label %s=%q, want %q", k, ns.Labels[k], v)
				}
			}
			if len(ns.Inferred) != 1 || ns.Inferred[0].Field != "metadata.labels["+NamespaceNameLabel+"]" {
				t.Errorf("inferred %v", ns.Inferred)
			}
		})
	}
}

func TestLoadInputs(t *testing.T) {
	stdin := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-stdin\n"
	cases := []struct {
		name  string
		paths []string
		opts  Options
		// want lists kind/namespace/name@file:line[#item] of every object in order
		want []string
	}{
		{name: "list kinds expand with item provenance", paths: []string{fixture("good", "list.yaml")}, want: []string{
			"Service/default/one@" + fixture("good", "list.yaml") + ":4#0",
			"ConfigMap/other/two@" + fixture("good", "list.yaml") + ":11#1",
			"Pod/shop/p1@" + fixture("good", "list.yaml") + ":23#0",
		}},
		{name: "multi-document with empty documents, cluster-scoped and custom kinds", paths: []string{fixture("good", "multi.yaml")}, want: []string{
			"ConfigMap/default/first@" + fixture("good", "multi.yaml") + ":4",
			"ClusterRole//reader@" + fixture("good", "multi.yaml") + ":10",
			"Widget/default/gadget@" + fixture("good", "multi.yaml") + ":17",
		}},
		{name: "directory recursion in sorted order, hidden, non-manifest and Terraform (*.tf.json) files skipped", paths: []string{fixture("good", "dir")}, want: []string{
			"ConfigMap/default/top@" + fixture("good", "dir", "0-top.yaml") + ":1",
			"ConfigMap/default/a-one@" + fixture("good", "dir", "a", "one.yaml") + ":1",
			"ConfigMap/default/b-two@" + fixture("good", "dir", "b", "two.yml") + ":1",
			"ConfigMap/default/c-three@" + fixture("good", "dir", "c", "three.json") + ":1",
		}},
		{name: "stdin", paths: []string{"-"}, opts: Options{Stdin: strings.NewReader(stdin)}, want: []string{
			"ConfigMap/default/from-stdin@<stdin>:1",
		}},
		{name: "namespace option replaces default", paths: []string{"-", fixture("good", "dir", "0-top.yaml")}, opts: Options{Stdin: strings.NewReader(stdin), DefaultNamespace: "bud"}, want: []string{
			"ConfigMap/bud/from-stdin@<stdin>:1",
			"ConfigMap/bud/top@" + fixture("good", "dir", "0-top.yaml") + ":1",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv := mustLoad(t, c.paths, c.opts)
			var got []string
			for _, o := range inv.Objects {
				s := o.Kind + "/" + o.Namespace + "/" + o.Name + "@" + o.Source.String()
				if o.Source.Item >= 0 {
					s += "#" + string(rune('0'+o.Source.Item))
				}
				got = append(got, s)
				if o.Unstructured.GetNamespace() != o.Namespace {
					t.Errorf("%s: unstructured namespace %q", s, o.Unstructured.GetNamespace())
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("objects:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestNamespaceDefaultedFlag(t *testing.T) {
	inv := mustLoad(t, []string{fixture("good", "list.yaml")}, Options{})
	if o := findObject(inv, "Service", "one"); o == nil || !o.NamespaceDefaulted {
		t.Errorf("Service one should be marked defaulted: %+v", o)
	}
	if o := findObject(inv, "ConfigMap", "two"); o == nil || o.NamespaceDefaulted {
		t.Errorf("ConfigMap two names its namespace: %+v", o)
	}
	if o := findObject(inv, "Pod", "p1"); o == nil || o.APIVersion != "v1" || o.Unstructured.GetKind() != "Pod" {
		t.Errorf("PodList item should inherit apiVersion and kind: %+v", o)
	}
}

func TestDuplicates(t *testing.T) {
	log, buf := bufferLogger()
	inv := mustLoad(t, []string{fixture("good", "dup.yaml")}, Options{Logger: log})
	if len(inv.Warnings) != 1 {
		t.Fatalf("warnings: %v", inv.Warnings)
	}
	w := inv.Warnings[0]
	file := fixture("good", "dup.yaml")
	if w.Source.String() != file+":9" || w.Other == nil || w.Other.String() != file+":1" {
		t.Errorf("warning does not name both sources: %s", w)
	}
	if !strings.Contains(buf.String(), "duplicate ConfigMap bud/settings") || !strings.Contains(buf.String(), file+":1") {
		t.Errorf("log: %s", buf.String())
	}
	var versions []string
	for _, o := range inv.ObjectsOfKind("ConfigMap") {
		versions = append(versions, o.APIVersion)
		if o.APIVersion == "v1" {
			data, _ := o.Unstructured.Object["data"].(map[string]any)
			if data["version"] != "2" {
				t.Errorf("the later definition should win, got %v", data)
			}
		}
	}
	if !slices.Equal(versions, []string{"v1", "example.com/v1"}) {
		t.Errorf("a ConfigMap of another group is another object: %v", versions)
	}
}

func TestLoadBad(t *testing.T) {
	type want struct {
		file, field, msg string
		line             int
	}
	bad := func(name string) string { return fixture("bad", name) }
	dir := t.TempDir()
	nul := filepath.Join(dir, "nul.yaml")
	if err := os.WriteFile(nul, []byte("apiVersion: v1\nkind: Conf\x00igMap\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(dir, "deep.yaml")
	deepDoc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  k: " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n"
	if err := os.WriteFile(deep, []byte(deepDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse 50 MB file: the loader must refuse it from its size, without reading it.
	if err := f.Truncate(50 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cases := []struct {
		name  string
		paths []string
		opts  Options
		want  []want
	}{
		{name: "invalid YAML", paths: []string{bad("invalid.yaml")}, want: []want{{file: bad("invalid.yaml"), line: 6, msg: "invalid YAML: mapping values are not allowed"}}},
		{name: "wrong type", paths: []string{bad("wrongtype.yaml")}, want: []want{{file: bad("wrongtype.yaml"), line: 6, field: "spec.replicas", msg: "expected an integer"}}},
		{name: "missing kind", paths: []string{bad("nokind.yaml")}, want: []want{{file: bad("nokind.yaml"), line: 1, field: "kind", msg: "missing kind"}}},
		{name: "unquoted annotation boolean", paths: []string{bad("unquoted-bool.yaml")}, want: []want{{file: bad("unquoted-bool.yaml"), line: 9, field: "spec.template.metadata.annotations.dapr.io/enabled", msg: `quote it: "true"`}}},
		{name: "missing name", paths: []string{bad("noname.yaml")}, want: []want{{file: bad("noname.yaml"), line: 1, field: "metadata.name", msg: "missing metadata.name"}}},
		{name: "every bad document at once", paths: []string{bad("two-bad.yaml")}, want: []want{
			{file: bad("two-bad.yaml"), line: 6, field: "apiVersion", msg: "missing apiVersion"},
			{file: bad("two-bad.yaml"), line: 16, field: "spec.ports[0].port", msg: "expected an integer"},
			{file: bad("two-bad.yaml"), line: 18, msg: "got a list"},
		}},
		{name: "bad list items", paths: []string{bad("list-item.yaml")}, want: []want{
			{file: bad("list-item.yaml"), line: 8, field: "items[1].kind", msg: "missing kind"},
			{file: bad("list-item.yaml"), line: 11, field: "items[2]", msg: "expected a Kubernetes object"},
		}},
		{name: "unknown field", paths: []string{bad("unknown-field.yaml")}, want: []want{{file: bad("unknown-field.yaml"), line: 13, field: "spec.ingress[0].form", msg: `unknown field "form"`}}},
		{name: "duplicate field", paths: []string{bad("duplicate-field.yaml")}, want: []want{{file: bad("duplicate-field.yaml"), line: 12, field: "spec.ports[0].port", msg: "duplicate field"}}},
		{name: "YAML 1.1 boolean label", paths: []string{bad("yaml11-bool.yaml")}, want: []want{{file: bad("yaml11-bool.yaml"), line: 6, field: "metadata.labels.tls", msg: `quote it: "on"`}}},
		{name: "values the API refuses", paths: []string{bad("invalid-values.yaml")}, want: []want{
			{file: bad("invalid-values.yaml"), line: 5, field: "metadata.namespace", msg: `"Bad NS"`},
			{file: bad("invalid-values.yaml"), line: 7, field: "metadata.labels", msg: `"-budapp"`},
			{file: bad("invalid-values.yaml"), line: 13, field: "spec.containers[0].ports[0].containerPort", msg: "99999"},
			{file: bad("invalid-values.yaml"), line: 15, field: "status.podIP", msg: "10.0.0.300"},
			{file: bad("invalid-values.yaml"), line: 27, field: "spec.egress[0].to[0].ipBlock.cidr", msg: "10.0.0.0/33"},
			{file: bad("invalid-values.yaml"), line: 30, field: "spec.egress[0].ports[0].protocol", msg: `"HTTPS"`},
		}},
		{name: "alias bomb", paths: []string{bad("alias-bomb.yaml")}, want: []want{{file: bad("alias-bomb.yaml"), line: 1, msg: "aliases"}}},
		{name: "deep nesting", paths: []string{deep}, want: []want{{file: deep, line: 1, msg: "nests deeper than 200 levels"}}},
		{name: "NUL byte", paths: []string{nul}, want: []want{{file: nul, line: 2, msg: "NUL byte"}}},
		{name: "oversized file", paths: []string{big}, want: []want{{file: big, msg: "50.0 MiB, larger than the 32.0 MiB limit"}}},
		{name: "oversized stdin", paths: []string{"-"}, opts: Options{Stdin: strings.NewReader(strings.Repeat("#", 2048)), MaxFileSize: 1024}, want: []want{{file: StdinName, msg: "more than 1024 bytes"}}},
		{name: "missing file", paths: []string{filepath.Join(dir, "nope.yaml")}, want: []want{{file: filepath.Join(dir, "nope.yaml"), msg: "no such file"}}},
		{name: "stdin twice", paths: []string{"-", "-"}, opts: Options{Stdin: strings.NewReader("")}, want: []want{{file: StdinName, msg: "more than once"}}},
		{name: "errors from several files", paths: []string{bad("nokind.yaml"), fixture("good", "dir"), bad("wrongtype.yaml")}, want: []want{
			{file: bad("nokind.yaml"), line: 1, field: "kind", msg: "missing kind"},
			{file: bad("wrongtype.yaml"), line: 6, field: "spec.replicas", msg: "expected an integer"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv, err := Load(context.Background(), c.paths, c.opts)
			if err == nil {
				t.Fatalf("no error; inventory has %d objects", len(inv.Objects))
			}
			got := inputErrors(t, err)
			if len(got) != len(c.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(c.want), err)
			}
			for i, w := range c.want {
				g := got[i]
				if g.File != w.file || g.Line != w.line || g.Field != w.field || !strings.Contains(g.Error(), w.msg) {
					t.Errorf("error %d = {file %q line %d field %q} %q\nwant {file %q line %d field %q} containing %q",
						i, g.File, g.Line, g.Field, g.Error(), w.file, w.line, w.field, w.msg)
				}
			}
		})
	}
}

func TestLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Load(ctx, []string{fixture("good", "dir")}, Options{})
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("want a cancellation error, got %v", err)
	}
}

func TestLoadNoInput(t *testing.T) {
	_, err := Load(context.Background(), nil, Options{})
	if len(inputErrors(t, err)) != 1 {
		t.Fatalf("want one input error, got %v", err)
	}
}

func TestIsClusterScoped(t *testing.T) {
	cases := []struct {
		name, apiVersion, kind string
		want                   bool
	}{
		{name: "namespace", apiVersion: "v1", kind: "Namespace", want: true},
		{name: "cluster role", apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", want: true},
		{name: "cluster issuer", apiVersion: "cert-manager.io/v1", kind: "ClusterIssuer", want: true},
		{name: "gateway class", apiVersion: "gateway.networking.k8s.io/v1", kind: "GatewayClass", want: true},
		{name: "issuer is namespaced", apiVersion: "cert-manager.io/v1", kind: "Issuer", want: false},
		{name: "unknown CRD is namespaced", apiVersion: "example.com/v1", kind: "Widget", want: false},
		{name: "same kind in another group", apiVersion: "example.com/v1", kind: "Namespace", want: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := IsClusterScoped(c.apiVersion, c.kind); got != c.want {
				t.Errorf("IsClusterScoped(%s, %s) = %v", c.apiVersion, c.kind, got)
			}
		})
	}
}
