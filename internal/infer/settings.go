package infer

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/manifest"
)

// setting is one name=value a workload reads, with where it was written.
type setting struct {
	key   string // as written
	value string
	ev    string // file:line: field
}

// settingGroup is settings read together: a container's environment, the
// lines of a mounted file, a Dapr component's metadata. *_HOST pairs with
// *_PORT only inside a group.
type settingGroup []setting

// source is where a workload's settings come from, for the scanners.
type keyValues struct {
	obj    *manifest.Object
	data   map[string]string
	secret bool
	// missing is set when the object is not in the input or cannot be read.
	missing string
}

// configData reads a ConfigMap's or Secret's data, decoding Secret data
// from base64 (stringData is taken as written, as the API server merges it).
func (e *engine) configData(kind, ns, name string) keyValues {
	o := e.objects[kind][nsName{ns, name}]
	if o == nil {
		return keyValues{missing: fmt.Sprintf("%s %s/%s is not in the input", kind, ns, name), secret: kind == "Secret"}
	}
	kv := keyValues{obj: o, data: map[string]string{}, secret: kind == "Secret"}
	u := o.Unstructured.Object
	if d, ok := u["data"].(map[string]any); ok {
		for k, v := range d {
			s, _ := v.(string)
			if kind == "Secret" {
				raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
				if err != nil {
					kv.missing = fmt.Sprintf("Secret %s/%s: data[%s] is not base64: %v", ns, name, k, err)
					continue
				}
				s = string(raw)
			}
			kv.data[k] = s
		}
	}
	if d, ok := u["stringData"].(map[string]any); ok && kind == "Secret" {
		for k, v := range d {
			if s, ok := v.(string); ok {
				kv.data[k] = s
			}
		}
	}
	return kv
}

func (kv keyValues) evidence(key string) string {
	field := "data[" + key + "]"
	if kv.obj.Node != nil && kv.obj.LineOf(field) == kv.obj.Source.Line && kv.secret {
		field = "stringData[" + key + "]"
	}
	return evidence(kv.obj, field)
}

