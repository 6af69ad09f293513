package tlsprobe

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sampleReport is a fixed report covering every section of the schema.
func sampleReport() Report {
	pg := EndpointResult{
		Target: "postgres://db.bud-data.svc.cluster.local:5432", Scheme: SchemePostgres,
		Host: "db.bud-data.svc.cluster.local", Port: 5432, Address: "10.0.0.5:5432", Source: "spec.workloads[postgres].ports[postgres]",
		Duration: 84 * time.Millisecond,
		TLS:      goodTLS(),
		Postgres: &PostgresInfo{SSLResponse: "S", PlaintextStartup: PlaintextRefused, PlaintextDetail: `FATAL 28000: pg_hba.conf rejects connection for host "10.0.0.9", user "postgres", database "postgres", no encryption`},
	}
	pg.TLS.Certificate.Subject = "CN=db.bud-data.svc.cluster.local"
	pg.TLS.Certificate.Issuer = "CN=bud internal CA"
	pg.TLS.Certificate.DNSNames = []string{"db.bud-data.svc.cluster.local"}
	pg.Checks = Evaluate(pg, evalNow)

	edge := EndpointResult{
		Target: "https://app.bud.example:443", Scheme: SchemeHTTPS, Host: "app.bud.example", Port: 443, Address: "app.bud.example:443",
		Duration: 312 * time.Millisecond, TLS: goodTLS(),
		HTTP: &HTTPInfo{
			PlainURL: "http://app.bud.example:80/", PlainStatus: 302, PlainLocation: "https://app.bud.example/",
			HTTPSStatus: 200, HSTS: "max-age=300", HSTSMaxAge: 300,
			SecurityHeaders: map[string]string{"Strict-Transport-Security": "max-age=300", "X-Content-Type-Options": "nosniff"},
		},
	}
	edge.TLS.Versions[1].Accepted = true
	edge.Checks = Evaluate(edge, evalNow)

	down := EndpointResult{Target: "redis://cache:6379", Scheme: SchemeRedis, Host: "cache", Port: 6379, Address: "cache:6379", Error: "dial cache:6379: connection refused"}
	down.Checks = Evaluate(down, evalNow)
	// A server that answered the negotiation and then nothing: its legacy
	// versions are unknown, so their check is not judged.
	busy := EndpointResult{
		Target: "tls://gw.bud-infra:8443", Scheme: SchemeTLS, Host: "gw.bud-infra", Port: 8443, Address: "gw.bud-infra:8443",
		Duration: 5012 * time.Millisecond, TLS: goodTLS(),
	}
	busy.TLS.Versions[0] = VersionResult{Version: "TLS 1.0", Unknown: true, Error: "read tcp: i/o timeout"}
	busy.TLS.Versions[1] = VersionResult{Version: "TLS 1.1", Unknown: true, Error: "read tcp: i/o timeout"}
	busy.Checks = Evaluate(busy, evalNow)
	return NewReport([]EndpointResult{pg, edge, down, busy}, SeverityHigh, evalNow)
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		write func(*bytes.Buffer, Report) error
	}{
		{name: "json", file: "report.json.golden", write: func(b *bytes.Buffer, r Report) error { return WriteJSON(b, r) }},
		{name: "text", file: "report.txt.golden", write: func(b *bytes.Buffer, r Report) error { return WriteText(b, r) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.write(&buf, sampleReport()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from golden; run go test -run TestRenderGolden -update and review the diff\ngot:\n%s", tc.file, buf.String())
			}
		})
	}
}
