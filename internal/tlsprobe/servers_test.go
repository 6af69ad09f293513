package tlsprobe_test

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/tlsprobe"
	"github.com/budnet/budnet/internal/tlsprobe/internal/testserver"
)

func TestPostgres(t *testing.T) {
	cluster := testserver.NewPostgresCluster(t)
	ca := testserver.NewCA(t, "test ca")
	cert := testserver.Issue(t, ca, testserver.Leaf{DNSNames: []string{"localhost"}, IPs: loopback, Key: testserver.KeyRSA2048})
	tests := []struct {
		name      string
		cfg       testserver.PostgresConfig
		ssl       string
		plaintext string
		versions  []string
		want      map[string]tlsprobe.Status
	}{
		{
			name: "ssl on, hostssl only",
			cfg:  testserver.PostgresConfig{SSL: true, HBA: testserver.HBAHostSSLOnly, Cert: &cert},
			ssl:  "S", plaintext: tlsprobe.PlaintextRefused,
			// PostgreSQL 15 defaults ssl_min_protocol_version to TLSv1.2.
			versions: []string{"TLS 1.2", "TLS 1.3"},
			want: map[string]tlsprobe.Status{
				tlsprobe.CheckPGSSL: tlsprobe.StatusPass, tlsprobe.CheckPGPlaintext: tlsprobe.StatusPass,
				tlsprobe.CheckLegacyVersions: tlsprobe.StatusPass, tlsprobe.CheckCertTrust: tlsprobe.StatusPass,
				tlsprobe.CheckCertHostname: tlsprobe.StatusPass, tlsprobe.CheckClientAuth: tlsprobe.StatusInfo,
			},
		},
		{
			name: "ssl on, tls 1.3 minimum",
			cfg:  testserver.PostgresConfig{SSL: true, HBA: testserver.HBAHostSSLOnly, Cert: &cert, Options: []string{"ssl_min_protocol_version=TLSv1.3"}},
			ssl:  "S", plaintext: tlsprobe.PlaintextRefused,
			versions: []string{"TLS 1.3"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckHandshake: tlsprobe.StatusPass, tlsprobe.CheckTLS13: tlsprobe.StatusPass},
		},
		{
			name: "ssl on, plaintext host rule",
			cfg:  testserver.PostgresConfig{SSL: true, HBA: testserver.HBAAnyHost, Cert: &cert},
			ssl:  "S", plaintext: tlsprobe.PlaintextAccepted,
			versions: []string{"TLS 1.2", "TLS 1.3"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckPGSSL: tlsprobe.StatusPass, tlsprobe.CheckPGPlaintext: tlsprobe.StatusFail},
		},
		{
			name: "ssl off",
			cfg:  testserver.PostgresConfig{SSL: false, HBA: testserver.HBAAnyHost},
			ssl:  "N", plaintext: tlsprobe.PlaintextAccepted,
			want: map[string]tlsprobe.Status{tlsprobe.CheckPGSSL: tlsprobe.StatusFail, tlsprobe.CheckPGPlaintext: tlsprobe.StatusFail},
		},
		{
			name: "ssl off, hostssl only",
			cfg:  testserver.PostgresConfig{SSL: false, HBA: testserver.HBAHostSSLOnly},
			ssl:  "N", plaintext: tlsprobe.PlaintextRefused,
			want: map[string]tlsprobe.Status{tlsprobe.CheckPGSSL: tlsprobe.StatusFail, tlsprobe.CheckPGPlaintext: tlsprobe.StatusPass},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, stop := cluster.Start(t, tc.cfg)
			defer stop()
			r := probe(t, ca.Pool(), "postgres://"+addr)
			if r.Postgres == nil {
				t.Fatalf("no postgres observations: %+v", r)
			}
			if r.Postgres.SSLResponse != tc.ssl {
				t.Errorf("SSLRequest answer = %q, want %q", r.Postgres.SSLResponse, tc.ssl)
			}
			if r.Postgres.PlaintextStartup != tc.plaintext {
				t.Errorf("plaintext startup = %q (%s), want %q", r.Postgres.PlaintextStartup, r.Postgres.PlaintextDetail, tc.plaintext)
			}
			if got := acceptedVersions(r); !slices.Equal(got, tc.versions) {
				t.Errorf("versions = %v, want %v", got, tc.versions)
			}
			wantStatus(t, r, tc.want)
			if tc.ssl == "S" && slices.Contains(tc.versions, "TLS 1.2") {
				// PostgreSQL 15's default ssl_ciphers (HIGH:MEDIUM:+3DES:!aNULL)
				// admits DHE, which only the raw ClientHello can offer.
				if !slices.Contains(acceptedSuites(r), "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384") {
					t.Errorf("DHE suite not seen among %v", acceptedSuites(r))
				}
			}
			if tc.ssl == "N" && r.TLS != nil {
				t.Errorf("ssl off but TLS observations present: %+v", r.TLS)
			}
		})
	}
}

// opensslSuites and ianaSuites name the same TLS 1.2 suites in OpenSSL's and
// IANA's spelling (curl's docs/CIPHERS-TLS12.md maps one to the other): one
// suite Go implements, the rest only the raw ClientHello can see, several per
// elimination group so that groups run more than one round.
var (
	opensslSuites = []string{
		"ECDHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES128-GCM-SHA256",
		"DHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES128-SHA", "DHE-RSA-AES256-SHA",
		"DHE-RSA-CAMELLIA128-SHA", "CAMELLIA256-SHA", "AES256-SHA256",
	}
	ianaSuites = []string{
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
		"TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA256",
	}
)

