package tlsprobe

import (
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Target
		wantErr bool
	}{
		{name: "https default port", in: "https://app.bud.example", want: Target{Scheme: SchemeHTTPS, Host: "app.bud.example", Port: 443}},
		{name: "https explicit port", in: "https://app.bud.example:8443/", want: Target{Scheme: SchemeHTTPS, Host: "app.bud.example", Port: 8443}},
		{name: "postgres", in: "postgres://db:5433", want: Target{Scheme: SchemePostgres, Host: "db", Port: 5433}},
		{name: "postgresql alias", in: "postgresql://db", want: Target{Scheme: SchemePostgres, Host: "db", Port: 5432}},
		{name: "rediss alias", in: "rediss://cache", want: Target{Scheme: SchemeRedis, Host: "cache", Port: 6379}},
		{name: "clickhouse https", in: "clickhouse-https://ch", want: Target{Scheme: SchemeClickHouseHTTPS, Host: "ch", Port: 8443}},
		{name: "clickhouse native", in: "clickhouse-native://ch", want: Target{Scheme: SchemeClickHouseNative, Host: "ch", Port: 9440}},
		{name: "tls with port", in: "tls://kc:8443", want: Target{Scheme: SchemeTLS, Host: "kc", Port: 8443}},
		{name: "ipv6", in: "tls://[::1]:443", want: Target{Scheme: SchemeTLS, Host: "::1", Port: 443}},
		{name: "tls without port", in: "tls://kc", wantErr: true},
		{name: "unknown scheme", in: "ftp://x", wantErr: true},
		{name: "no scheme", in: "db.example:5432", wantErr: true},
		{name: "credentials", in: "postgres://user:pw@db", wantErr: true},
		{name: "path", in: "https://x/login", wantErr: true},
		{name: "query", in: "postgres://db?sslmode=require", wantErr: true},
		{name: "port out of range", in: "tls://x:70000", wantErr: true},
		{name: "no host", in: "https://:443", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTarget(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseTarget(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseTarget(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseTargetNeverEchoesPassword(t *testing.T) {
	_, err := ParseTarget("postgres://admin:hunter2@db")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v must exist and not contain the password", err)
	}
}
