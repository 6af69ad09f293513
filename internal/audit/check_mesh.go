package audit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// Guide sections 5 and 6: Dapr mTLS and access control
// (https://docs.dapr.io/operations/security/mtls/,
// https://docs.dapr.io/operations/configuration/invoke-allowlist/).

func daprUsed(inv *manifest.Inventory) []*manifest.Workload {
	var out []*manifest.Workload
	for _, w := range inv.Workloads {
		if w.Dapr != nil {
			out = append(out, w)
		}
	}
	return out
}

// daprNotJudged says why BUD-5-01 is not judged and how to include what it needs.
const daprNotJudged = "not judged: no Dapr control plane in the input. Dapr is used, but its control plane and the Configuration daprsystem that sets mTLS come from Dapr's own chart: " +
	"audit the cluster (--cluster), or add Dapr's chart as rendered (helm template dapr dapr/dapr -n dapr-system > dapr.yaml; -f dapr.yaml)"

// daprControlPlaneAnnotation marks the pods of Dapr's control plane in
// Dapr's chart (dapr.io/control-plane: sentry, operator, injector, placement,
// scheduler; charts/dapr/charts/*/templates/*_deployment.yaml and
// *_statefulset.yaml in dapr/dapr).
const daprControlPlaneAnnotation = "dapr.io/control-plane"

// daprControlPlane returns a workload of the Dapr control plane in the
// input: one Dapr's chart marks as such, or one implementing a model
// workload of role dapr-control-plane; nil when there is none.
func daprControlPlane(c *Context) *manifest.Workload {
	for _, w := range c.Inventory.Workloads {
		if _, ok := w.Annotations[daprControlPlaneAnnotation]; ok {
			return w
		}
	}
	models := modelOf(c.Inventory, c.Platform)
	for _, w := range c.Inventory.Workloads {
		if mw := models[w]; mw != nil && mw.Role == platform.RoleDaprControlPlane {
			return w
		}
	}
	return nil
}

func checkDaprMTLS() Check {
	return Check{
		ID: "BUD-5-01", Title: "Dapr mTLS is enabled in the control-plane Configuration", Section: "5", Severity: SeverityCritical,
		Remediation: "Set spec.mtls.enabled: true (a YAML boolean) in the Configuration daprsystem in the Dapr namespace; `budnet generate` emits it with the model's workloadCertTTL and allowedClockSkew. " +
			"An input with Dapr apps but no Dapr control plane (Dapr's own chart installs it with daprsystem) is not judged: audit the cluster (--cluster) or add Dapr's rendered chart to the input.",
		Doc: docOf("BUD-5-01"),
		Run: runDaprMTLS,
	}
}

func runDaprMTLS(c *Context) []Result {
	if len(daprUsed(c.Inventory)) == 0 {
		return nil
	}
	meshNS := ""
	if c.Platform != nil {
		meshNS = c.Platform.Spec.Mesh.Namespace
	}
	var cfg *manifest.Object
	for _, o := range objectsOf(c.Inventory, groupsDapr, "Configuration") {
		if o.Name == "daprsystem" && (cfg == nil || o.Namespace == meshNS) {
			cfg = o
		}
	}
	if cfg == nil {
		if cp := daprControlPlane(c); cp != nil {
			return []Result{res(StatusFail, "daprsystem", "Dapr is used but no Configuration daprsystem is in the input: mTLS between sidecars cannot be shown to be on",
				ObjectEvidence(cp.Object, "", "Dapr control plane without daprsystem"))}
		}
		// Dapr's chart installs the control plane and daprsystem together
		// (charts/dapr/charts/dapr_config/templates/dapr_default_config.yaml in
		// dapr/dapr, mtls.enabled true by default), usually as its own release:
		// a chart that relies on it says nothing about mTLS either way.
		return []Result{res(StatusNotApplicable, "daprsystem", daprNotJudged)}
	}
	subject := cfg.Ref()
	v, ok := nested(cfg, "spec", "mtls", "enabled")
	field := "spec.mtls.enabled"
	switch t := v.(type) {
	case bool:
		if t {
			return []Result{res(StatusPass, subject, "mTLS is enabled", ObjectEvidence(cfg, field, "true"))}
		}
		return []Result{res(StatusFail, subject, "mTLS is disabled: sidecars talk in plaintext and callers are not authenticated", ObjectEvidence(cfg, field, "false"))}
	case string:
		// Dapr's Go type is MTLSSpec.Enabled bool (pkg/apis/configuration/v1alpha1/types.go
		// in dapr/dapr): a JSON string does not decode into it, and the CRD's
		// boolean schema rejects it at apply time. Either way the value written
		// is not the value that takes effect.
		return []Result{res(StatusFail, subject,
			fmt.Sprintf("spec.mtls.enabled is the string %q, not a boolean: Dapr's MTLSSpec.Enabled is a Go bool, so the API server's schema rejects the object or the decoder fails; write enabled: true unquoted", t),
			ObjectEvidence(cfg, field, fmt.Sprintf("string %q", t)))}
	case nil:
		if !ok {
			return []Result{res(StatusFail, subject, "spec.mtls.enabled is not set: Dapr's MTLSSpec.Enabled is a Go bool whose zero value is false", ObjectEvidence(cfg, "spec", "no mtls.enabled"))}
		}
	}
	return []Result{res(StatusFail, subject, fmt.Sprintf("spec.mtls.enabled has the unexpected value %v", v), ObjectEvidence(cfg, field, fmt.Sprint(v)))}
}

