package manifest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// netpolWithTypo is the case: "form:" instead of "from:" reads as an
// ingress rule without peers, which allows everyone.
const netpolWithTypo = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db
  namespace: bud
spec:
  podSelector: {}
  ingress:
    - form:
        - podSelector:
            matchLabels:
              app: api
`

func TestStrictFields(t *testing.T) {
	type want struct {
		line       int
		field, msg string
	}
	tests := []struct {
		name string
		src  string
		mode Validation
		errs []want
		warn []want
	}{
		{name: "unknown field in a NetworkPolicy", src: netpolWithTypo,
			errs: []want{{line: 9, field: "spec.ingress[0].form", msg: `spec.ingress[0].form: unknown field "form"`}}},
		{name: "unknown field warned with --validate=warn", src: netpolWithTypo, mode: ValidateWarn,
			warn: []want{{line: 9, field: "spec.ingress[0].form", msg: `unknown field "spec.ingress[0].form"`}}},
		{name: "unknown field ignored with --validate=ignore", src: netpolWithTypo, mode: ValidateIgnore},
		{name: "every unknown field at once", src: "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  lables: {a: b}\nspec:\n  selectr: {a: b}\n  ports: [{port: 80, targetport: 8080}]\n",
			errs: []want{
				{line: 5, field: "metadata.lables", msg: "unknown field"},
				{line: 7, field: "spec.selectr", msg: "unknown field"},
				{line: 8, field: "spec.ports[0].targetport", msg: "unknown field"},
			}},
		{name: "unknown metadata field of a custom resource", src: "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespce: bud\nspec:\n  anything: goes\n",
			errs: []want{{line: 5, field: "metadata.namespce", msg: "unknown field"}}},
		{name: "unknown field of a Dapr Configuration, by its CRD schema", src: "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: daprsystem\nspec:\n  mtls:\n    enable: false\n",
			errs: []want{{line: 7, field: "spec.mtls.enable", msg: `unknown field "enable"`}}},
		{name: "unknown field of a Dapr Component item", src: "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: pubsub\nspec:\n  type: pubsub.kafka\n  version: v1\n  metadata:\n    - name: disableTls\n      vaule: \"true\"\n",
			errs: []want{{line: 10, field: "spec.metadata[0].vaule", msg: `unknown field "vaule"`}}},
		{name: "Dapr Component values are free-form, as its schema says", src: "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: pubsub\nspec:\n  type: pubsub.kafka\n  version: v1\n  metadata:\n    - name: brokers\n      value: [a, b]\n"},
		{name: "unknown field of a Traefik Middleware, by its CRD schema", src: "apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata:\n  name: admin-allowlist\nspec:\n  ipAllowList:\n    sourceRanges: [10.0.0.0/8]\n",
			errs: []want{{line: 7, field: "spec.ipAllowList.sourceRanges", msg: `unknown field "sourceRanges"`}}},
		{name: "unknown field of a cert-manager Certificate", src: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: pg\nspec:\n  secretName: pg-tls\n  dnsName: [pg]\n  issuerRef: {name: ca}\n",
			errs: []want{{line: 7, field: "spec.dnsName", msg: `unknown field "dnsName"`}}},
		{name: "unknown field of a Gateway API HTTPRoute", src: "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r\nspec:\n  hostname: [app.example.com]\n",
			errs: []want{{line: 6, field: "spec.hostname", msg: `unknown field "hostname"`}}},
		{name: "unknown field of a ServiceMonitor", src: "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: m\nspec:\n  selector: {}\n  endpoints: [{port: web, tlsConfig: {insecureSkipVerfy: true}}]\n",
			errs: []want{{line: 7, field: "spec.endpoints[0].tlsConfig.insecureSkipVerfy", msg: `unknown field "insecureSkipVerfy"`}}},
		{name: "a valid Traefik Middleware reads", src: "apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata:\n  name: admin-allowlist\nspec:\n  ipAllowList:\n    sourceRange: [10.0.0.0/8]\n"},
		{name: "Dapr unknown field warned and pruned", mode: ValidateWarn, src: "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: daprsystem\nspec:\n  mtls:\n    enable: false\n",
			warn: []want{{line: 7, field: "spec.mtls.enable", msg: `unknown field "spec.mtls.enable"`}}},
		{name: "kinds budnet does not type keep their fields", src: "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  whatever: 1\n"},
		{name: "duplicate field", src: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: 1\n  replicas: 3\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n    spec: {containers: [{name: app, image: x}]}\n",
			errs: []want{{line: 7, field: "spec.replicas", msg: `spec.replicas: duplicate field`}}},
		{name: "duplicate field in a custom resource", src: "apiVersion: dapr.io/v2alpha1\nkind: Configuration\nmetadata:\n  name: c\nspec:\n  mtls: {enabled: true}\n  mtls: {enabled: false}\n",
			errs: []want{{line: 7, field: "spec.mtls", msg: "duplicate field"}}},
		{name: "duplicate field warned", mode: ValidateWarn, src: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"1\"\n  a: \"2\"\n",
			warn: []want{{line: 7, field: "data.a", msg: "duplicate field"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := LoadBytes("in.yaml", []byte(tt.src), Options{Validation: tt.mode})
			if len(tt.errs) > 0 {
				if err == nil {
					t.Fatalf("no error; want %v", tt.errs)
				}
				got := inputErrors(t, err)
				if len(got) != len(tt.errs) {
					t.Fatalf("got %d errors, want %d: %v", len(got), len(tt.errs), err)
				}
				for i, w := range tt.errs {
					if g := got[i]; g.File != "in.yaml" || g.Line != w.line || g.Field != w.field || !strings.Contains(g.Error(), w.msg) {
						t.Errorf("error %d = %q (line %d field %q), want line %d field %q containing %q", i, g, g.Line, g.Field, w.line, w.field, w.msg)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(inv.Warnings) != len(tt.warn) {
				t.Fatalf("warnings = %v, want %v", inv.Warnings, tt.warn)
			}
			for i, w := range tt.warn {
				g := inv.Warnings[i]
				if g.Source.File != "in.yaml" || g.Source.Line != w.line || !strings.Contains(g.Msg, w.msg) || !strings.Contains(g.String(), w.field) {
					t.Errorf("warning %d = %q, want line %d field %q containing %q", i, g, w.line, w.field, w.msg)
				}
			}
		})
	}
}

func TestDuplicateFieldLastWins(t *testing.T) {
	src := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"1\"\n  a: \"2\"\n"
	inv, err := LoadBytes("in.yaml", []byte(src), Options{Validation: ValidateIgnore})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := inv.Objects[0].Unstructured.Object["data"].(map[string]any)
	if data["a"] != "2" {
		t.Errorf("data = %v, want the later value, as the API server's decoder keeps it", data)
	}
	if got := inv.Objects[0].LineOf("data.a"); got != 7 {
		t.Errorf("LineOf(data.a) = %d, want 7 (the value that counts)", got)
	}
}

func TestCustomResourcePruned(t *testing.T) {
	src := "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: daprsystem\nspec:\n  mtls:\n    enable: false\n    enabled: true\n"
	inv, err := LoadBytes("in.yaml", []byte(src), Options{Validation: ValidateIgnore})
	if err != nil {
		t.Fatal(err)
	}
	mtls, _ := inv.Objects[0].Unstructured.Object["spec"].(map[string]any)["mtls"].(map[string]any)
	if _, ok := mtls["enable"]; ok || mtls["enabled"] != true {
		t.Errorf("mtls = %v, want the unknown field pruned as the API server stores the object", mtls)
	}
}

func TestParseValidation(t *testing.T) {
	tests := []struct {
		in   string
		want Validation
		err  bool
	}{
		{in: "strict", want: ValidateStrict}, {in: "true", want: ValidateStrict},
		{in: "warn", want: ValidateWarn},
		{in: "ignore", want: ValidateIgnore}, {in: "false", want: ValidateIgnore},
		{in: "lenient", err: true}, {in: "", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseValidation(tt.in)
			if (err != nil) != tt.err || (!tt.err && got != tt.want) {
				t.Errorf("ParseValidation(%q) = %v, %v", tt.in, got, err)
			}
			if !tt.err && got.String() != map[Validation]string{ValidateStrict: "strict", ValidateWarn: "warn", ValidateIgnore: "ignore"}[tt.want] {
				t.Errorf("String() = %q", got)
			}
		})
	}
}

// TestYAML11Booleans: kubectl and Helm read YAML 1.1 (go-yaml v2's resolve
// table), where on/yes/y/off/no/n are booleans; the API refuses a boolean
// where a string belongs. budnet's parser is YAML 1.2, so it must say so.
func TestYAML11Booleans(t *testing.T) {
	doc := func(labels string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n" + labels + "spec:\n  containers: [{name: app, image: x}]\n"
	}
	tests := []struct {
		name, labels string
		field        string // empty: accepted
	}{
		{name: "on", labels: "    tls: on\n", field: "metadata.labels.tls"},
		{name: "yes", labels: "    tls: yes\n", field: "metadata.labels.tls"},
		{name: "y", labels: "    tls: y\n", field: "metadata.labels.tls"},
		{name: "Off", labels: "    tls: Off\n", field: "metadata.labels.tls"},
		{name: "NO", labels: "    tls: NO\n", field: "metadata.labels.tls"},
		{name: "n", labels: "    tls: n\n", field: "metadata.labels.tls"},
		{name: "key yes becomes true under YAML 1.1", labels: "    yes: x\n", field: "metadata.labels.yes"},
		{name: "quoted on is a string", labels: "    tls: \"on\"\n"},
		{name: "single-quoted y is a string", labels: "    tls: 'y'\n"},
		{name: "ok is no boolean", labels: "    tls: ok\n"},
		{name: "oN is no boolean in YAML 1.1 either", labels: "    tls: oN\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadBytes("in.yaml", []byte(doc(tt.labels)), Options{Validation: ValidateIgnore})
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			got := inputErrors(t, err)
			if len(got) != 1 || got[0].Line != 6 || got[0].Field != tt.field || !strings.Contains(got[0].Error(), "quote it") || !strings.Contains(got[0].Error(), "YAML 1.1") {
				t.Fatalf("got %v, want one error at line 6 on %s with a quoting hint", err, tt.field)
			}
		})
	}
	// Annotations too, on every kind (metadata is typed for all kinds).
	src := "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: c\n  annotations:\n    dapr.io/enabled: yes\n"
	got := inputErrors(t, func() error { _, err := LoadBytes("in.yaml", []byte(src), Options{}); return err }())
	if len(got) != 1 || got[0].Field != "metadata.annotations.dapr.io/enabled" {
		t.Errorf("annotation: %v", got)
	}
}

func TestFieldValidation(t *testing.T) {
	pod := func(meta, spec string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n" + meta + "spec:\n  containers:\n    - name: app\n      image: x\n" + spec
	}
	np := func(spec string) string {
		return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np\n  namespace: bud\nspec:\n  podSelector: {}\n" + spec
	}
	svc := func(spec string) string {
		return "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  selector: {app: a}\n" + spec
	}
	tests := []struct {
		name  string
		src   string
		line  int
		field string
		msg   string
	}{
		{name: "namespace with a space", src: pod("  namespace: Bad NS\n", ""), line: 5, field: "metadata.namespace", msg: "Bad NS"},
		{name: "object name", src: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n", line: 4, field: "metadata.name", msg: "RFC 1123"},
		{name: "Service name must be a DNS-1035 label", src: "apiVersion: v1\nkind: Service\nmetadata:\n  name: 1svc\nspec:\n  ports: [{port: 80}]\n", line: 4, field: "metadata.name", msg: "DNS-1035"},
		{name: "label value", src: pod("  labels:\n    app: -bad\n", ""), line: 6, field: "metadata.labels", msg: "-bad"},
		{name: "label key", src: pod("  labels:\n    a/b/c: x\n", ""), line: 6, field: "metadata.labels", msg: "a/b/c"},
		{name: "container port 99999", src: pod("", "      ports:\n        - containerPort: 99999\n"), line: 10, field: "spec.containers[0].ports[0].containerPort", msg: "between 1 and 65535"},
		{name: "container port name", src: pod("", "      ports:\n        - name: HTTP_PORT\n          containerPort: 80\n"), line: 10, field: "spec.containers[0].ports[0].name", msg: "HTTP_PORT"},
		{name: "container protocol", src: pod("", "      ports:\n        - containerPort: 80\n          protocol: HTTP\n"), line: 11, field: "spec.containers[0].ports[0].protocol", msg: "HTTP"},
		{name: "container name", src: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: App\n      image: x\n", line: 7, field: "spec.containers[0].name", msg: "App"},
		{name: "pod IP", src: pod("", "status:\n  podIP: 10.0.0.300\n"), line: 10, field: "status.podIP", msg: "10.0.0.300"},
		{name: "pod IPs", src: pod("", "status:\n  podIPs:\n    - ip: fe80::1::2\n"), line: 11, field: "status.podIPs[0].ip", msg: "fe80::1::2"},
		{name: "service port", src: svc("  ports: [{port: 0}]\n"), line: 7, field: "spec.ports[0].port", msg: "between 1 and 65535"},
		{name: "service targetPort number", src: svc("  ports: [{port: 80, targetPort: 70000}]\n"), line: 7, field: "spec.ports[0].targetPort", msg: "between 1 and 65535"},
		{name: "service targetPort name", src: svc("  ports: [{port: 80, targetPort: my_port}]\n"), line: 7, field: "spec.ports[0].targetPort", msg: "my_port"},
		{name: "service selector", src: "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  selector: {app: \"a b\"}\n  ports: [{port: 80}]\n", line: 6, field: "spec.selector", msg: "a b"},
		{name: "service source range", src: svc("  type: LoadBalancer\n  ports: [{port: 80}]\n  loadBalancerSourceRanges: [10.0.0.0/40]\n"), line: 9, field: "spec.loadBalancerSourceRanges[0]", msg: "10.0.0.0/40"},
		{name: "service protocol", src: svc("  ports: [{port: 80, protocol: tcp}]\n"), line: 7, field: "spec.ports[0].protocol", msg: "tcp"},
		{name: "policy CIDR", src: np("  ingress:\n    - from:\n        - ipBlock: {cidr: 10.0.0.0/33}\n"), line: 10, field: "spec.ingress[0].from[0].ipBlock.cidr", msg: "10.0.0.0/33"},
		{name: "policy CIDR without prefix", src: np("  egress:\n    - to:\n        - ipBlock: {cidr: 10.0.0.1}\n"), line: 10, field: "spec.egress[0].to[0].ipBlock.cidr", msg: "10.0.0.1"},
		{name: "policy CIDR in a legacy form", src: np("  ingress:\n    - from:\n        - ipBlock: {cidr: 010.0.0.0/8}\n"), line: 10, field: "spec.ingress[0].from[0].ipBlock.cidr", msg: "legacy form"},
		{name: "policy except outside the CIDR", src: np("  ingress:\n    - from:\n        - ipBlock:\n            cidr: 10.0.0.0/8\n            except: [192.168.0.0/16]\n"), line: 12, field: "spec.ingress[0].from[0].ipBlock.except[0]", msg: "subset"},
		{name: "policy selector operator", src: np("  ingress:\n    - from:\n        - podSelector:\n            matchExpressions: [{key: app, operator: Has}]\n"), line: 11, field: "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator", msg: "Has"},
		{name: "policy selector label value", src: np("  ingress:\n    - from:\n        - namespaceSelector:\n            matchLabels: {team: \"a b\"}\n"), line: 11, field: "spec.ingress[0].from[0].namespaceSelector.matchLabels", msg: "a b"},
		{name: "policy port", src: np("  ingress:\n    - ports: [{port: 70000}]\n"), line: 9, field: "spec.ingress[0].ports[0].port", msg: "between 1 and 65535"},
		{name: "policy port protocol", src: np("  ingress:\n    - ports: [{port: 80, protocol: ICMP}]\n"), line: 9, field: "spec.ingress[0].ports[0].protocol", msg: "ICMP"},
		{name: "policy endPort below port", src: np("  ingress:\n    - ports: [{port: 8080, endPort: 80}]\n"), line: 9, field: "spec.ingress[0].ports[0].endPort", msg: "greater than or equal"},
		{name: "policy peer with ipBlock and selector", src: np("  ingress:\n    - from:\n        - ipBlock: {cidr: 10.0.0.0/8}\n          podSelector: {}\n"), line: 10, field: "spec.ingress[0].from[0]", msg: "more than 1"},
		{name: "policy type", src: np("  policyTypes: [Inbound]\n"), line: 8, field: "spec.policyTypes[0]", msg: "Inbound"},
		{name: "deployment selector", src: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  selector:\n    matchLabels: {\"app/\": d}\n  template:\n    metadata: {labels: {app: d}}\n    spec: {containers: [{name: app, image: x}]}\n", line: 7, field: "spec.selector.matchLabels", msg: "app/"},
		{name: "template container port", src: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n    spec:\n      containers:\n        - name: app\n          image: x\n          ports: [{containerPort: 99999}]\n", line: 13, field: "spec.template.spec.containers[0].ports[0].containerPort", msg: "between 1 and 65535"},
		{name: "cronjob template label", src: "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: c\nspec:\n  schedule: \"* * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        metadata: {labels: {app: \"x y\"}}\n        spec: {restartPolicy: Never, containers: [{name: app, image: x}]}\n", line: 10, field: "spec.jobTemplate.spec.template.metadata.labels", msg: "x y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Value validation is the API server's, not kubectl's schema
			// check: --validate=ignore does not turn it off.
			_, err := LoadBytes("in.yaml", []byte(tt.src), Options{Validation: ValidateIgnore})
			if err == nil {
				t.Fatalf("no error")
			}
			// One value may break several rules (a port name with an
			// underscore and no letter): each is reported.
			for _, g := range inputErrors(t, err) {
				if g.File != "in.yaml" || g.Line != tt.line || !strings.HasPrefix(g.Field, tt.field) || !strings.Contains(g.Error(), tt.msg) {
					t.Errorf("got %q (line %d field %q), want line %d field %q containing %q", g, g.Line, g.Field, tt.line, tt.field, tt.msg)
				}
				if strings.Contains(g.Error(), "netip") || strings.Contains(g.Error(), "ParsePrefix") {
					t.Errorf("Go internals leak: %v", g)
				}
			}
		})
	}
}

func TestFieldValidationInLists(t *testing.T) {
	src := "apiVersion: v1\nkind: PodList\nitems:\n  - metadata: {name: a}\n    spec: {containers: [{name: app, image: x}]}\n  - metadata: {name: b}\n    spec:\n      containers:\n        - name: app\n          image: x\n          ports: [{containerPort: 0}]\n"
	_, err := LoadBytes("list.yaml", []byte(src), Options{})
	got := inputErrors(t, err)
	if len(got) != 1 || got[0].Line != 11 || got[0].Field != "items[1].spec.containers[0].ports[0].containerPort" {
		t.Fatalf("got %v, want one error at list.yaml:11 on items[1].spec.containers[0].ports[0].containerPort", err)
	}
}

func TestFieldValidationAcceptsValid(t *testing.T) {
	for _, p := range []string{fixture("good"), filepath.Join("..", "example")} {
		inv, err := Load(context.Background(), []string{p}, Options{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(inv.Objects) == 0 {
			t.Fatalf("%s: no objects", p)
		}
	}
}

func TestEmptyInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty.yaml", "")
	comments := write("comments.yaml", "# nothing here\n---\n---\n")
	emptyList := write("list.yaml", "apiVersion: v1\nkind: List\nitems: []\n")
	emptyDir := filepath.Join(dir, "emptydir")
	if err := os.Mkdir(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write("notes/README.md", "# not a manifest\n")
	write("notes/values.txt", "x: 1\n")
	notes := filepath.Join(dir, "notes")
	tests := []struct {
		name  string
		paths []string
		stdin string
		msg   []string
	}{
		{name: "empty file", paths: []string{empty}, msg: []string{empty + " (file, 0 documents)"}},
		{name: "comment-only documents", paths: []string{comments}, msg: []string{comments + " (file, 0 documents)"}},
		{name: "empty List", paths: []string{emptyList}, msg: []string{emptyList + " (file, 1 document)"}},
		{name: "empty directory", paths: []string{emptyDir}, msg: []string{emptyDir + " (directory, 0 manifest files)"}},
		{name: "directory with no manifests", paths: []string{notes}, msg: []string{notes + " (directory, 0 manifest files; 2 other files skipped)"}},
		{name: "empty stdin", paths: []string{"-"}, msg: []string{StdinName + " (stdin, 0 documents)"}},
		{name: "several", paths: []string{empty, emptyDir}, msg: []string{empty + " (file, 0 documents)", emptyDir + " (directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), tt.paths, Options{Stdin: strings.NewReader(tt.stdin)})
			if !errors.Is(err, ErrNoObjects) {
				t.Fatalf("want ErrNoObjects, got %v", err)
			}
			if len(inputErrors(t, err)) != 1 {
				t.Fatalf("not one input error: %v", err)
			}
			for _, m := range append(tt.msg, "no Kubernetes objects", "--allow-empty") {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
			inv, err := Load(context.Background(), tt.paths, Options{Stdin: strings.NewReader(tt.stdin), AllowEmpty: true})
			if err != nil || len(inv.Objects) != 0 {
				t.Errorf("AllowEmpty: %v, %v", inv, err)
			}
		})
	}
	if _, err := LoadBytes("x.yaml", nil, Options{}); !errors.Is(err, ErrNoObjects) {
		t.Errorf("LoadBytes of nothing: %v", err)
	}
}
