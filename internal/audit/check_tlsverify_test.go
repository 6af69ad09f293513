package audit

import (
	"strings"
	"testing"
)

// TestTLSVerifyAttacks tries to get past BUD-6-01..03: dev mode hidden in a
// shell command, settings through envFrom and base64 Secrets, boolean
// spellings, and the APIService field as a string.
func TestTLSVerifyAttacks(t *testing.T) {
	cm := func(data string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bud-config, namespace: bud-system}\ndata:\n" + data
	}
	fromCM := `{name: X, value: ""}
          envFrom: [{configMapRef: {name: bud-config}}]`
	kc := "quay.io/keycloak/keycloak:26.0"
	tests := []struct {
		name  string
		check Check
		yaml  string
		want  Status
	}{
		{name: "official image start-dev in args", check: checkKeycloakTLS(), yaml: strings.Replace(appWith(kc, []string{`{name: KC_HTTPS_CERTIFICATE_FILE, value: /c/tls.crt}`}), "          env:", "          args: [start-dev]\n          env:", 1), want: StatusFail},
		{name: "start-dev inside a shell command", check: checkKeycloakTLS(), yaml: strings.Replace(appWith(kc, []string{`{name: KC_HTTPS_CERTIFICATE_FILE, value: /c/tls.crt}`}), "          env:", "          command: [/bin/sh, -c, \"/opt/keycloak/bin/kc.sh start-dev --import-realm\"]\n          env:", 1), want: StatusFail},
		{name: "official image HTTP enabled without certificate", check: checkKeycloakTLS(), yaml: appWith(kc, []string{`{name: KC_HTTP_ENABLED, value: "true"}`}), want: StatusFail},
		{name: "official image with certificate", check: checkKeycloakTLS(), yaml: appWith(kc, []string{`{name: KC_HTTPS_CERTIFICATE_FILE, value: /c/tls.crt}`}), want: StatusPass},
		{name: "official image certificate from an envFrom ConfigMap", check: checkKeycloakTLS(), yaml: appWith(kc, []string{fromCM}, cm("  KC_HTTPS_CERTIFICATE_FILE: /c/tls.crt\n")), want: StatusPass},
		{name: "Bitnami defaults are start-dev over HTTP", check: checkKeycloakTLS(), yaml: appWith("bitnami/keycloak:26", []string{`{name: KEYCLOAK_HTTP_RELATIVE_PATH, value: /}`}), want: StatusFail},
		{name: "Bitnami production no", check: checkKeycloakTLS(), yaml: appWith("bitnami/keycloak:26", []string{`{name: KEYCLOAK_PRODUCTION, value: "no"}`, `{name: KEYCLOAK_ENABLE_HTTPS, value: "true"}`}), want: StatusFail},
		{name: "Bitnami HTTPS off from a ConfigMap", check: checkKeycloakTLS(), yaml: appWith("bitnami/keycloak:26", []string{`{name: KEYCLOAK_PRODUCTION, value: "yes"}`, fromCM}, cm("  KEYCLOAK_ENABLE_HTTPS: \"False\"\n")), want: StatusFail},
		{name: "keycloak-config-cli is no server", check: checkKeycloakTLS(), yaml: appWith("bitnami/keycloak-config-cli:6", []string{`{name: KEYCLOAK_URL, value: "http://kc:8080"}`}), want: ""},

		{name: "KEYCLOAK_VERIFY_SSL false", check: checkClientVerify(), yaml: appWith("budapp", []string{`{name: KEYCLOAK_VERIFY_SSL, value: "false"}`}), want: StatusFail},
		{name: "VALIDATE_CERTS False from envFrom", check: checkClientVerify(), yaml: appWith("budapp", []string{fromCM}, cm("  VALIDATE_CERTS: \"False\"\n")), want: StatusFail},
		{name: "envFrom with a prefix", check: checkClientVerify(), yaml: strings.Replace(appWith("budapp", []string{fromCM}, cm("  VERIFY_SSL: \"0\"\n")), "configMapRef:", "prefix: KEYCLOAK_, configMapRef:", 1), want: StatusFail},
		{name: "verify off from a base64 Secret", check: checkClientVerify(), yaml: appWith("budapp", []string{`{name: OIDC_SSL_VERIFY, valueFrom: {secretKeyRef: {name: s, key: v}}}`},
			"apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: bud-system}\ndata: {v: "+b64("no")+"}"), want: StatusFail},
		{name: "NODE_TLS_REJECT_UNAUTHORIZED 0", check: checkClientVerify(), yaml: appWith("budadmin", []string{`{name: NODE_TLS_REJECT_UNAUTHORIZED, value: "0"}`}), want: StatusFail},
		{name: "PYTHONHTTPSVERIFY 0", check: checkClientVerify(), yaml: appWith("budapp", []string{`{name: PYTHONHTTPSVERIFY, value: "0"}`}), want: StatusFail},
		{name: "INSECURE_SKIP_VERIFY true", check: checkClientVerify(), yaml: appWith("budapp", []string{`{name: S3_INSECURE_SKIP_VERIFY, value: "TRUE"}`}), want: StatusFail},
		{name: "lower-case name", check: checkClientVerify(), yaml: appWith("budapp", []string{`{name: keycloak_verify_ssl, value: "off"}`}), want: StatusFail},
		{name: "verify on", check: checkClientVerify(), yaml: appWith("budapp", []string{`{name: KEYCLOAK_VERIFY_SSL, value: "true"}`}), want: StatusPass},
		{name: "ClickHouse verify is BUD-6.3-02's", check: checkClientVerify(), yaml: appWith("budapp", []string{`{name: CLICKHOUSE_VERIFY, value: "false"}`}), want: ""},

		{name: "insecureSkipTLSVerify as a string", check: checkAPIServiceTLS(), yaml: "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1beta1.metrics.k8s.io}\nspec: {group: metrics.k8s.io, version: v1beta1, insecureSkipTLSVerify: \"true\", service: {name: m, namespace: x}}", want: StatusFail},
		{name: "caBundle", check: checkAPIServiceTLS(), yaml: "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1beta1.metrics.k8s.io}\nspec: {group: metrics.k8s.io, version: v1beta1, caBundle: " + b64("x") + ", service: {name: m, namespace: x}}", want: StatusPass},
		{name: "no caBundle is not judged, never a pass", check: checkAPIServiceTLS(), yaml: "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1beta1.metrics.k8s.io}\nspec: {group: metrics.k8s.io, version: v1beta1, service: {name: m, namespace: x}}", want: StatusNotApplicable},
		{name: "local APIService", check: checkAPIServiceTLS(), yaml: "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1.apps}\nspec: {group: apps, version: v1}", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, tt.check, tt.yaml)
			st, msg := statusOf(rs, "")
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
		})
	}
}

