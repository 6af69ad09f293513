package tlsprobe_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/tlsprobe"
	"github.com/budnet/budnet/internal/tlsprobe/internal/testserver"
)

// TestOpenSSLServer judges Debian's `openssl s_server` at each protocol range
// and some cipher settings. s_server serves one connection at a time, so a
// probe that holds a connection open while it opens others starves it.
func TestOpenSSLServer(t *testing.T) {
	ca := testserver.NewCA(t, "test ca")
	cert := testserver.Issue(t, ca, testserver.Leaf{DNSNames: []string{"localhost"}, IPs: loopback, Key: testserver.KeyRSA2048})
	const legacyOK = "ALL:@SECLEVEL=0" // OpenSSL 3 speaks TLS 1.0/1.1 only at security level 0
	tests := []struct {
		name     string
		cfg      testserver.OpenSSLConfig
		versions []string
		suites   []string // when set, exactly the TLS 1.2 suites accepted
		want     map[string]tlsprobe.Status
	}{
		{
			name:     "min TLSv1",
			cfg:      testserver.OpenSSLConfig{MinProtocol: "TLSv1", Cipher: legacyOK},
			versions: []string{"TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckLegacyVersions: tlsprobe.StatusFail, tlsprobe.CheckHandshake: tlsprobe.StatusPass, tlsprobe.CheckTLS13: tlsprobe.StatusPass},
		},
		{
			// At the default security level OpenSSL 3 answers a TLS 1.0 hello
			// with an internal_error alert: -min_protocol TLSv1 alone does not
			// make the server speak it.
			name:     "min TLSv1 at the default security level",
			cfg:      testserver.OpenSSLConfig{MinProtocol: "TLSv1"},
			versions: []string{"TLS 1.2", "TLS 1.3"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckLegacyVersions: tlsprobe.StatusPass, tlsprobe.CheckHandshake: tlsprobe.StatusPass},
		},
		{
			name:     "TLSv1 only",
			cfg:      testserver.OpenSSLConfig{MinProtocol: "TLSv1", MaxProtocol: "TLSv1", Cipher: legacyOK},
			versions: []string{"TLS 1.0"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckLegacyVersions: tlsprobe.StatusFail, tlsprobe.CheckHandshake: tlsprobe.StatusFail},
		},
		{
			name:     "min TLSv1.1",
			cfg:      testserver.OpenSSLConfig{MinProtocol: "TLSv1.1", Cipher: legacyOK},
			versions: []string{"TLS 1.1", "TLS 1.2", "TLS 1.3"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckLegacyVersions: tlsprobe.StatusFail, tlsprobe.CheckHandshake: tlsprobe.StatusPass},
		},
		{
			name:     "TLSv1.1 only",
			cfg:      testserver.OpenSSLConfig{MinProtocol: "TLSv1.1", MaxProtocol: "TLSv1.1", Cipher: legacyOK},
			versions: []string{"TLS 1.1"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckLegacyVersions: tlsprobe.StatusFail, tlsprobe.CheckHandshake: tlsprobe.StatusFail},
		},
		{
			name:     "min TLSv1.2",
			cfg:      testserver.OpenSSLConfig{MinProtocol: "TLSv1.2"},
			versions: []string{"TLS 1.2", "TLS 1.3"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckLegacyVersions: tlsprobe.StatusPass, tlsprobe.CheckHandshake: tlsprobe.StatusPass, tlsprobe.CheckTLS13: tlsprobe.StatusPass},
		},
		{
			name:     "TLSv1.2 only",
			cfg:      testserver.OpenSSLConfig{MinProtocol: "TLSv1.2", MaxProtocol: "TLSv1.2"},
			versions: []string{"TLS 1.2"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckLegacyVersions: tlsprobe.StatusPass, tlsprobe.CheckHandshake: tlsprobe.StatusPass, tlsprobe.CheckTLS13: tlsprobe.StatusWarn},
		},
		{
			name:     "TLSv1.3 only",
			cfg:      testserver.OpenSSLConfig{MinProtocol: "TLSv1.3"},
			versions: []string{"TLS 1.3"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckLegacyVersions: tlsprobe.StatusPass, tlsprobe.CheckHandshake: tlsprobe.StatusPass, tlsprobe.CheckTLS13: tlsprobe.StatusPass},
		},
		{
			name:     "TLSv1.2 with static RSA and CBC suites",
			cfg:      testserver.OpenSSLConfig{MinProtocol: "TLSv1.2", MaxProtocol: "TLSv1.2", Cipher: "AES128-SHA:AES256-GCM-SHA384"},
			versions: []string{"TLS 1.2"},
			suites:   []string{"TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_GCM_SHA384"},
			want: map[string]tlsprobe.Status{
				tlsprobe.CheckNoPFS: tlsprobe.StatusFail, tlsprobe.CheckCBC: tlsprobe.StatusFail,
				tlsprobe.CheckWeakCiphers: tlsprobe.StatusPass, tlsprobe.CheckNullAnon: tlsprobe.StatusPass,
			},
		},
		{
			name:     "TLSv1.2 with ECDHE GCM only",
			cfg:      testserver.OpenSSLConfig{MinProtocol: "TLSv1.2", MaxProtocol: "TLSv1.2", Cipher: "ECDHE-RSA-AES128-GCM-SHA256"},
			versions: []string{"TLS 1.2"},
			suites:   []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckNoPFS: tlsprobe.StatusPass, tlsprobe.CheckCBC: tlsprobe.StatusPass},
		},
		{
			name:     "TLSv1.2 with NULL and anonymous suites",
			cfg:      testserver.OpenSSLConfig{MinProtocol: "TLSv1.2", MaxProtocol: "TLSv1.2", Cipher: "ECDHE-RSA-AES128-GCM-SHA256:NULL-SHA256:ADH-AES128-GCM-SHA256:@SECLEVEL=0"},
			versions: []string{"TLS 1.2"},
			suites:   []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_NULL_SHA256", "TLS_DH_anon_WITH_AES_128_GCM_SHA256"},
			want:     map[string]tlsprobe.Status{tlsprobe.CheckNullAnon: tlsprobe.StatusFail},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Cert = cert
			addr := testserver.StartOpenSSL(t, tc.cfg)
			r := probe(t, ca.Pool(), "tls://"+addr)
			if r.TLS == nil {
				t.Fatalf("no tls observations: %+v", r)
			}
			if got := acceptedVersions(r); !slices.Equal(got, tc.versions) {
				t.Errorf("versions = %v, want %v (%+v)", got, tc.versions, r.TLS.Versions)
			}
			for _, v := range r.TLS.Versions {
				if v.Unknown {
					t.Errorf("%s unanswered against a server that answers every connection: %s", v.Version, v.Error)
				}
			}
			if tc.suites != nil {
				got := acceptedSuites(r)
				slices.Sort(got)
				if want := slices.Sorted(slices.Values(tc.suites)); !slices.Equal(got, want) {
					t.Errorf("accepted suites\n got %v\nwant %v", got, want)
				}
			}
			wantStatus(t, r, tc.want)
			assertConsistent(t, r)
		})
	}
}

