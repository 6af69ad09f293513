package audit

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/manifest"
)

// Guide section 9.2 is the guide's one word on credentials (management
// reaches clusters with a service account token; BUD-9.2-01 and -03 judge
// how such credentials are held). ConfigMaps are readable by anyone with
// read access to the namespace, are not encrypted at rest by the API
// server's Secret encryption, and land in Git with the chart; variables a
// web front end exposes to the browser (Next.js NEXT_PUBLIC_*, Vite VITE_*,
// Create React App REACT_APP_*) are shipped to every visitor.

func checkSecretPlacement() Check {
	return Check{
		ID: "BUD-9.2-04", Title: "Credentials live in Secrets, not in ConfigMaps or browser variables", Section: "9.2", Severity: SeverityHigh,
		Remediation: "Move passwords, tokens, keys and DSNs with passwords from ConfigMaps into Secrets referenced by secretKeyRef (and keep the shared endpoints ConfigMap to host names and ports); never put a secret in a NEXT_PUBLIC_/VITE_/REACT_APP_ variable: give the browser a session and call the API server-side.",
		Doc:         docOf("BUD-9.2-04"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, o := range objectsOf(c.Inventory, groupsCore, "ConfigMap") {
				out = append(out, configMapSecrets(o)...)
			}
			var browser []Result
			for _, s := range envSets(c.Inventory) {
				browser = append(browser, browserSecrets(s)...)
			}
			return append(out, perSource(browser)...)
		},
	}
}

var (
	// notSecretName are settings about a credential that hold none: its
	// name, file, length, lifetime, algorithm or switch.
	notSecretName = regexp.MustCompile(`(?i)(_|\.|-|^)(NAME|REF|FILE|PATH|DIR|KEY_?ID|ID|ENABLED|ENABLE|REQUIRED|TYPE|ALGORITHM|ALG|LENGTH|LEN|EXPIRY|EXPIRES|EXPIRE|EXPIRATION|TTL|TIMEOUT|LIFETIME|LIFESPAN|MIN|MAX|HEADER|FIELD|POLICY|PREFIX|URL|URI|ENDPOINT|HOST|PORT|MODE|VERSION|SIZE|ROTATION)$|PUBLIC_?KEY|PUBLISHABLE|SECRET_?STORE|SECRET_?NAME|SECRET_?KEY_?REF|CAPTCHA_SITE`)
	// browserVar names variables a front-end build exposes to browsers.
	browserVar = regexp.MustCompile(`^(NEXT_PUBLIC_|VITE_|REACT_APP_|NUXT_PUBLIC_|PUBLIC_|EXPO_PUBLIC_|GATSBY_)`)
)

// secretIn says what secret a named value holds ("" when none): a value of
// a credential-like name, a password inside a URL or DSN, a private key.
func secretIn(name, value string) string {
	v := strings.TrimSpace(value)
	switch {
	case v == "", truthy(v), falsy(v), strings.HasPrefix(v, "/"), strings.HasPrefix(v, "$("), strings.HasPrefix(v, "${"), strings.HasPrefix(v, "{{"):
		return ""
	case strings.Contains(v, "PRIVATE KEY-----"):
		return "a PEM private key"
	}
	if what, ok := urlSecret(v); ok && !strings.Contains(v, "$(") && !strings.Contains(v, "${") {
		return what
	}
	flat := strings.NewReplacer("_", "", "-", "", ".", "").Replace(name)
	if credentialName.MatchString(flat) && !notCredential.MatchString(flat) && !notSecretName.MatchString(name) && !strings.ContainsAny(v, " \n") {
		return "a " + name
	}
	return ""
}

// configMapSecrets judges each key of a ConfigMap, and the keys of YAML or
// JSON documents held in a key (config.yaml, appsettings.json).
func configMapSecrets(o *manifest.Object) []Result {
	cd := readConfigData(o)
	var out []Result
	for _, k := range cd.keys {
		v := cd.data[k]
		field := dataField(o, k)
		if what := secretIn(k, v); what != "" {
			out = append(out, res(StatusFail, o.Ref()+" "+k, fmt.Sprintf("ConfigMap key %s holds %s in plaintext", k, what), ObjectEvidence(o, field, k+"=****")))
			continue
		}
		if strings.Contains(v, "\n") || strings.HasPrefix(strings.TrimSpace(v), "{") {
			for _, p := range fileSecrets(v) {
				out = append(out, res(StatusFail, o.Ref()+" "+k+" "+p.path, fmt.Sprintf("ConfigMap key %s holds %s at %s in plaintext", k, p.what, p.path), ObjectEvidence(o, field, p.path+"=****")))
			}
		}
	}
	if len(out) == 0 && len(cd.keys) > 0 {
		out = append(out, res(StatusPass, o.Ref(), "no credential in the ConfigMap"))
	}
	return out
}

type nestedSecret struct{ path, what string }

// fileSecrets reads a file held in a ConfigMap key: YAML or JSON documents
// by their keys, other text (.ini, .properties, .env) line by line.
func fileSecrets(text string) []nestedSecret {
	var doc any
	// Only a mapping counts as a YAML/JSON document: YAML reads an INI
	// file's "[section]" line as a list and drops the rest.
	if err := yaml.Unmarshal([]byte(text), &doc); err == nil {
		if m, isMap := doc.(map[string]any); isMap {
			return nestedSecrets(m, "")
		}
	}
	var out []nestedSecret
	section := ""
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "", strings.HasPrefix(line, "#"), strings.HasPrefix(line, ";"):
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]") + "."
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		if what := secretIn(k, v); what != "" {
			out = append(out, nestedSecret{fmt.Sprintf("%s%s (line %d)", section, k, i+1), what})
		}
	}
	return out
}

// nestedSecrets walks a decoded document for credential-like keys with
// scalar values.
func nestedSecrets(doc any, path string) []nestedSecret {
	var out []nestedSecret
	switch t := doc.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if s := scalar(t[k]); s != "" {
				if what := secretIn(k, s); what != "" {
					out = append(out, nestedSecret{p, what})
				}
				continue
			}
			out = append(out, nestedSecrets(t[k], p)...)
		}
	case []any:
		for i, v := range t {
			out = append(out, nestedSecrets(v, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

// browserSecrets judges a container's browser-exposed variables: one from
// a Secret, one whose value is a secret, or one that expands $(VAR) of a
// secret.
func browserSecrets(s *envSet) []Result {
	var out []Result
	for _, name := range s.order {
		if !browserVar.MatchString(name) {
			continue
		}
		v := s.vars[name]
		fromSecret := strings.HasSuffix(v.ev.Object, "[Secret]")
		what := secretIn(name, v.value)
		// envSets expanded $(VAR) as the kubelet does; refs name what it used.
		for _, name := range v.refs {
			if ref, ok := s.vars[name]; ok && (strings.HasSuffix(ref.ev.Object, "[Secret]") || secretIn(ref.name, ref.value) != "") {
				what = "$(" + name + "), which expands to a secret"
			}
		}
		// The evidence never shows the value: a key name alone may not say it is secret.
		shown := setting{name: v.name, value: "****", ev: v.ev}
		switch {
		case fromSecret:
			out = append(out, s.finding(StatusFail, shown, "a Secret's value is exposed to browsers through "+name))
		case what != "":
			out = append(out, s.finding(StatusFail, shown, fmt.Sprintf("%s holds %s and is exposed to browsers", name, what)))
		default:
			out = append(out, s.finding(StatusPass, v, "browser variable without a credential"))
		}
	}
	return out
}
