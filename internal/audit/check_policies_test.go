package audit

import (
	"strings"
	"testing"
)

const budappDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: budapp, namespace: bud-system}
spec:
  selector: {matchLabels: {app: budapp}}
  template:
    metadata:
      labels: {app: budapp}
      annotations: {dapr.io/enabled: "true", dapr.io/app-id: budapp}
    spec:
      containers: [{name: budapp, image: budstudio/budapp:nightly, ports: [{containerPort: 9081}]}]
`

func policy(body string) string {
	return "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n" + body + "\n"
}

// statusOf returns the worst status of the results whose subject contains sub.
func statusOf(rs []Result, sub string) (Status, string) {
	st, msg := Status(""), ""
	for _, r := range rs {
		if !strings.Contains(r.Subject, sub) {
			continue
		}
		if st == "" || (r.Status.Failing() && !st.Failing()) || r.Status == StatusFail {
			st, msg = r.Status, r.Message
		}
	}
	return st, msg
}

// TestPolicyAttacks tries to get past the 3.2 checks with policies that
// look right to a reader or a scanner that only asks whether a policy exists.
func TestPolicyAttacks(t *testing.T) {
	dnsAllow := policy(`metadata: {name: allow-dns, namespace: bud-system}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
      ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]`)
	tests := []struct {
		name    string
		check   Check
		yaml    string
		subject string
		want    Status
		msg     string
	}{
		{name: "allow-all selecting every pod is not a default deny", check: checkDefaultDeny(),
			yaml: budappDeployment + policy(`metadata: {name: allow-all, namespace: bud-system}
spec: {podSelector: {}, policyTypes: [Ingress, Egress], ingress: [{}], egress: [{}]}`),
			subject: "bud-system", want: StatusFail, msg: "not a default deny"},
		{name: "ingress-only default deny leaves egress open", check: checkDefaultDeny(),
			yaml: budappDeployment + policy(`metadata: {name: deny-ingress, namespace: bud-system}
spec: {podSelector: {}, policyTypes: [Ingress]}`),
			subject: "bud-system", want: StatusFail, msg: "egress"},
		{name: "deny with ingress from every namespace is open", check: checkDefaultDeny(),
			yaml: budappDeployment + policy(`metadata: {name: deny, namespace: bud-system}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{namespaceSelector: {}}]}]`),
			subject: "bud-system", want: StatusFail, msg: "ingress from any namespace"},
		{name: "a DoesNotExist selector selects every pod, so it is a default deny", check: checkDefaultDeny(),
			yaml: budappDeployment + policy(`metadata: {name: deny, namespace: bud-system}
spec:
  podSelector: {matchExpressions: [{key: budnet.io/never-set, operator: DoesNotExist}]}
  policyTypes: [Ingress, Egress]`),
			subject: "bud-system", want: StatusPass},
		{name: "a policy per pod is not a default deny for new pods", check: checkDefaultDeny(),
			yaml: budappDeployment + policy(`metadata: {name: budapp, namespace: bud-system}
spec: {podSelector: {matchLabels: {app: budapp}}, policyTypes: [Ingress, Egress]}`),
			subject: "bud-system", want: StatusFail, msg: "no policy in bud-system selects every pod"},
		{name: "the guide's dapr.io/enabled label selects nothing", check: checkPoliciesSelectPods(),
			yaml: budappDeployment + policy(`metadata: {name: dapr, namespace: bud-system}
spec: {podSelector: {matchLabels: {dapr.io/enabled: "true"}}, policyTypes: [Ingress]}`),
			subject: "dapr", want: StatusFail, msg: "annotation, not a label"},
		{name: "the injector's label selects the Dapr pod", check: checkPoliciesSelectPods(),
			yaml: budappDeployment + policy(`metadata: {name: dapr, namespace: bud-system}
spec: {podSelector: {matchLabels: {dapr.io/app-id: budapp}}, policyTypes: [Ingress]}`),
			subject: "dapr", want: StatusPass},
		{name: "namespace label name is not set by the API server", check: checkNamespaceSelectors(),
			yaml: budappDeployment + policy(`metadata: {name: from-infra, namespace: bud-system}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {name: bud-system}}}]}]`),
			subject: "from-infra", want: StatusFail, msg: "kubernetes.io/metadata.name"},
		{name: "DNS over UDP only breaks large answers", check: checkDNSReachable(),
			yaml: budappDeployment + policy(`metadata: {name: deny, namespace: bud-system}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{protocol: UDP, port: 53}]}]`),
			subject: "budapp", want: StatusFail, msg: "TCP/53"},
		{name: "DNS allowed to kube-dns both ways", check: checkDNSReachable(),
			yaml:    budappDeployment + dnsAllow,
			subject: "budapp", want: StatusPass},
		{name: "sidecar port 3500 opened instead of 50002", check: checkDaprPorts(),
			yaml: budappDeployment + "---\n" + strings.ReplaceAll(budappDeployment, "budapp", "budsim") + policy(`metadata: {name: deny, namespace: bud-system}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{ports: [{port: 3500}, {port: 50001}]}]`),
			subject: "budapp", want: StatusFail, msg: "dapr-internal (TCP/50002)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, tt.check, tt.yaml)
			st, msg := statusOf(rs, tt.subject)
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
		})
	}
}
