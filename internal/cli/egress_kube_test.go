package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/budnet/budnet/internal/kubetest"
)

// TestEgressServeKube runs `budnet egress serve --kube` against a real
// kube-apiserver, as a user holding exactly the ClusterRole that
// deploy/egress/rbac.yaml grants the gateway. A pod whose status IP is
// 127.0.0.1 makes this test's loopback connections come from budgateway:
// the gateway must identify it through the informer (a refusal for the
// host, not for an unknown caller), and forget it when the pod is deleted.
func TestEgressServeKube(t *testing.T) {
	env := kubetest.ForTest(t, kubetest.Options{Projects: []string{}})
	ctx := t.Context()

	rules := deployedRules(t, filepath.Join("..", "..", "deploy", "egress", "rbac.yaml"))
	cfg, err := env.UserConfig(ctx, "budnet-egress", rules)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := kubetest.Kubeconfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kcFile := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kcFile, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}

	cs := env.Clientset
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bud-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "bud-system", Name: "budgateway-0",
			Labels: map[string]string{"app.kubernetes.io/name": "budgateway", "app.kubernetes.io/part-of": "bud"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "budgateway", Image: "budstudio/budgateway:0.4.2"}}},
	}
	pod, err = cs.CoreV1().Pods("bud-system").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// No kubelet runs: report the pod running at the loopback address.
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}}}
	if _, err := cs.CoreV1().Pods("bud-system").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	proxy, admin := freeAddr(t), freeAddr(t)
	runCtx, cancel := context.WithCancel(ctx)
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runEgress(runCtx, []string{"serve", "--kube", "--kubeconfig", kcFile, "--listen", proxy,
			"--admin-listen", admin, "--shutdown-timeout", "1s", "--dns-cache-ttl", "0"}, out, errOut)
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v; log: %s", err, errOut.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !ready(admin) {
		if time.Now().After(deadline) {
			t.Fatalf("never ready (the pod informer must sync first); log: %s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// example.org is on no allowlist: the reason says whether the caller was known.
	refusal := func() string {
		c, err := net.Dial("tcp", proxy)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Budnet-Egress-Reason")
	}
	if got := refusal(); got != "host_not_allowed" {
		t.Fatalf("caller at the pod's IP refused for %q, want host_not_allowed (identified as budgateway); log: %s", got, errOut.String())
	}
	for !strings.Contains(out.String(), "example.org") { // the line follows the answer
		if time.Now().After(deadline) {
			t.Fatal("no audit line")
		}
		time.Sleep(5 * time.Millisecond)
	}
	line := lastAuditLine(t, out.String())
	if line["source"] != "budgateway" || line["source_id_by"] != "pod" || line["source_id"] != "bud-system/budgateway-0" {
		t.Fatalf("audit line %v, want budgateway identified by pod bud-system/budgateway-0", line)
	}

	if strings.Contains(errOut.String(), "pod list or watch failed") {
		t.Fatalf("the deployed RBAC does not let the pod informer list and watch: %s", errOut.String())
	}

	if err := cs.CoreV1().Pods("bud-system").Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	for got := refusal(); got != "unidentified_source"; got = refusal() {
		if time.Now().After(deadline) {
			t.Fatalf("after the pod's deletion the caller is still refused for %q, want unidentified_source", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deployedRules reads the ClusterRole's rules from a deploy/ manifest.
func deployedRules(t *testing.T, path string) []rbacv1.PolicyRule {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubetest.ParseObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" {
			continue
		}
		var role rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role); err != nil {
			t.Fatal(err)
		}
		return role.Rules
	}
	t.Fatalf("%s has no ClusterRole", path)
	return nil
}

func ready(admin string) bool {
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func lastAuditLine(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("audit line %q: %v", lines[len(lines)-1], err)
	}
	return m
}
