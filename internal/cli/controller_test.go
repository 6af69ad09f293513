package cli

import (
	"strings"
	"testing"
)

// TestControllerFlags: bad flag combinations are usage errors (exit 2)
// naming the flag, before any cluster is contacted.
func TestControllerFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "file and configmap", args: []string{"--platform", "p.yaml", "--platform-configmap", "ns/cm"}, want: "mutually exclusive"},
		{name: "configmap without namespace", args: []string{"--platform-configmap", "cm"}, want: "want NAMESPACE/NAME"},
		{name: "configmap with extra slash", args: []string{"--platform-configmap", "ns/cm/x"}, want: "want NAMESPACE/NAME"},
		{name: "empty metrics address", args: []string{"--metrics-addr", ""}, want: "--metrics-addr"},
		{name: "metrics address without port", args: []string{"--metrics-addr", "localhost"}, want: "--metrics-addr"},
		{name: "negative debounce", args: []string{"--debounce", "-1s"}, want: "must not be negative"},
		{name: "webhook without certificates", args: []string{"--webhook-addr", ":9443"}, want: "--tls-cert-dir"},
		{name: "webhook mode typo", args: []string{"--webhook-addr", ":9443", "--tls-cert-dir", "/tmp", "--webhook-mode", "enforcing"}, want: "--webhook-mode"},
		{name: "on-timeout typo", args: []string{"--webhook-addr", ":9443", "--tls-cert-dir", "/tmp", "--on-timeout", "allow"}, want: "--on-timeout"},
		{name: "evaluator typo", args: []string{"--evaluator", "incrementall"}, want: "--evaluator"},
		{name: "webhook timeout too long", args: []string{"--webhook-addr", ":9443", "--tls-cert-dir", "/tmp", "--webhook-timeout", "30s"}, want: "--webhook-timeout"},
		{name: "leader election without namespace", args: []string{"--leader-elect"}, want: "--leader-election-namespace"},
		{name: "bad log level", args: []string{"--log-level", "loud", "--kubeconfig", "/nonexistent"}, want: "--log-level"},
		{name: "missing kubeconfig", args: []string{"--kubeconfig", "/nonexistent/kubeconfig"}, want: "kubeconfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBERNETES_SERVICE_HOST", "")
			t.Setenv("POD_NAMESPACE", "")
			code, _, stderr := run(t, "", append([]string{"controller"}, tc.args...)...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr %s", code, ExitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not say %q", stderr, tc.want)
			}
		})
	}
}
