package tlsprobe

import (
	"crypto/tls"
	"testing"

	"github.com/budnet/budnet/internal/platform"
)

func TestTargetsFromBudPlatform(t *testing.T) {
	p, err := platform.Default()
	if err != nil {
		t.Fatalf("load embedded platform: %v", err)
	}
	got := map[string]string{}
	for _, tg := range TargetsFromPlatform(p) {
		got[tg.String()] = tg.Source
		if tg.MinVersion != tls.VersionTLS12 {
			t.Errorf("%s: MinVersion %#x, want TLS 1.2 from the Bud model", tg, tg.MinVersion)
		}
	}
	for _, want := range []string{
		"https://app.bud.example.com:443",
		"https://admin.bud.example.com:443",
		"postgres://postgresql.bud-data.svc.cluster.local:5432",
		"clickhouse-https://clickhouse.bud-data.svc.cluster.local:8443",
		"clickhouse-native://clickhouse.bud-data.svc.cluster.local:9440",
		"redis://valkey.bud-data.svc.cluster.local:6379",
	} {
		if _, ok := got[want]; !ok {
			t.Errorf("missing target %s in %v", want, got)
		}
	}
	for _, notWant := range []string{
		"clickhouse-native://clickhouse.bud-data.svc.cluster.local:9000", // plaintext native port
		"tls://budapp.bud-system.svc.cluster.local:9081",
	} {
		if _, ok := got[notWant]; ok {
			t.Errorf("target %s is not TLS and must not be probed", notWant)
		}
	}
}

func TestTargetsFromPlatform(t *testing.T) {
	p := &platform.Platform{Spec: platform.Spec{
		TLS:  platform.TLS{MinVersion: "1.3"},
		Edge: platform.Edge{Hosts: []platform.EdgeHost{{Name: "edge.example"}, {Name: "*.apps.example"}}},
		Workloads: []platform.Workload{
			{Name: "pg", Zone: "data", Service: "pg-primary", Ports: []platform.NamedPort{{Name: "sql", Port: 5432, AppProtocol: "postgresql"}}},
			{Name: "kc", Zone: "auth", Ports: []platform.NamedPort{{Name: "https", Port: 8443, AppProtocol: "https", TLS: true}, {Name: "http", Port: 8080, AppProtocol: "http"}}},
			{Name: "cache", Zone: "data", Ports: []platform.NamedPort{{Name: "tls", Port: 6380, AppProtocol: "redis", TLS: true}}},
		},
	}}
	want := []Target{
		{Scheme: SchemeHTTPS, Host: "edge.example", Port: 443, MinVersion: tls.VersionTLS13, Source: "spec.edge.hosts[0]"},
		{Scheme: SchemePostgres, Host: "pg-primary.data.svc.cluster.local", Port: 5432, MinVersion: tls.VersionTLS13, Source: "spec.workloads[pg].ports[sql]"},
		{Scheme: SchemeTLS, Host: "kc.auth.svc.cluster.local", Port: 8443, MinVersion: tls.VersionTLS13, Source: "spec.workloads[kc].ports[https]"},
		{Scheme: SchemeRedis, Host: "cache.data.svc.cluster.local", Port: 6380, MinVersion: tls.VersionTLS13, Source: "spec.workloads[cache].ports[tls]"},
	}
	got := TargetsFromPlatform(p)
	if len(got) != len(want) {
		t.Fatalf("got %d targets %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("target %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