// TestUnansweredProbes: a probe that got no answer is unknown, and no check
// built on it passes.
func TestUnansweredProbes(t *testing.T) {
	ca := testserver.NewCA(t, "test ca")
	cert := testserver.Issue(t, ca, testserver.Leaf{DNSNames: []string{"localhost"}, IPs: loopback, Key: testserver.KeyRSA2048})

	t.Run("listener that accepts and never answers", func(t *testing.T) {
		addr := testserver.StartSilent(t)
		r := probe(t, ca.Pool(), "tls://"+addr, func(o *tlsprobe.Options) { o.Timeout = time.Second })
		wantStatus(t, r, map[string]tlsprobe.Status{tlsprobe.CheckConnect: tlsprobe.StatusError})
		for _, c := range r.Checks {
			if c.Status == tlsprobe.StatusPass {
				t.Errorf("check %s passed against a silent listener: %s", c.ID, c.Message)
			}
		}
		if !checkOf(t, r, tlsprobe.CheckConnect).Failing(tlsprobe.SeverityHigh) {
			t.Errorf("the unanswered endpoint does not fail --fail-on high")
		}
	})

	t.Run("server that answers the first connection only", func(t *testing.T) {
		// s_server accepts TLS 1.0; every probe after the first gets silence.
		upstream := testserver.StartOpenSSL(t, testserver.OpenSSLConfig{Cert: cert, MinProtocol: "TLSv1", Cipher: "ALL:@SECLEVEL=0"})
		addr := testserver.StartGate(t, upstream, 1)
		r := probe(t, ca.Pool(), "tls://"+addr, func(o *tlsprobe.Options) { o.Timeout = time.Second })
		if r.TLS == nil {
			t.Fatalf("no tls observations: %+v", r)
		}
		wantStatus(t, r, map[string]tlsprobe.Status{
			tlsprobe.CheckLegacyVersions: tlsprobe.StatusError,
			tlsprobe.CheckHandshake:      tlsprobe.StatusPass, // the first handshake did succeed
		})
		if c := checkOf(t, r, tlsprobe.CheckLegacyVersions); !strings.Contains(c.Message, "not judged") || !c.Failing(tlsprobe.SeverityHigh) {
			t.Errorf("legacy check = %+v, want a failing \"not judged\"", c)
		}
		for _, v := range r.TLS.Versions {
			if v.Version != r.TLS.NegotiatedVersion && !v.Unknown {
				t.Errorf("%s judged (accepted=%v) without an answer: %+v", v.Version, v.Accepted, v)
			}
		}
		assertConsistent(t, r)
	})
}

// assertConsistent checks what one result must never say at once.
func assertConsistent(t *testing.T, r tlsprobe.EndpointResult) {
	t.Helper()
	if r.TLS == nil || r.TLS.NegotiatedVersion == "" {
		return
	}
	if !slices.Contains(acceptedVersions(r), r.TLS.NegotiatedVersion) {
		t.Errorf("negotiated %s but versions accepted are %v", r.TLS.NegotiatedVersion, acceptedVersions(r))
	}
	if c := checkOf(t, r, tlsprobe.CheckHandshake); c.Status != tlsprobe.StatusPass &&
		(r.TLS.NegotiatedVersion == "TLS 1.2" || r.TLS.NegotiatedVersion == "TLS 1.3") {
		t.Errorf("negotiated %s, yet %s says %s: %s", r.TLS.NegotiatedVersion, c.ID, c.Status, c.Message)
	}
}
