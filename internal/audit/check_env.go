package audit

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
)

// Connection settings as a process sees them: a container's environment
// with envFrom and valueFrom resolved against the ConfigMaps and Secrets of
// the input (Secret data decoded), env overriding envFrom as the kubelet
// does. ConfigMaps and Secrets no container reads are judged on their own.

type setting struct {
	name, value string
	ev          Evidence
	// refs are the variables a $(VAR) reference in the value expanded.
	refs []string
}

type envSet struct {
	subject string
	vars    map[string]setting
	order   []string
}

func (s *envSet) set(v setting) {
	if _, ok := s.vars[v.name]; !ok {
		s.order = append(s.order, v.name)
	}
	s.vars[v.name] = v
}

// get returns the first variable set among names.
func (s *envSet) get(names ...string) (setting, bool) {
	for _, n := range names {
		if v, ok := s.vars[n]; ok {
			return v, true
		}
	}
	return setting{}, false
}

type configData struct {
	obj  *manifest.Object
	data map[string]string
	keys []string
}

// configData decodes a ConfigMap's data or a Secret's data (base64) and stringData.
func readConfigData(o *manifest.Object) configData {
	cd := configData{obj: o, data: map[string]string{}}
	add := func(k, v string) {
		if _, ok := cd.data[k]; !ok {
			cd.keys = append(cd.keys, k)
		}
		cd.data[k] = v
	}
	if d, ok := nested(o, "data"); ok {
		for _, k := range sortedKeys(asMap(d)) {
			v := scalar(asMap(d)[k])
			if o.Kind == "Secret" {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					continue
				}
				v = string(b)
			}
			add(k, v)
		}
	}
	if d, ok := nested(o, "stringData"); ok && o.Kind == "Secret" {
		for _, k := range sortedKeys(asMap(d)) {
			add(k, scalar(asMap(d)[k]))
		}
	}
	return cd
}

func dataField(o *manifest.Object, key string) string {
	if o.Kind == "Secret" {
		if _, ok := nested(o, "stringData", key); ok {
			return "stringData[" + key + "]"
		}
	}
	return "data[" + key + "]"
}

// envSetsBySubject indexes envSets by subject, for checks that judge a
// workload's containers by their settings.
func envSetsBySubject(inv *manifest.Inventory) map[string]*envSet {
	out := map[string]*envSet{}
	for _, s := range envSets(inv) {
		out[s.subject] = s
	}
	return out
}

func envSets(inv *manifest.Inventory) []*envSet {
	configs := map[string]configData{}
	for _, o := range objectsOf(inv, groupsCore, "ConfigMap", "Secret") {
		configs[o.Kind+"/"+o.Namespace+"/"+o.Name] = readConfigData(o)
	}
	used := map[string]bool{}
	var out []*envSet
	for _, w := range inv.Workloads {
		for _, ct := range append(append([]manifest.Container(nil), w.InitContainers...), w.Containers...) {
			if ct.Inferred {
				continue
			}
			s := &envSet{subject: w.Ref() + " container " + ct.Name, vars: map[string]setting{}}
			for _, ef := range ct.EnvFrom {
				kind, name := "ConfigMap", ""
				switch {
				case ef.ConfigMapRef != nil:
					name = ef.ConfigMapRef.Name
				case ef.SecretRef != nil:
					kind, name = "Secret", ef.SecretRef.Name
				}
				key := kind + "/" + w.Namespace + "/" + name
				cd, ok := configs[key]
				if !ok {
					continue
				}
				used[key] = true
				for _, k := range cd.keys {
					s.set(setting{name: ef.Prefix + k, value: cd.data[k], ev: ObjectEvidence(cd.obj, dataField(cd.obj, k), "via envFrom of "+w.Ref())})
				}
			}
			for i, e := range ct.Env {
				path := fmt.Sprintf("%s.env[%d]", ct.Path, i)
				switch {
				case e.ValueFrom == nil:
					v, refs := expandEnv(e.Value, s.vars)
					s.set(setting{name: e.Name, value: v, ev: ObjectEvidence(w.Object, path+".value", ""), refs: refs})
				case e.ValueFrom.ConfigMapKeyRef != nil || e.ValueFrom.SecretKeyRef != nil:
					kind, name, k := "ConfigMap", "", ""
					if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
						name, k = r.Name, r.Key
					} else {
						kind, name, k = "Secret", e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key
					}
					key := kind + "/" + w.Namespace + "/" + name
					cd, ok := configs[key]
					if !ok {
						continue
					}
					used[key] = true
					if v, ok := cd.data[k]; ok {
						s.set(setting{name: e.Name, value: v, ev: ObjectEvidence(cd.obj, dataField(cd.obj, k), "via "+w.Ref()+" "+path)})
					}
				}
			}
			out = append(out, s)
		}
	}
	for _, key := range sortedKeys(configs) {
		if used[key] {
			continue
		}
		cd := configs[key]
		s := &envSet{subject: cd.obj.Ref(), vars: map[string]setting{}}
		for _, k := range cd.keys {
			s.set(setting{name: k, value: cd.data[k], ev: ObjectEvidence(cd.obj, dataField(cd.obj, k), "")})
		}
		out = append(out, s)
	}
	return out
}

// expandEnv resolves $(VAR) references as the kubelet does for a literal
// env value: against the variables defined before it (envFrom first, then
// earlier env entries); an undefined reference stays as written and $$
// escapes a $ (k8s.io/kubernetes third_party/forked/golang/expansion).
func expandEnv(in string, vars map[string]setting) (string, []string) {
	if !strings.Contains(in, "$") {
		return in, nil
	}
	var b strings.Builder
	var refs []string
	for i := 0; i < len(in); i++ {
		if in[i] != '$' || i+1 >= len(in) {
			b.WriteByte(in[i])
			continue
		}
		switch in[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(in[i+2:], ')'); end >= 0 {
				name := in[i+2 : i+2+end]
				if v, ok := vars[name]; ok {
					b.WriteString(v.value)
					refs = append(refs, name)
				} else {
					b.WriteString(in[i : i+3+end])
				}
				i += 2 + end
				continue
			}
		}
		b.WriteByte(in[i])
	}
	return b.String(), refs
}

var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)

// mask hides credentials in a connection setting: URL passwords, DSN
// password= values, and whole values of password-like variables.
func mask(name, value string) string {
	up := strings.ToUpper(name)
	for _, w := range []string{"PASSWORD", "SECRET", "TOKEN", "PASSWD"} {
		if strings.Contains(up, w) {
			return "****"
		}
	}
	if u, err := url.Parse(value); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxx")
			return strings.Replace(u.String(), ":xxxx@", ":****@", 1)
		}
	}
	return dsnPassword.ReplaceAllString(value, "${1}****")
}

// finding builds a result about one setting, its value masked in the evidence.
func (s *envSet) finding(st Status, v setting, msg string) Result {
	ev := v.ev
	shown := v.name + "=" + mask(v.name, v.value)
	if ev.Detail != "" {
		ev.Detail = shown + " (" + ev.Detail + ")"
	} else {
		ev.Detail = shown
	}
	return res(st, s.subject+": "+v.name, msg, ev)
}

// falsy reads the boolean spellings clients accept.
func falsy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "false", "0", "no", "off", "n", "f":
		return true
	}
	return false
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "y", "t":
		return true
	}
	return false
}