func TestRedis(t *testing.T) {
	ca := testserver.NewCA(t, "test ca")
	cert := testserver.Issue(t, ca, testserver.Leaf{DNSNames: []string{"localhost"}, IPs: loopback})
	rsaCert := testserver.Issue(t, ca, testserver.Leaf{DNSNames: []string{"localhost"}, IPs: loopback, Key: testserver.KeyRSA2048})
	tests := []struct {
		name       string
		cfg        testserver.RedisConfig
		versions   []string
		clientAuth string
		suites     []string // when set, exactly the TLS 1.2 suites accepted
		want       map[string]tlsprobe.Status
	}{
		{
			name:       "optional client certs, no password",
			cfg:        testserver.RedisConfig{Cert: cert, CA: ca, AuthClients: "optional"},
			versions:   []string{"TLS 1.2", "TLS 1.3"},
			clientAuth: "requested",
			want:       map[string]tlsprobe.Status{tlsprobe.CheckHandshake: tlsprobe.StatusPass, tlsprobe.CheckRedisAuth: tlsprobe.StatusFail, tlsprobe.CheckCertTrust: tlsprobe.StatusPass},
		},
		{
			name:       "requirepass",
			cfg:        testserver.RedisConfig{Cert: cert, CA: ca, AuthClients: "no", RequirePass: "s3cret-for-test"},
			versions:   []string{"TLS 1.2", "TLS 1.3"},
			clientAuth: "none",
			want:       map[string]tlsprobe.Status{tlsprobe.CheckRedisAuth: tlsprobe.StatusPass},
		},
		{
			name:       "mutual tls required",
			cfg:        testserver.RedisConfig{Cert: cert, CA: ca, AuthClients: "yes"},
			versions:   []string{"TLS 1.2", "TLS 1.3"},
			clientAuth: "required",
			want:       map[string]tlsprobe.Status{tlsprobe.CheckHandshake: tlsprobe.StatusPass},
		},
		{
			// OpenSSL 3 needs security level 0 to speak TLS 1.0/1.1 at all.
			name:       "legacy protocols",
			cfg:        testserver.RedisConfig{Cert: cert, CA: ca, AuthClients: "no", Protocols: "TLSv1 TLSv1.1 TLSv1.2", Ciphers: "DEFAULT:@SECLEVEL=0"},
			versions:   []string{"TLS 1.0", "TLS 1.1", "TLS 1.2"},
			clientAuth: "none",
			want:       map[string]tlsprobe.Status{tlsprobe.CheckLegacyVersions: tlsprobe.StatusFail, tlsprobe.CheckTLS13: tlsprobe.StatusWarn},
		},
		{
			// Go cannot speak DHE: only the raw ClientHello can see this server.
			name:       "tls 1.0 with dhe only",
			cfg:        testserver.RedisConfig{Cert: rsaCert, CA: ca, AuthClients: "no", Protocols: "TLSv1", Ciphers: "DHE-RSA-AES256-SHA:@SECLEVEL=0"},
			versions:   []string{"TLS 1.0"},
			clientAuth: "none",
			want:       map[string]tlsprobe.Status{tlsprobe.CheckLegacyVersions: tlsprobe.StatusFail, tlsprobe.CheckHandshake: tlsprobe.StatusFail},
		},
		{
			name:       "tls 1.2 with chosen openssl suites",
			cfg:        testserver.RedisConfig{Cert: rsaCert, CA: ca, AuthClients: "no", Protocols: "TLSv1.2", Ciphers: strings.Join(opensslSuites, ":")},
			versions:   []string{"TLS 1.2"},
			clientAuth: "none",
			suites:     ianaSuites,
			want:       map[string]tlsprobe.Status{tlsprobe.CheckNoPFS: tlsprobe.StatusFail, tlsprobe.CheckWeakCiphers: tlsprobe.StatusPass},
		},
		{
			name:       "tls 1.3 only",
			cfg:        testserver.RedisConfig{Cert: cert, CA: ca, AuthClients: "no", Protocols: "TLSv1.3"},
			versions:   []string{"TLS 1.3"},
			clientAuth: "none",
			want:       map[string]tlsprobe.Status{tlsprobe.CheckTLS13: tlsprobe.StatusPass},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := testserver.StartRedis(t, tc.cfg)
			r := probe(t, ca.Pool(), "redis://"+addr)
			if got := acceptedVersions(r); !slices.Equal(got, tc.versions) {
				t.Errorf("versions = %v, want %v (%+v)", got, tc.versions, r.TLS)
			}
			if r.TLS == nil {
				t.Fatalf("no tls observations: %+v", r)
			}
			if r.TLS.ClientAuth != tc.clientAuth {
				t.Errorf("clientAuth = %q, want %q", r.TLS.ClientAuth, tc.clientAuth)
			}
			if tc.suites != nil {
				got := acceptedSuites(r)
				slices.Sort(got)
				want := slices.Sorted(slices.Values(tc.suites))
				if !slices.Equal(got, want) {
					t.Errorf("accepted suites\n got %v\nwant %v", got, want)
				}
			}
			for _, s := range acceptedSuites(r) {
				if strings.Contains(s, "RC4") || strings.Contains(s, "3DES") {
					t.Errorf("redis with OpenSSL 3 defaults accepted %s", s)
				}
			}
			if r.TLS.NegotiatedVersion != tls.VersionName(tls.VersionTLS13) && slices.Contains(tc.versions, "TLS 1.3") {
				t.Errorf("negotiated %s, want TLS 1.3", r.TLS.NegotiatedVersion)
			}
			wantStatus(t, r, tc.want)
		})
	}
}
