package tlsprobe_test

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/tlsprobe"
	"github.com/budnet/budnet/internal/tlsprobe/internal/testserver"
)

var loopback = []net.IP{net.IPv4(127, 0, 0, 1)}

func TestVersionEnumeration(t *testing.T) {
	ca := testserver.NewCA(t, "test ca")
	cert := testserver.Issue(t, ca, testserver.Leaf{DNSNames: []string{"localhost"}, IPs: loopback})
	tests := []struct {
		name      string
		min, max  uint16
		want      []string
		legacy    tlsprobe.Status
		handshake tlsprobe.Status
	}{
		{name: "tls1.0 only", min: tls.VersionTLS10, max: tls.VersionTLS10, want: []string{"TLS 1.0"}, legacy: tlsprobe.StatusFail, handshake: tlsprobe.StatusFail},
		{name: "tls1.1 only", min: tls.VersionTLS11, max: tls.VersionTLS11, want: []string{"TLS 1.1"}, legacy: tlsprobe.StatusFail, handshake: tlsprobe.StatusFail},
		{name: "tls1.2 only", min: tls.VersionTLS12, max: tls.VersionTLS12, want: []string{"TLS 1.2"}, legacy: tlsprobe.StatusPass, handshake: tlsprobe.StatusPass},
		{name: "tls1.3 only", min: tls.VersionTLS13, max: tls.VersionTLS13, want: []string{"TLS 1.3"}, legacy: tlsprobe.StatusPass, handshake: tlsprobe.StatusPass},
		{name: "tls1.0 to 1.3", min: tls.VersionTLS10, max: tls.VersionTLS13, want: []string{"TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"}, legacy: tlsprobe.StatusFail, handshake: tlsprobe.StatusPass},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := testserver.StartTLS(t, &tls.Config{Certificates: []tls.Certificate{cert.TLS}, MinVersion: tc.min, MaxVersion: tc.max})
			r := probe(t, ca.Pool(), "tls://"+addr)
			if got := acceptedVersions(r); !slices.Equal(got, tc.want) {
				t.Errorf("accepted versions = %v, want %v; detail %+v", got, tc.want, r.TLS.Versions)
			}
			wantStatus(t, r, map[string]tlsprobe.Status{
				tlsprobe.CheckLegacyVersions: tc.legacy,
				tlsprobe.CheckHandshake:      tc.handshake,
			})
		})
	}
}

func TestSuiteEnumeration(t *testing.T) {
	ca := testserver.NewCA(t, "test ca")
	rsaCert := testserver.Issue(t, ca, testserver.Leaf{IPs: loopback, Key: testserver.KeyRSA2048})
	ecCert := testserver.Issue(t, ca, testserver.Leaf{IPs: loopback})
	tests := []struct {
		name  string
		cert  testserver.Issued
		suite uint16
		want  map[string]tlsprobe.Status
	}{
		{
			name: "ecdhe rsa gcm", cert: rsaCert, suite: tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			want: map[string]tlsprobe.Status{tlsprobe.CheckWeakCiphers: tlsprobe.StatusPass, tlsprobe.CheckNoPFS: tlsprobe.StatusPass, tlsprobe.CheckCBC: tlsprobe.StatusPass},
		},
		{
			name: "ecdhe ecdsa chacha20", cert: ecCert, suite: tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			want: map[string]tlsprobe.Status{tlsprobe.CheckWeakCiphers: tlsprobe.StatusPass, tlsprobe.CheckNoPFS: tlsprobe.StatusPass},
		},
		{
			name: "rsa key exchange cbc", cert: rsaCert, suite: tls.TLS_RSA_WITH_AES_128_CBC_SHA,
			want: map[string]tlsprobe.Status{tlsprobe.CheckWeakCiphers: tlsprobe.StatusPass, tlsprobe.CheckNoPFS: tlsprobe.StatusFail, tlsprobe.CheckCBC: tlsprobe.StatusFail},
		},
		{
			name: "3des", cert: rsaCert, suite: tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
			want: map[string]tlsprobe.Status{tlsprobe.CheckWeakCiphers: tlsprobe.StatusFail, tlsprobe.CheckNoPFS: tlsprobe.StatusPass},
		},
		{
			name: "rc4", cert: rsaCert, suite: tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA,
			want: map[string]tlsprobe.Status{tlsprobe.CheckWeakCiphers: tlsprobe.StatusFail},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := testserver.StartTLS(t, &tls.Config{
				Certificates: []tls.Certificate{tc.cert.TLS},
				MinVersion:   tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tc.suite},
			})
			r := probe(t, ca.Pool(), "tls://"+addr)
			want := []string{tls.CipherSuiteName(tc.suite)}
			if got := acceptedSuites(r); !slices.Equal(got, want) {
				t.Errorf("accepted suites = %v, want %v", got, want)
			}
			if r.TLS.NegotiatedSuite != tls.CipherSuiteName(tc.suite) && r.TLS.NegotiatedSuite != "" {
				t.Errorf("negotiated %s, want %s or none", r.TLS.NegotiatedSuite, want[0])
			}
			wantStatus(t, r, tc.want)
		})
	}
}