func (kv keyValues) sortedKeys() []string {
	keys := make([]string, 0, len(kv.data))
	for k := range kv.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// containerSettings returns the environment of a container: envFrom first,
// then env in order with $(VAR) references expanded against what came
// before, as the kubelet does (k8s.io/kubernetes third_party/forked/golang/expansion).
func (e *engine) containerSettings(m *modelWorkload, c manifest.Container) settingGroup {
	w := m.mw
	var g settingGroup
	env := map[string]string{}
	for i, ef := range c.EnvFrom {
		path := fmt.Sprintf("%s.envFrom[%d]", c.Path, i)
		var kv keyValues
		switch {
		case ef.ConfigMapRef != nil:
			kv = e.configData("ConfigMap", w.Namespace, ef.ConfigMapRef.Name)
			if kv.obj == nil && isTrue(ef.ConfigMapRef.Optional) {
				continue
			}
		case ef.SecretRef != nil:
			kv = e.configData("Secret", w.Namespace, ef.SecretRef.Name)
			if kv.obj == nil && isTrue(ef.SecretRef.Optional) {
				continue
			}
		default:
			continue
		}
		if kv.missing != "" {
			e.unresolve(m.model.Name, evidence(w.Object, path), "", kv.missing+": the settings it holds are not read")
		}
		if kv.obj == nil {
			continue
		}
		for _, k := range kv.sortedKeys() {
			env[ef.Prefix+k] = kv.data[k]
			g = append(g, setting{key: ef.Prefix + k, value: kv.data[k], ev: kv.evidence(k) + " (via " + evidence(w.Object, path) + ")"})
		}
	}
	for i, ev := range c.Env {
		path := fmt.Sprintf("%s.env[%d]", c.Path, i)
		val, ok, where := e.envValue(m, ev, path)
		if !ok {
			continue
		}
		val = expand(val, env)
		env[ev.Name] = val
		g = append(g, setting{key: ev.Name, value: val, ev: where + " " + ev.Name})
	}
	return g
}

// envValue resolves one env entry's value.
func (e *engine) envValue(m *modelWorkload, ev corev1.EnvVar, path string) (string, bool, string) {
	w := m.mw
	if ev.ValueFrom == nil {
		return ev.Value, true, evidence(w.Object, path+".value")
	}
	vf := ev.ValueFrom
	var kind, name, key string
	var optional *bool
	switch {
	case vf.ConfigMapKeyRef != nil:
		kind, name, key, optional = "ConfigMap", vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, vf.ConfigMapKeyRef.Optional
	case vf.SecretKeyRef != nil:
		kind, name, key, optional = "Secret", vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, vf.SecretKeyRef.Optional
	default:
		if endpointLike(normKey(ev.Name)) {
			e.unresolve(m.model.Name, evidence(w.Object, path+".valueFrom")+" "+ev.Name, "",
				"the value is set only at runtime (fieldRef or resourceFieldRef): no flow can be inferred from it")
		}
		return "", false, ""
	}
	kv := e.configData(kind, w.Namespace, name)
	if kv.obj == nil && isTrue(optional) {
		return "", false, ""
	}
	v, ok := kv.data[key]
	if !ok {
		reason := kv.missing
		if reason == "" {
			reason = fmt.Sprintf("%s %s/%s has no key %q", kind, w.Namespace, name, key)
		}
		e.unresolve(m.model.Name, evidence(w.Object, path+".valueFrom")+" "+ev.Name, "", reason+": the setting is not read")
		return "", false, ""
	}
	return v, true, kv.evidence(key) + " (via " + evidence(w.Object, path) + ")"
}

// expand replaces $(VAR) with earlier variables' values; $$ escapes a
// dollar and unknown references stay as written, as in the kubelet.
func expand(s string, env map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func isTrue(b *bool) bool { return b != nil && *b }

// mountedFiles returns the ConfigMap and Secret files a container mounts,
// each file a group of its lines read as settings ("key: value",
// "key=value") plus the whole text for URLs.
func (e *engine) mountedFiles(m *modelWorkload, c manifest.Container) []settingGroup {
	w := m.mw
	spec := w.PodSpec
	if spec == nil || c.Inferred {
		return nil
	}
	var mounts []corev1.VolumeMount
	for _, pc := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if pc.Name == c.Name {
			mounts = pc.VolumeMounts
		}
	}
	var out []settingGroup
	for _, vm := range mounts {
		for vi, v := range spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			path := fmt.Sprintf("%s.volumes[%d]", w.PodSpecPath, vi)
			for _, src := range volumeSources(v) {
				kv := e.configData(src.kind, w.Namespace, src.name)
				if kv.obj == nil && src.optional {
					continue
				}
				if kv.missing != "" {
					e.unresolve(m.model.Name, evidence(w.Object, path), "", kv.missing+": the files it holds are not read")
				}
				if kv.obj == nil {
					continue
				}
				for _, k := range kv.sortedKeys() {
					if len(src.items) > 0 && !src.items[k] {
						continue
					}
					out = append(out, fileSettings(kv.data[k], kv.evidence(k)+" (mounted at "+vm.MountPath+" by "+evidence(w.Object, path)+")"))
				}
			}
		}
	}
	return out
}

type volumeSource struct {
	kind, name string
	optional   bool
	items      map[string]bool
}

func volumeSources(v corev1.Volume) []volumeSource {
	items := func(ks []corev1.KeyToPath) map[string]bool {
		if len(ks) == 0 {
			return nil
		}
		out := map[string]bool{}
		for _, k := range ks {
			out[k.Key] = true
		}
		return out
	}
	var out []volumeSource
	if cm := v.ConfigMap; cm != nil {
		out = append(out, volumeSource{"ConfigMap", cm.Name, isTrue(cm.Optional), items(cm.Items)})
	}
	if s := v.Secret; s != nil {
		out = append(out, volumeSource{"Secret", s.SecretName, isTrue(s.Optional), items(s.Items)})
	}
	if p := v.Projected; p != nil {
		for _, ps := range p.Sources {
			if cm := ps.ConfigMap; cm != nil {
				out = append(out, volumeSource{"ConfigMap", cm.Name, isTrue(cm.Optional), items(cm.Items)})
			}
			if s := ps.Secret; s != nil {
				out = append(out, volumeSource{"Secret", s.Name, isTrue(s.Optional), items(s.Items)})
			}
		}
	}
	return out
}

// fileSettings reads a configuration file's lines as settings: YAML
// ("key: value"), properties and .env ("key=value"), and keeps any other
// line whole so URLs in it are still found.
func fileSettings(text, ev string) settingGroup {
	var g settingGroup
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//") {
			continue
		}
		key, val := "", line
		if i := strings.IndexAny(line, "=:"); i > 0 && !strings.HasPrefix(line[i:], "://") {
			key, val = strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
			key = strings.TrimPrefix(strings.TrimPrefix(key, "export "), "- ")
		}
		val = strings.Trim(strings.TrimSuffix(val, ","), `"'`)
		g = append(g, setting{key: key, value: val, ev: fmt.Sprintf("%s line %d", ev, n+1)})
	}
	return g
}
