package audit

import (
	"net/url"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
)

// FuzzMissesParsers feeds arbitrary settings to the parsers issue 13's
// checks added (Kafka properties and listener maps, MongoDB URIs, files in
// ConfigMap keys, Prometheus scrape files): no panic, and a URL's password
// never reaches a finding.
func FuzzMissesParsers(f *testing.F) {
	for _, seed := range [][2]string{
		{"KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP", "CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"},
		{"KAFKA_CFG_LISTENERS", "PLAINTEXT://:9092,SSL://:9093"},
		{"server.properties", "listeners=CLIENT://:9092\nlistener.security.protocol.map=CLIENT:SASL_PLAINTEXT\n"},
		{"KAFKA_BOOTSTRAP_SERVERS", "SSL://k:9093,k2:9092"},
		{"MONGO_URL", "mongodb://u:p4ss@m:27017/db?tls=true&tlsInsecure=true"},
		{"MONGO_URL", "mongodb+srv://u:p4ss@c/db?%zz"},
		{"config.yaml", "database:\n  password: p4ss\n"},
		{"grafana.ini", "[security]\nadmin_password = p4ss\n"},
		{"prometheus.yml", "scrape_configs:\n  - job_name: k\n    bearer_token: x\n    tls_config: {insecure_skip_verify: true}\n"},
		{"additional.yaml", "- job_name: k\n  basic_auth: {username: u, password: p4ss}\n"},
		{"NEXT_PUBLIC_API_KEY", "$(API_KEY)"},
	} {
		f.Add(seed[0], seed[1])
	}
	inv, err := manifest.LoadBytes("fuzz.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns}\n"), manifest.Options{})
	if err != nil {
		f.Fatal(err)
	}
	cm := inv.Objects[0]
	f.Fuzz(func(t *testing.T, name, value string) {
		s := &envSet{subject: "fuzz", vars: map[string]setting{}}
		s.set(setting{name: name, value: value})
		var rs []Result
		for _, judge := range []func(*envSet) []Result{judgeKafka, judgeMongo, judgeVerify, browserSecrets} {
			rs = append(rs, judge(s)...)
		}
		cm.Unstructured.Object["data"] = map[string]any{name: value}
		rs = append(rs, configMapSecrets(cm)...)
		rs = append(rs, scrapeFile(cm, name, value)...)
		_ = fileSecrets(value)
		u, err := url.Parse(value)
		if err != nil || u.User == nil {
			return
		}
		pw, ok := u.User.Password()
		if !ok || len(pw) < 4 || strings.Contains(u.User.Username(), pw) || strings.Contains(u.Host+u.Path+u.RawQuery+u.Scheme, pw) || strings.Contains(name, pw) {
			return
		}
		for _, r := range rs {
			for _, e := range r.Evidence {
				if strings.Contains(e.Detail, pw) {
					t.Fatalf("password %q printed in %q", pw, e.Detail)
				}
			}
		}
	})
}
