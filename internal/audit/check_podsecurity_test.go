package audit

import (
	"strings"
	"testing"
)

// TestPodSecurityAttacks tries to get past BUD-3.1-05 with each host
// access on its own, in init containers and CronJobs, a weaker or invalid
// enforce label, and namespaces outside the model.
func TestPodSecurityAttacks(t *testing.T) {
	ns := func(name string, labels ...string) string {
		return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + name + ", labels: {" + strings.Join(labels, ", ") + "}}\n---\n"
	}
	pod := func(namespace, spec string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ` + namespace + `}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
` + spec
	}
	plain := "      containers: [{name: c, image: budstudio/x:1}]\n"
	restricted := "      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n      containers: [{name: c, image: budstudio/x:1, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]\n"
	baselineNS := ns("bud-data", "pod-security.kubernetes.io/enforce: baseline")
	tests := []struct {
		name, yaml, sub string
		want            Status
		msg             string
	}{
		{name: "hostPort alone", yaml: baselineNS + pod("bud-data", "      containers: [{name: c, image: x, ports: [{containerPort: 80, hostPort: 8080}]}]\n"), sub: "web", want: StatusFail, msg: "hostPort"},
		{name: "hostPID alone", yaml: baselineNS + pod("bud-data", "      hostPID: true\n"+plain), sub: "web", want: StatusFail, msg: "host namespaces"},
		{name: "hostIPC alone", yaml: baselineNS + pod("bud-data", "      hostIPC: true\n"+plain), sub: "web", want: StatusFail},
		{name: "privileged init container", yaml: baselineNS + pod("bud-data", "      initContainers: [{name: i, image: x, securityContext: {privileged: true}}]\n"+plain), sub: "web", want: StatusFail, msg: "privileged"},
		{name: "NET_ADMIN capability", yaml: baselineNS + pod("bud-data", "      containers: [{name: c, image: x, securityContext: {capabilities: {add: [NET_ADMIN]}}}]\n"), sub: "web", want: StatusFail},
		{name: "CronJob on the host network", yaml: baselineNS + `apiVersion: batch/v1
kind: CronJob
metadata: {name: web, namespace: bud-data}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          hostNetwork: true
          restartPolicy: OnFailure
          containers: [{name: c, image: x}]`, sub: "web", want: StatusFail},
		{name: "restricted zone: root pod", yaml: ns("bud-system", "pod-security.kubernetes.io/enforce: restricted") + pod("bud-system", plain), sub: "web", want: StatusFail, msg: "restricted"},
		{name: "restricted zone: compliant pod", yaml: ns("bud-system", "pod-security.kubernetes.io/enforce: restricted") + pod("bud-system", restricted), sub: "web", want: StatusPass},
		{name: "restricted zone judged at the zone's level, not the weaker label", yaml: ns("bud-system", "pod-security.kubernetes.io/enforce: privileged") + pod("bud-system", plain), sub: "web", want: StatusFail, msg: "zone bud-system"},
		{name: "weaker label is its own finding", yaml: ns("bud-system", "pod-security.kubernetes.io/enforce: baseline") + pod("bud-system", restricted), sub: "enforcement", want: StatusFail, msg: "below"},
		{name: "invalid label value", yaml: ns("bud-system", "pod-security.kubernetes.io/enforce: Restricted") + pod("bud-system", restricted), sub: "enforcement", want: StatusFail, msg: "invalid"},
		{name: "no Namespace object: enforcement not judged", yaml: pod("bud-system", restricted), sub: "enforcement", want: StatusNotApplicable},
		{name: "namespace outside the model defaults to baseline", yaml: ns("bud") + pod("bud", "      hostNetwork: true\n"+plain), sub: "web", want: StatusFail, msg: "baseline"},
		{name: "namespace outside the model that chose privileged", yaml: ns("gpu", "pod-security.kubernetes.io/enforce: privileged") + pod("gpu", "      hostNetwork: true\n"+plain), sub: "web", want: StatusNotApplicable},
		{name: "kube-system is the distribution's", yaml: pod("kube-system", "      hostNetwork: true\n"+plain), sub: "web", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, checkPodSecurity(), tt.yaml)
			st, msg := statusOf(rs, tt.sub)
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
		})
	}
}