func TestCertificates(t *testing.T) {
	ca := testserver.NewCA(t, "test ca")
	now := time.Now()
	tests := []struct {
		name   string
		issuer *testserver.CA
		leaf   testserver.Leaf
		host   string
		want   map[string]tlsprobe.Status
	}{
		{
			name: "valid", issuer: ca, host: "localhost",
			leaf: testserver.Leaf{DNSNames: []string{"localhost"}},
			want: map[string]tlsprobe.Status{tlsprobe.CheckCertTrust: tlsprobe.StatusPass, tlsprobe.CheckCertHostname: tlsprobe.StatusPass, tlsprobe.CheckCertExpiry: tlsprobe.StatusPass, tlsprobe.CheckCertKey: tlsprobe.StatusPass, tlsprobe.CheckCertSignature: tlsprobe.StatusPass},
		},
		{
			name: "expired", issuer: ca, host: "localhost",
			leaf: testserver.Leaf{DNSNames: []string{"localhost"}, NotBefore: now.Add(-40 * 24 * time.Hour), NotAfter: now.Add(-2 * 24 * time.Hour)},
			want: map[string]tlsprobe.Status{tlsprobe.CheckCertTrust: tlsprobe.StatusPass, tlsprobe.CheckCertExpiry: tlsprobe.StatusFail},
		},
		{
			name: "expiring soon", issuer: ca, host: "localhost",
			leaf: testserver.Leaf{DNSNames: []string{"localhost"}, NotAfter: now.Add(10 * 24 * time.Hour)},
			want: map[string]tlsprobe.Status{tlsprobe.CheckCertTrust: tlsprobe.StatusPass, tlsprobe.CheckCertExpiry: tlsprobe.StatusWarn},
		},
		{
			name: "wrong host", issuer: ca, host: "localhost",
			leaf: testserver.Leaf{DNSNames: []string{"db.other.example"}},
			want: map[string]tlsprobe.Status{tlsprobe.CheckCertTrust: tlsprobe.StatusPass, tlsprobe.CheckCertHostname: tlsprobe.StatusFail},
		},
		{
			name: "self-signed", issuer: nil, host: "localhost",
			leaf: testserver.Leaf{DNSNames: []string{"localhost"}},
			want: map[string]tlsprobe.Status{tlsprobe.CheckCertTrust: tlsprobe.StatusFail, tlsprobe.CheckCertHostname: tlsprobe.StatusPass},
		},
		{
			name: "ip literal target", issuer: ca, host: "127.0.0.1",
			leaf: testserver.Leaf{IPs: loopback},
			want: map[string]tlsprobe.Status{tlsprobe.CheckCertTrust: tlsprobe.StatusPass, tlsprobe.CheckCertHostname: tlsprobe.StatusPass},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cert := testserver.Issue(t, tc.issuer, tc.leaf)
			addr := testserver.StartTLS(t, &tls.Config{Certificates: []tls.Certificate{cert.TLS}})
			port := portOf(t, addr)
			target := "tls://" + net.JoinHostPort(tc.host, itoa(port))
			r := probe(t, ca.Pool(), target, func(o *tlsprobe.Options) {
				o.Resolve = map[string]string{net.JoinHostPort(tc.host, itoa(port)): addr}
			})
			wantStatus(t, r, tc.want)
			if c := r.TLS.Certificate; c == nil || c.SelfSigned != (tc.issuer == nil) {
				t.Errorf("certificate info %+v: selfSigned want %v", c, tc.issuer == nil)
			}
		})
	}
}

