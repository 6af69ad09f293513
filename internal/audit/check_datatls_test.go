package audit

import (
	"strings"
	"testing"
)

// appWith is budapp with env entries and extra objects (ConfigMaps, Secrets).
func appWith(image string, env []string, extra ...string) string {
	return strings.Join(append(extra, `apiVersion: apps/v1
kind: Deployment
metadata: {name: budapp, namespace: bud-system}
spec:
  selector: {matchLabels: {app: bud-budapp}}
  template:
    metadata: {labels: {app: bud-budapp}}
    spec:
      containers:
        - name: budapp
          image: `+image+`
          env:
            - `+strings.Join(env, "\n            - ")+"\n"), "\n---\n")
}

// TestDataTLSAttacks tries to get past BUD-6.3-05..07: settings from
// envFrom ConfigMaps and base64 Secrets, properties files in a ConfigMap
// key, case and quoting, and defaults that are plaintext.
func TestDataTLSAttacks(t *testing.T) {
	cm := func(data string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bud-config, namespace: bud-system}\ndata:\n" + data
	}
	fromCM := `{name: X, value: ""}
          envFrom: [{configMapRef: {name: bud-config}}]`
	tests := []struct {
		name  string
		check Check
		yaml  string
		want  Status
	}{
		{name: "Bitnami map with SASL_PLAINTEXT", check: checkKafkaTLS(), yaml: appWith("bitnami/kafka:3.9", []string{`{name: KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP, value: "CLIENT:SASL_SSL,CONTROLLER:PLAINTEXT"}`}), want: StatusFail},
		{name: "protocol in lower case", check: checkKafkaTLS(), yaml: appWith("bitnami/kafka:3.9", []string{`{name: KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP, value: "client:sasl_plaintext"}`}), want: StatusFail},
		{name: "listeners named after the protocol", check: checkKafkaTLS(), yaml: appWith("bitnami/kafka:3.9", []string{`{name: KAFKA_CFG_LISTENERS, value: "PLAINTEXT://:9092"}`}), want: StatusFail},
		{name: "listeners SSL only", check: checkKafkaTLS(), yaml: appWith("bitnami/kafka:3.9", []string{`{name: KAFKA_CFG_LISTENERS, value: "SSL://:9093"}`}), want: StatusPass},
		{name: "server.properties in a ConfigMap key", check: checkKafkaTLS(), yaml: cm("  server.properties: |\n    listeners=CLIENT://:9092\n    listener.security.protocol.map=CLIENT:SASL_PLAINTEXT\n"), want: StatusFail},
		{name: "client.properties with SASL_SSL", check: checkKafkaTLS(), yaml: cm("  client.properties: |\n    bootstrap.servers=kafka:9092\n    security.protocol=SASL_SSL\n"), want: StatusPass},
		{name: "bootstrap without protocol defaults to PLAINTEXT", check: checkKafkaTLS(), yaml: appWith("budapp", []string{fromCM}, cm("  KAFKA_BOOTSTRAP_SERVERS: kafka:9092\n")), want: StatusFail},
		{name: "Spring security protocol from a Secret", check: checkKafkaTLS(), yaml: appWith("budapp", []string{`{name: SPRING_KAFKA_PROPERTIES_SECURITY_PROTOCOL, valueFrom: {secretKeyRef: {name: k, key: p}}}`},
			"apiVersion: v1\nkind: Secret\nmetadata: {name: k, namespace: bud-system}\ndata: {p: "+b64("SASL_PLAINTEXT")+"}"), want: StatusFail},
		{name: "SSL:// bootstrap address", check: checkKafkaTLS(), yaml: appWith("budapp", []string{`{name: KAFKA_BROKERS, value: "SSL://kafka:9093"}`}), want: StatusPass},

		{name: "mongodb:// without tls", check: checkMongoTLS(), yaml: appWith("novu", []string{`{name: MONGO_URL, value: "mongodb://u:p@mongo:27017/db"}`}), want: StatusFail},
		{name: "TLS option in upper case", check: checkMongoTLS(), yaml: appWith("novu", []string{`{name: MONGO_URL, value: "mongodb://mongo:27017/db?TLS=true"}`}), want: StatusPass},
		{name: "ssl=true is the old spelling", check: checkMongoTLS(), yaml: appWith("novu", []string{`{name: MONGO_URL, value: "mongodb://mongo:27017/db?ssl=true"}`}), want: StatusPass},
		{name: "tls=false", check: checkMongoTLS(), yaml: appWith("novu", []string{`{name: MONGO_URL, value: "mongodb://mongo:27017/db?tls=false"}`}), want: StatusFail},
		{name: "srv defaults to TLS", check: checkMongoTLS(), yaml: appWith("novu", []string{`{name: MONGO_URL, value: "mongodb+srv://c.example.net/db"}`}), want: StatusPass},
		{name: "srv with tls=false", check: checkMongoTLS(), yaml: appWith("novu", []string{`{name: MONGO_URL, value: "mongodb+srv://c.example.net/db?tls=false"}`}), want: StatusFail},
		{name: "tlsInsecure", check: checkMongoTLS(), yaml: appWith("novu", []string{`{name: MONGO_URL, value: "mongodb://mongo/db?tls=true&tlsInsecure=true"}`}), want: StatusPartial},
		{name: "scheme in upper case from base64 Secret", check: checkMongoTLS(), yaml: appWith("novu", []string{`{name: DB, valueFrom: {secretKeyRef: {name: m, key: uri}}}`},
			"apiVersion: v1\nkind: Secret\nmetadata: {name: m, namespace: bud-system}\ndata: {uri: "+b64("MONGODB://mongo:27017/db")+"}"), want: StatusFail},
		{name: "host without TLS setting", check: checkMongoTLS(), yaml: appWith("novu", []string{`{name: MONGODB_HOST, value: "mongo"}`}), want: StatusFail},

		{name: "Bitnami TLS no", check: checkPostgresServerTLS(), yaml: appWith("bitnami/postgresql:17", []string{`{name: POSTGRESQL_ENABLE_TLS, value: "no"}`}), want: StatusFail},
		{name: "Bitnami TLS default", check: checkPostgresServerTLS(), yaml: appWith("docker.io/bitnami/postgresql:17", []string{`{name: POSTGRESQL_PORT_NUMBER, value: "5432"}`}), want: StatusFail},
		{name: "Bitnami TLS from an envFrom ConfigMap", check: checkPostgresServerTLS(), yaml: appWith("bitnami/postgresql:17", []string{fromCM}, cm("  POSTGRESQL_ENABLE_TLS: \"false\"\n")), want: StatusFail},
		{name: "Bitnami TLS YES without a certificate", check: checkPostgresServerTLS(), yaml: appWith("bitnami/postgresql:17", []string{`{name: POSTGRESQL_ENABLE_TLS, value: "YES"}`}), want: StatusFail},
		{name: "Bitnami TLS with a certificate", check: checkPostgresServerTLS(), yaml: appWith("bitnami/postgresql:17", []string{`{name: POSTGRESQL_ENABLE_TLS, value: "true"}`, `{name: POSTGRESQL_TLS_CERT_FILE, value: /certs/tls.crt}`}), want: StatusPass},
		{name: "official image without ssl", check: checkPostgresServerTLS(), yaml: appWith("postgres:17", []string{`{name: POSTGRES_DB, value: bud}`}), want: StatusFail},
		{name: "postgres exporter is no server", check: checkPostgresServerTLS(), yaml: appWith("quay.io/prometheuscommunity/postgres-exporter:v0.15.0", []string{`{name: DATA_SOURCE_URI, value: "pg:5432"}`}), want: ""},
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

// TestPostgresServerArgs: the official image's -c ssl=on.
func TestPostgresServerArgs(t *testing.T) {
	for _, tt := range []struct {
		name, args string
		want       Status
	}{
		{name: "ssl=on", args: `["-c", "ssl=on", "-c", "ssl_cert_file=/certs/tls.crt"]`, want: StatusPass},
		{name: "ssl=off", args: `["-c", "ssl=off"]`, want: StatusFail},
	} {
		t.Run(tt.name, func(t *testing.T) {
			y := strings.Replace(appWith("postgres:17", []string{`{name: POSTGRES_DB, value: bud}`}), "          env:", "          args: "+tt.args+"\n          env:", 1)
			if st, msg := statusOf(runYAML(t, checkPostgresServerTLS(), y), ""); st != tt.want {
				t.Fatalf("status %q (%s), want %q", st, msg, tt.want)
			}
		})
	}
}
