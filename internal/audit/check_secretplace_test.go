package audit

import (
	"strings"
	"testing"
)

// TestSecretPlacementAttacks tries to get past BUD-9.2-04: secrets inside
// URLs, in YAML, JSON and INI files held in a ConfigMap key, browser
// variables fed by envFrom of a Secret with a prefix or by $(VAR)
// expansion, and names that only look secret.
func TestSecretPlacementAttacks(t *testing.T) {
	cm := func(data string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bud-config, namespace: bud-system}\ndata:\n" + data
	}
	sec := "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: bud-system}\ndata: {key: " + b64("sk-live-hunter2") + "}"
	tests := []struct {
		name string
		yaml string
		want Status
	}{
		{name: "password key", yaml: cm("  DB_PASSWORD: hunter2\n"), want: StatusFail},
		{name: "lower-case key", yaml: cm("  db_password: hunter2\n"), want: StatusFail},
		{name: "API_KEY with underscores", yaml: cm("  OPENAI_API_KEY: sk-hunter2\n"), want: StatusFail},
		{name: "password inside a DSN", yaml: cm("  DATABASE_URL: postgresql://bud:hunter2@pg:5432/bud\n"), want: StatusFail},
		{name: "keyword DSN", yaml: cm("  PG_DSN: \"host=pg user=bud password=hunter2\"\n"), want: StatusFail},
		{name: "private key", yaml: cm("  tls.key: |\n    -----BEGIN RSA PRIVATE KEY-----\n    MIIE\n    -----END RSA PRIVATE KEY-----\n"), want: StatusFail},
		{name: "YAML in a key", yaml: cm("  config.yaml: |\n    database:\n      host: pg\n      password: hunter2\n"), want: StatusFail},
		{name: "JSON in a key", yaml: cm("  appsettings.json: '{\"Redis\": {\"Password\": \"hunter2\"}}'\n"), want: StatusFail},
		{name: "grafana.ini", yaml: cm("  grafana.ini: |\n    [security]\n    admin_user = admin\n    admin_password = hunter2\n"), want: StatusFail},
		{name: "DSN built by $(VAR) expansion is a reference", yaml: cm("  DATABASE_URL: postgresql://bud:$(PG_PASSWORD)@pg:5432/bud\n"), want: StatusPass},
		{name: "secret name, expiry and file path are no secrets", yaml: cm("  PSQL_PASSWORD_SECRET_NAME: bud-pg\n  TOKEN_EXPIRY: \"3600\"\n  JWT_SECRET_FILE: /etc/bud/jwt\n  PASSWORD_MIN_LENGTH: \"12\"\n  AUTH_ENABLED: \"true\"\n"), want: StatusPass},
		{name: "CA certificate is public", yaml: cm("  ca.crt: |\n    -----BEGIN CERTIFICATE-----\n    MIIE\n    -----END CERTIFICATE-----\n"), want: StatusPass},

		{name: "NEXT_PUBLIC from a Secret", yaml: appWith("budadmin", []string{`{name: NEXT_PUBLIC_KEY, valueFrom: {secretKeyRef: {name: s, key: key}}}`}, sec), want: StatusFail},
		{name: "envFrom a Secret with a NEXT_PUBLIC_ prefix", yaml: appWith("budadmin", []string{`{name: X, value: ""}
          envFrom: [{prefix: NEXT_PUBLIC_, secretRef: {name: s}}]`}, sec), want: StatusFail},
		{name: "NEXT_PUBLIC expanding a Secret variable", yaml: appWith("budadmin", []string{`{name: API_KEY, valueFrom: {secretKeyRef: {name: s, key: key}}}`, `{name: NEXT_PUBLIC_API_KEY, value: "$(API_KEY)"}`}, sec), want: StatusFail},
		{name: "inline VITE_ secret", yaml: appWith("budadmin", []string{`{name: VITE_CLIENT_SECRET, value: "hunter2"}`}), want: StatusFail},
		{name: "public URL and client id", yaml: appWith("budadmin", []string{`{name: NEXT_PUBLIC_BASE_URL, value: "https://app.bud.example.com"}`, `{name: NEXT_PUBLIC_CLIENT_ID, value: "bud"}`}), want: StatusPass},
		{name: "publishable key is meant for browsers", yaml: appWith("budadmin", []string{`{name: NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY, value: "pk_live_x"}`}), want: StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, checkSecretPlacement(), tt.yaml)
			st, msg := statusOf(rs, "")
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			for _, r := range rs {
				for _, ev := range r.Evidence {
					if strings.Contains(ev.Detail, "hunter2") {
						t.Errorf("evidence leaks the secret: %q", ev.Detail)
					}
				}
				if strings.Contains(r.Message, "hunter2") || strings.Contains(r.Subject, "hunter2") {
					t.Errorf("result leaks the secret: %+v", r)
				}
			}
		})
	}
}