func checkDaprAccessControl() Check {
	return Check{
		ID: "BUD-5-02", Title: "Dapr apps deny service invocation by default", Section: "5", Severity: SeverityHigh,
		Remediation: "Reference an app Configuration (dapr.io/config) whose accessControl has defaultAction: deny and a policy per calling app id; `budnet generate` emits one per zone from the model's invoke rules.",
		Doc:         docOf("BUD-5-02"),
		Run:         runDaprAccessControl,
	}
}

func runDaprAccessControl(c *Context) []Result {
	byCfg := map[string][]string{}
	var out []Result
	for _, w := range daprUsed(c.Inventory) {
		if w.Dapr.Config == "" {
			out = append(out, res(StatusFail, w.Ref(), w.Ref()+" names no Dapr Configuration (dapr.io/config): its sidecar has no access control, so any app id may invoke any of its methods",
				ObjectEvidence(w.Object, w.PodSpecPath, "no dapr.io/config annotation")))
			continue
		}
		key := w.Namespace + "/" + w.Dapr.Config
		byCfg[key] = append(byCfg[key], w.Ref())
	}
	for _, key := range sortedKeys(byCfg) {
		ns, name, _ := strings.Cut(key, "/")
		users := byCfg[key]
		var cfg *manifest.Object
		for _, o := range objectsOf(c.Inventory, groupsDapr, "Configuration") {
			if o.Namespace == ns && o.Name == name {
				cfg = o
			}
		}
		if cfg == nil {
			out = append(out, res(StatusFail, key+"[Configuration]", fmt.Sprintf("Configuration %s, used by %s, is not in the input", key, listing(users, 3))))
			continue
		}
		out = append(out, accessControl(cfg, users))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Subject < out[j].Subject })
	return out
}

func accessControl(cfg *manifest.Object, users []string) Result {
	subject := cfg.Ref()
	if _, ok := nested(cfg, "spec", "accessControl"); !ok {
		return res(StatusFail, subject, fmt.Sprintf("no accessControl: any app id may invoke %s", listing(users, 4)), ObjectEvidence(cfg, "spec", "no accessControl"))
	}
	action := nestedString(cfg, "spec", "accessControl", "defaultAction")
	if !strings.EqualFold(action, "deny") {
		shown := action
		if shown == "" {
			shown = "unset (allow)"
		}
		return res(StatusFail, subject, "accessControl.defaultAction is "+shown+": app ids without a policy may invoke "+listing(users, 4),
			ObjectEvidence(cfg, "spec.accessControl.defaultAction", shown))
	}
	for i, p := range nestedSlice(cfg, "spec", "accessControl", "policies") {
		pm := asMap(p)
		if strings.EqualFold(stringIn(pm, "defaultAction"), "allow") && len(sliceIn(pm, "operations")) == 0 {
			return res(StatusPartial, subject, fmt.Sprintf("app id %s may invoke every operation (defaultAction allow, no operations)", stringIn(pm, "appId")),
				ObjectEvidence(cfg, fmt.Sprintf("spec.accessControl.policies[%d]", i), "allow all"))
		}
	}
	return res(StatusPass, subject, "accessControl denies by default", ObjectEvidence(cfg, "spec.accessControl.defaultAction", action))
}

func checkDaprRedisTLS() Check {
	return Check{
		ID: "BUD-5-03", Title: "Dapr components reach Redis over TLS", Section: "5", Severity: SeverityHigh,
		Remediation: `Set the metadata item enableTLS: "true" on every Redis component (pub/sub, state, configuration, lock) and serve TLS on Valkey/Redis (tls-port); budnet generate's data-store settings assume it.`,
		Doc:         docOf("BUD-5-03"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, o := range objectsOf(c.Inventory, groupsDapr, "Component") {
				typ := nestedString(o, "spec", "type")
				if !strings.HasSuffix(typ, ".redis") {
					continue
				}
				out = append(out, redisComponent(o, typ))
			}
			return out
		},
	}
}

// redisComponent reads the component's metadata list (name/value items;
// https://docs.dapr.io/reference/components-reference/supported-pubsub/setup-redis-pubsub/).
func redisComponent(o *manifest.Object, typ string) Result {
	subject := o.Ref()
	for i, m := range nestedSlice(o, "spec", "metadata") {
		mm := asMap(m)
		if !strings.EqualFold(stringIn(mm, "name"), "enableTLS") {
			continue
		}
		field := fmt.Sprintf("spec.metadata[%d]", i)
		if _, ok := nestedIn(mm, "secretKeyRef"); ok {
			return res(StatusPartial, subject, typ+" takes enableTLS from a secret; its value is not in the input", ObjectEvidence(o, field, "secretKeyRef"))
		}
		v := stringIn(mm, "value")
		if strings.EqualFold(v, "true") {
			return res(StatusPass, subject, typ+" uses TLS", ObjectEvidence(o, field+".value", v))
		}
		return res(StatusFail, subject, fmt.Sprintf("%s has enableTLS %q: credentials and data cross the network in plaintext", typ, v), ObjectEvidence(o, field+".value", v))
	}
	return res(StatusFail, subject, typ+" has no enableTLS: Dapr connects to Redis in plaintext (the default is false)", ObjectEvidence(o, "spec.metadata", "no enableTLS"))
}
