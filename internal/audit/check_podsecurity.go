package audit

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// Guide sections 3.1 and 11.1 ("Namespace isolation (logical
// separation)"): a namespace isolates nothing from a pod on the host's
// network, PID namespace or with a privileged container. Pods are judged
// by the Pod Security Standards' own code (k8s.io/pod-security-admission
// psapolicy.NewEvaluator with DefaultChecks, what the API server's admission
// plugin runs) at the level the model gives the pod's zone, else the level
// its namespace enforces, else baseline (the least that keeps pods off the
// host).

func checkPodSecurity() Check {
	return Check{
		ID: "BUD-3.1-05", Title: "Pods meet their zone's Pod Security Standard", Section: "3.1", Severity: SeverityHigh,
		Remediation: "Label every namespace pod-security.kubernetes.io/enforce with its zone's level (`budnet generate` emits the label from the model's podSecurity) and drop what the level forbids: hostNetwork, hostPID, hostIPC, hostPort, privileged, added capabilities, hostPath volumes; for restricted also runAsNonRoot, seccompProfile RuntimeDefault and allowPrivilegeEscalation false.",
		Doc:         docOf("BUD-3.1-05"),
		Run:         runPodSecurity,
	}
}

// levelSource is the level a namespace is judged at and where it comes from.
type levelSource struct {
	level  psaapi.LevelVersion
	why    string
	ev     Evidence
	zone   *platform.Zone
	label  *psaapi.LevelVersion
	labErr error
}

func runPodSecurity(c *Context) []Result {
	eval, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		return []Result{res(StatusFail, "pod security", "the Pod Security evaluator does not start: "+err.Error())}
	}
	levels := map[string]*levelSource{}
	var out []Result
	for _, w := range c.Inventory.Workloads {
		if w.PodSpec == nil || systemNamespace(c, w.Namespace) {
			continue
		}
		ls, ok := levels[w.Namespace]
		if !ok {
			ls = namespaceLevel(c, w.Namespace)
			levels[w.Namespace] = ls
			if r, judged := enforcement(c, w.Namespace, ls); judged {
				out = append(out, r)
			}
		}
		out = append(out, podSecurity(eval, w, ls)...)
	}
	return out
}

func namespaceLevel(c *Context, ns string) *levelSource {
	ls := &levelSource{}
	if n := c.Inventory.Namespace(ns); n != nil && n.Object != nil {
		p, errs := psaapi.PolicyToEvaluate(n.Labels, psaapi.Policy{Enforce: psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()}})
		if _, has := n.Labels[psaapi.EnforceLevelLabel]; has {
			lv := p.Enforce
			ls.label = &lv
			if len(errs) > 0 {
				ls.labErr = errs.ToAggregate()
			}
		}
	}
	if c.Platform != nil {
		for i := range c.Platform.Spec.Zones {
			z := &c.Platform.Spec.Zones[i]
			if z.Name == ns && z.PodSecurity != "" {
				lvl, err := psaapi.ParseLevel(z.PodSecurity)
				if err == nil {
					ls.zone = z
					ls.level = psaapi.LevelVersion{Level: lvl, Version: psaapi.LatestVersion()}
					ls.why = fmt.Sprintf("zone %s's level %s", z.Name, lvl)
					ls.ev = modelEvidence(c.Platform, "zone "+z.Name+" podSecurity "+z.PodSecurity, z.Source)
					return ls
				}
			}
		}
	}
	if ls.label != nil && ls.labErr == nil {
		ls.level = *ls.label
		ls.why = "the namespace's enforce label " + ls.label.String()
		ls.ev = ObjectEvidence(c.Inventory.Namespace(ns).Object, "metadata.labels["+psaapi.EnforceLevelLabel+"]", string(ls.label.Level))
		return ls
	}
	ls.level = psaapi.LevelVersion{Level: psaapi.LevelBaseline, Version: psaapi.LatestVersion()}
	ls.why = "baseline (no zone of the model and no valid enforce label; baseline is the least that keeps pods off the host)"
	return ls
}

// enforcement judges whether a model zone's namespace enforces the zone's
// level: without the label the API server admits anything.
func enforcement(c *Context, ns string, ls *levelSource) (Result, bool) {
	if ls.zone == nil {
		return Result{}, false
	}
	subject := "namespace " + ns + " enforcement"
	n := c.Inventory.Namespace(ns)
	switch {
	case n == nil || n.Object == nil:
		return res(StatusNotApplicable, subject, "not judged: no Namespace object in the input, so its pod-security labels are unknown", ls.ev), true
	case ls.labErr != nil:
		return res(StatusFail, subject, "the pod-security labels are invalid: "+ls.labErr.Error(), ObjectEvidence(n.Object, "metadata.labels", "")), true
	case ls.label == nil:
		return res(StatusFail, subject, fmt.Sprintf("no %s label: the API server admits pods that break %s", psaapi.EnforceLevelLabel, ls.why), ObjectEvidence(n.Object, "metadata.labels", "no enforce label")), true
	case rank(ls.label.Level) < rank(ls.level.Level):
		return res(StatusFail, subject, fmt.Sprintf("enforces %s, below %s", ls.label.Level, ls.why), ObjectEvidence(n.Object, "metadata.labels["+psaapi.EnforceLevelLabel+"]", string(ls.label.Level))), true
	}
	return res(StatusPass, subject, "enforces "+ls.label.String(), ObjectEvidence(n.Object, "metadata.labels["+psaapi.EnforceLevelLabel+"]", string(ls.label.Level))), true
}

func rank(l psaapi.Level) int {
	switch l {
	case psaapi.LevelRestricted:
		return 2
	case psaapi.LevelBaseline:
		return 1
	}
	return 0
}

// reasonField points a forbidden reason at the pod spec field it is about.
var reasonField = map[string]string{
	"host namespaces":  "hostNetwork",
	"hostPath volumes": "volumes",
	"hostPort":         "containers",
	"privileged":       "containers",
}

func podSecurity(eval psapolicy.Evaluator, w *manifest.Workload, ls *levelSource) []Result {
	meta := &metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace, Labels: w.Labels, Annotations: w.Annotations}
	var out []Result
	for _, r := range eval.EvaluatePod(ls.level, meta, w.PodSpec) {
		if r.Allowed {
			continue
		}
		field := w.PodSpecPath
		if f := reasonField[r.ForbiddenReason]; f != "" {
			field += "." + f
		}
		detail := r.ForbiddenReason
		if r.ForbiddenDetail != "" {
			detail += " (" + r.ForbiddenDetail + ")"
		}
		out = append(out, res(StatusFail, w.Ref()+" "+r.ForbiddenReason,
			fmt.Sprintf("%s breaks %s: %s", w.Ref(), ls.why, detail), ObjectEvidence(w.Object, field, detail)))
	}
	if len(out) == 0 {
		msg := fmt.Sprintf("meets %s", ls.why)
		if ls.level.Level == psaapi.LevelPrivileged {
			msg = "not judged: " + strings.TrimPrefix(ls.why, "the ") + " is privileged, which allows anything"
			return []Result{res(StatusNotApplicable, w.Ref(), msg, ls.ev)}
		}
		out = append(out, res(StatusPass, w.Ref(), msg, ls.ev))
	}
	return out
}