// TestEnvExpansion: $(VAR) in a literal env value is what the kubelet
// expands from earlier variables, so a verify-off setting or a secret can
// hide behind it; an undefined reference and $$ stay as written.
func TestEnvExpansion(t *testing.T) {
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bud-config, namespace: bud-system}\ndata: {VERIFY: \"false\"}"
	fromCM := `{name: X, value: ""}
          envFrom: [{configMapRef: {name: bud-config}}]`
	tests := []struct {
		name  string
		check Check
		yaml  string
		want  Status
	}{
		{name: "verify off through $(VAR) of an envFrom ConfigMap", check: checkClientVerify(), yaml: appWith("budapp", []string{`{name: KEYCLOAK_VERIFY_SSL, value: "$(VERIFY)"}`, fromCM}, cm), want: StatusFail},
		{name: "verify off through an earlier env entry", check: checkClientVerify(), yaml: appWith("budapp", []string{`{name: VERIFY_OFF, value: "0"}`, `{name: NODE_TLS_REJECT_UNAUTHORIZED, value: "$(VERIFY_OFF)"}`}), want: StatusFail},
		{name: "undefined reference stays as written", check: checkClientVerify(), yaml: appWith("budapp", []string{`{name: KEYCLOAK_VERIFY_SSL, value: "$(NOPE)"}`}), want: ""},
		{name: "escaped $$ is no reference", check: checkClientVerify(), yaml: appWith("budapp", []string{`{name: VERIFY_OFF, value: "0"}`, `{name: NODE_TLS_REJECT_UNAUTHORIZED, value: "$$(VERIFY_OFF)"}`}), want: ""},
		{name: "browser variable built from a Secret", check: checkSecretPlacement(), yaml: appWith("budadmin", []string{`{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: s, key: k}}}`, `{name: NEXT_PUBLIC_CONFIG, value: "db=$(DB_PASSWORD)"}`},
			"apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: bud-system}\ndata: {k: "+b64("hunter2")+"}"), want: StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, tt.check, tt.yaml)
			st, msg := statusOf(rs, "budapp")
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			for _, r := range rs {
				for _, ev := range r.Evidence {
					if strings.Contains(ev.Detail, "hunter2") {
						t.Errorf("evidence leaks the secret: %q", ev.Detail)
					}
				}
			}
		})
	}
}
