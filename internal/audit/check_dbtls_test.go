package audit

import (
	"encoding/base64"
	"strings"
	"testing"
)

func withEnv(env string, extra ...string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: budapp, namespace: bud-system}
spec:
  selector: {matchLabels: {app: budapp}}
  template:
    metadata: {labels: {app: budapp}}
    spec:
      containers:
        - name: budapp
          image: budstudio/budapp:nightly
` + env + "\n" + strings.Join(extra, "\n")
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestDatabaseTLSAttacks hides connection settings where a grep of the
// Deployment would miss them and checks the libpq, asyncpg, ClickHouse,
// Redis and MinIO rules; no password may appear in a finding.
func TestDatabaseTLSAttacks(t *testing.T) {
	secret := `---
apiVersion: v1
kind: Secret
metadata: {name: budapp-db, namespace: bud-system}
data:
  DATABASE_URL: ` + b64("postgresql://budapp:s3cret@postgresql.bud-data:5432/budapp?sslmode=disable")
	tests := []struct {
		name    string
		check   Check
		yaml    string
		subject string
		want    Status
		msg     string
	}{
		{name: "sslmode=disable in a Secret read through envFrom", check: checkPostgresTLS(),
			yaml: withEnv(`          envFrom: [{secretRef: {name: budapp-db}}]`, secret), subject: "DATABASE_URL", want: StatusFail, msg: "sslmode=disable"},
		{name: "env overrides envFrom", check: checkPostgresTLS(),
			yaml: withEnv(`          envFrom: [{secretRef: {name: budapp-db}}]
          env: [{name: DATABASE_URL, value: "postgresql://budapp@postgresql.bud-data/budapp?sslmode=verify-full"}]`, secret), subject: "DATABASE_URL", want: StatusPass},
		{name: "PGSSLMODE require from a ConfigMap key", check: checkPostgresTLS(),
			yaml: withEnv(`          env:
            - {name: PGHOST, value: postgresql.bud-data}
            - name: PGSSLMODE
              valueFrom: {configMapKeyRef: {name: pg, key: mode}}`, `---
apiVersion: v1
kind: ConfigMap
metadata: {name: pg, namespace: bud-system}
data: {mode: require}`), subject: "PGHOST", want: StatusPartial, msg: "does not verify"},
		{name: "PGSSLMODE applies to a URL without sslmode", check: checkPostgresTLS(),
			yaml: withEnv(`          env:
            - {name: DATABASE_URL, value: "postgres://u@db/x"}
            - {name: PGSSLMODE, value: verify-full}`), subject: "DATABASE_URL", want: StatusPass},
		{name: "keyword DSN with verify-full", check: checkPostgresTLS(),
			yaml: withEnv(`          env: [{name: DSN, value: "host=postgresql dbname=bud user=bud password=s3cret sslmode=verify-full"}]`), subject: "DSN", want: StatusPass},
		{name: "asyncpg ssl=require does not verify", check: checkPostgresTLS(),
			yaml: withEnv(`          env: [{name: DATABASE_URL, value: "postgresql+asyncpg://u:s3cret@db/x?ssl=require"}]`), subject: "DATABASE_URL", want: StatusPartial},
		{name: "a host variable without sslmode", check: checkPostgresTLS(),
			yaml: withEnv(`          env: [{name: PSQL_HOST, value: postgresql}, {name: PSQL_PORT, value: "5432"}]`), subject: "PSQL_HOST", want: StatusFail, msg: "prefer"},
		{name: "Keycloak JDBC params with verify-full", check: checkPostgresTLS(),
			yaml: withEnv(`          env:
            - {name: KEYCLOAK_DATABASE_HOST, value: postgresql}
            - {name: KEYCLOAK_DATABASE_PORT, value: "5432"}
            - {name: KEYCLOAK_JDBC_PARAMS, value: "sslmode=verify-full&sslrootcert=/ca.crt"}`), subject: "KEYCLOAK_DATABASE_HOST", want: StatusPass},
		{name: "ClickHouse native TLS port", check: checkClickHouseTLS(),
			yaml: withEnv(`          env: [{name: CLICKHOUSE_DSN, value: "clickhouse://bud:s3cret@clickhouse:9440/db?secure=true"}]`), subject: "CLICKHOUSE_DSN", want: StatusPass},
		{name: "ClickHouse native plaintext port", check: checkClickHouseTLS(),
			yaml: withEnv(`          env: [{name: CLICKHOUSE_DSN, value: "clickhouse://bud:s3cret@clickhouse:9000/db"}]`), subject: "CLICKHOUSE_DSN", want: StatusFail, msg: "9000"},
		{name: "rediss without certificate checks", check: checkRedisTLS(),
			yaml: withEnv(`          env: [{name: REDIS_URL, value: "rediss://:s3cret@valkey:6379/0?ssl_cert_reqs=none"}]`), subject: "REDIS_URL", want: StatusPartial},
		{name: "REDIS_TLS false", check: checkRedisTLS(),
			yaml: withEnv(`          env: [{name: REDIS_HOST, value: valkey}, {name: REDIS_TLS, value: "false"}]`), subject: "REDIS_TLS", want: StatusFail},
		{name: "MinIO endpoint without scheme, secure off", check: checkObjectStoreTLS(),
			yaml: withEnv(`          env: [{name: MINIO_ENDPOINT, value: "minio:9000"}, {name: MINIO_SECURE, value: "False"}]`), subject: "MINIO_SECURE", want: StatusFail},
		{name: "an unreferenced ConfigMap is judged on its own", check: checkRedisTLS(),
			yaml: `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: bud-system}
data: {CACHE_URL: "redis://cache:6379"}`, subject: "settings[ConfigMap]: CACHE_URL", want: StatusFail},
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
			for _, r := range rs {
				for _, e := range r.Evidence {
					if strings.Contains(e.Detail, "s3cret") || strings.Contains(r.Message, "s3cret") {
						t.Errorf("password printed: %+v", e)
					}
				}
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ name, key, value, want string }{
		{name: "url password", key: "DATABASE_URL", value: "postgresql://u:p%40ss@h/db", want: "postgresql://u:****@h/db"},
		{name: "dsn password", key: "DSN", value: "host=h password='a b' sslmode=disable", want: "host=h password=**** sslmode=disable"},
		{name: "password variable", key: "PGPASSWORD", value: "hunter2", want: "****"},
		{name: "no credentials", key: "REDIS_HOST", value: "valkey", want: "valkey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mask(tt.key, tt.value); got != tt.want {
				t.Errorf("mask(%q) = %q, want %q", tt.value, got, tt.want)
			}
		})
	}
}