func TestClickHouseSchemesUseTLSDirectly(t *testing.T) {
	// Debian's clickhouse-server is a 2018 release; a Go TLS server stands in
	// for its TLS ports, which speak TLS from the first byte.
	ca := testserver.NewCA(t, "test ca")
	cert := testserver.Issue(t, ca, testserver.Leaf{IPs: loopback})
	addr := testserver.StartTLS(t, &tls.Config{Certificates: []tls.Certificate{cert.TLS}})
	for _, scheme := range []string{"clickhouse-native", "clickhouse-https", "tls"} {
		t.Run(scheme, func(t *testing.T) {
			r := probe(t, ca.Pool(), scheme+"://"+addr)
			wantStatus(t, r, map[string]tlsprobe.Status{tlsprobe.CheckHandshake: tlsprobe.StatusPass, tlsprobe.CheckCertTrust: tlsprobe.StatusPass})
		})
	}
}

func TestClientAuthDetection(t *testing.T) {
	ca := testserver.NewCA(t, "test ca")
	cert := testserver.Issue(t, ca, testserver.Leaf{IPs: loopback})
	tests := []struct {
		name string
		auth tls.ClientAuthType
		max  uint16
		want string
	}{
		{name: "none", auth: tls.NoClientCert, max: tls.VersionTLS13, want: "none"},
		{name: "requested", auth: tls.RequestClientCert, max: tls.VersionTLS13, want: "requested"},
		{name: "required tls1.2", auth: tls.RequireAndVerifyClientCert, max: tls.VersionTLS12, want: "required"},
		{name: "required tls1.3 only", auth: tls.RequireAndVerifyClientCert, max: tls.VersionTLS13, want: "required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{Certificates: []tls.Certificate{cert.TLS}, ClientAuth: tc.auth, ClientCAs: ca.Pool(), MaxVersion: tc.max}
			if tc.name == "required tls1.3 only" {
				cfg.MinVersion = tls.VersionTLS13
			}
			addr := testserver.StartTLS(t, cfg)
			r := probe(t, ca.Pool(), "tls://"+addr)
			if r.TLS == nil || r.TLS.ClientAuth != tc.want {
				t.Fatalf("clientAuth = %+v, want %s", r.TLS, tc.want)
			}
			if tc.auth != tls.NoClientCert && len(acceptedVersions(r)) == 0 {
				t.Errorf("a server demanding client certificates still accepts versions; got none: %+v", r.TLS.Versions)
			}
		})
	}
}

func TestUnreachableAndCancelled(t *testing.T) {
	port := testserver.FreePort(t) // nothing listens here now
	r := probe(t, nil, "tls://127.0.0.1:"+itoa(port))
	if c := checkOf(t, r, tlsprobe.CheckConnect); c.Status != tlsprobe.StatusError || !c.Failing(tlsprobe.SeverityHigh) {
		t.Errorf("connect check = %+v, want a failing error", c)
	}
	pg := probe(t, nil, "postgres://127.0.0.1:"+itoa(port))
	if pg.Error == "" || pg.Postgres == nil || pg.Postgres.SSLResponse != "" || pg.Postgres.PlaintextStartup != tlsprobe.PlaintextUnknown {
		t.Errorf("unreachable postgres must report no SSLRequest answer: %+v %+v", pg, pg.Postgres)
	}

	p, err := tlsprobe.New(tlsprobe.Options{Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	target, _ := tlsprobe.ParseTarget("tls://127.0.0.1:" + itoa(port))
	rs := p.CheckAll(ctx, []tlsprobe.Target{target, target, target})
	for _, r := range rs {
		if r.Error == "" {
			t.Errorf("cancelled probe of %s has no error", r.Target)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
