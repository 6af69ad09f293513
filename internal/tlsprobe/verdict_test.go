package tlsprobe

import (
	"testing"
	"time"
)

var evalNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// goodTLS is a TLS 1.2+1.3 endpoint with a fresh, trusted certificate.
func goodTLS() *TLSInfo {
	return &TLSInfo{
		Versions: []VersionResult{
			{Version: "TLS 1.0"}, {Version: "TLS 1.1"},
			{Version: "TLS 1.2", Accepted: true}, {Version: "TLS 1.3", Accepted: true},
		},
		NegotiatedVersion: "TLS 1.3", NegotiatedSuite: "TLS_AES_128_GCM_SHA256",
		Suites12:   []SuiteResult{{Name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Accepted: true}},
		ClientAuth: "none",
		Certificate: &CertInfo{
			NotBefore: evalNow.Add(-24 * time.Hour), NotAfter: evalNow.Add(90 * 24 * time.Hour), DaysToExpiry: 90,
			KeyType: "ECDSA P-256", KeyBits: 256, SignatureAlgorithm: "ECDSA-SHA256", Trusted: true, HostnameMatch: true,
		},
	}
}

func endpoint(tweaks ...func(*EndpointResult)) EndpointResult {
	r := EndpointResult{Scheme: SchemeTLS, MinVersion: "TLS 1.2", TLS: goodTLS()}
	for _, f := range tweaks {
		f(&r)
	}
	return r
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name    string
		r       EndpointResult
		id      string
		status  Status
		sev     Severity
		failsAt Severity // the --fail-on level at which this check starts failing the run; info: never
	}{
		{name: "unreachable", r: EndpointResult{Error: "dial tcp: connection refused"}, id: CheckConnect, status: StatusError, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "modern endpoint", r: endpoint(), id: CheckLegacyVersions, status: StatusPass, sev: SeverityHigh},
		{name: "tls 1.0 accepted", r: endpoint(func(r *EndpointResult) { r.TLS.Versions[0].Accepted = true }), id: CheckLegacyVersions, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "tls 1.1 accepted", r: endpoint(func(r *EndpointResult) { r.TLS.Versions[1].Accepted = true }), id: CheckLegacyVersions, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "only legacy versions", r: endpoint(func(r *EndpointResult) {
			r.TLS.Versions = []VersionResult{{Version: "TLS 1.0", Accepted: true}, {Version: "TLS 1.1"}, {Version: "TLS 1.2"}, {Version: "TLS 1.3"}}
		}), id: CheckHandshake, status: StatusFail, sev: SeverityCritical, failsAt: SeverityCritical},
		{name: "no tls 1.3", r: endpoint(func(r *EndpointResult) { r.TLS.Versions[3].Accepted = false }), id: CheckTLS13, status: StatusWarn, sev: SeverityLow, failsAt: SeverityLow},
		{name: "tls 1.3 required, 1.2 accepted", r: endpoint(func(r *EndpointResult) { r.MinVersion = "TLS 1.3" }), id: CheckMinVersion, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "tls 1.3 required and alone", r: endpoint(func(r *EndpointResult) { r.MinVersion, r.TLS.Versions[2].Accepted = "TLS 1.3", false }), id: CheckMinVersion, status: StatusPass, sev: SeverityHigh},
		{name: "tls 1.3 required but missing", r: endpoint(func(r *EndpointResult) { r.MinVersion, r.TLS.Versions[3].Accepted = "TLS 1.3", false }), id: CheckTLS13, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "ssl 3.0 accepted", r: endpoint(func(r *EndpointResult) {
			r.TLS.Versions = append([]VersionResult{{Version: "SSL 3.0", Accepted: true}}, r.TLS.Versions...)
		}), id: CheckLegacyVersions, status: StatusFail, sev: SeverityCritical, failsAt: SeverityCritical},
		{name: "null suite", r: endpoint(func(r *EndpointResult) {
			r.TLS.Suites12 = append(r.TLS.Suites12, SuiteResult{Name: "TLS_RSA_WITH_NULL_SHA256", Accepted: true})
		}), id: CheckNullAnon, status: StatusFail, sev: SeverityCritical, failsAt: SeverityCritical},
		{name: "anonymous suite", r: endpoint(func(r *EndpointResult) {
			r.TLS.Suites12 = append(r.TLS.Suites12, SuiteResult{Name: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", Accepted: true})
		}), id: CheckNullAnon, status: StatusFail, sev: SeverityCritical, failsAt: SeverityCritical},
		{name: "export suite", r: endpoint(func(r *EndpointResult) {
			r.TLS.Suites12 = append(r.TLS.Suites12, SuiteResult{Name: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", Accepted: true})
		}), id: CheckWeakCiphers, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "dhe gcm is fine", r: endpoint(func(r *EndpointResult) {
			r.TLS.Suites12 = append(r.TLS.Suites12, SuiteResult{Name: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", Accepted: true})
		}), id: CheckNoPFS, status: StatusPass, sev: SeverityMedium},
		{name: "static ecdh", r: endpoint(func(r *EndpointResult) {
			r.TLS.Suites12 = append(r.TLS.Suites12, SuiteResult{Name: "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", Accepted: true})
		}), id: CheckNoPFS, status: StatusFail, sev: SeverityMedium, failsAt: SeverityMedium},
		{name: "3des suite", r: endpoint(func(r *EndpointResult) {
			r.TLS.Suites12 = append(r.TLS.Suites12, SuiteResult{Name: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", Accepted: true})
		}), id: CheckWeakCiphers, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "rsa key exchange", r: endpoint(func(r *EndpointResult) {
			r.TLS.Suites12 = append(r.TLS.Suites12, SuiteResult{Name: "TLS_RSA_WITH_AES_128_GCM_SHA256", Accepted: true})
		}), id: CheckNoPFS, status: StatusFail, sev: SeverityMedium, failsAt: SeverityMedium},
		{name: "rsa kex offered but refused", r: endpoint(func(r *EndpointResult) {
			r.TLS.Suites12 = append(r.TLS.Suites12, SuiteResult{Name: "TLS_RSA_WITH_AES_128_GCM_SHA256"})
		}), id: CheckNoPFS, status: StatusPass, sev: SeverityMedium},
		{name: "cbc suite", r: endpoint(func(r *EndpointResult) {
			r.TLS.Suites12 = append(r.TLS.Suites12, SuiteResult{Name: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Accepted: true})
		}), id: CheckCBC, status: StatusFail, sev: SeverityLow, failsAt: SeverityLow},
		{name: "expired", r: endpoint(func(r *EndpointResult) {
			r.TLS.Certificate.NotAfter, r.TLS.Certificate.DaysToExpiry = evalNow.Add(-time.Hour), -1
		}), id: CheckCertExpiry, status: StatusFail, sev: SeverityCritical, failsAt: SeverityCritical},
		{name: "expires in 29 days", r: endpoint(func(r *EndpointResult) {
			r.TLS.Certificate.NotAfter, r.TLS.Certificate.DaysToExpiry = evalNow.Add(29*24*time.Hour+time.Hour), 29
		}), id: CheckCertExpiry, status: StatusWarn, sev: SeverityMedium, failsAt: SeverityMedium},
		{name: "expires in 30 days", r: endpoint(func(r *EndpointResult) {
			r.TLS.Certificate.NotAfter, r.TLS.Certificate.DaysToExpiry = evalNow.Add(30*24*time.Hour+time.Hour), 30
		}), id: CheckCertExpiry, status: StatusPass, sev: SeverityCritical},
		{name: "not yet valid", r: endpoint(func(r *EndpointResult) { r.TLS.Certificate.NotBefore = evalNow.Add(time.Hour) }), id: CheckCertExpiry, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "untrusted", r: endpoint(func(r *EndpointResult) { r.TLS.Certificate.Trusted = false }), id: CheckCertTrust, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "wrong host", r: endpoint(func(r *EndpointResult) { r.TLS.Certificate.HostnameMatch = false }), id: CheckCertHostname, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "rsa 1024", r: endpoint(func(r *EndpointResult) { r.TLS.Certificate.KeyType, r.TLS.Certificate.KeyBits = "RSA", 1024 }), id: CheckCertKey, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "rsa 2048", r: endpoint(func(r *EndpointResult) { r.TLS.Certificate.KeyType, r.TLS.Certificate.KeyBits = "RSA", 2048 }), id: CheckCertKey, status: StatusPass, sev: SeverityHigh},
		{name: "sha1 signature", r: endpoint(func(r *EndpointResult) { r.TLS.Certificate.SignatureAlgorithm = "SHA1-RSA" }), id: CheckCertSignature, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "client auth is informational", r: endpoint(func(r *EndpointResult) { r.TLS.ClientAuth = "required" }), id: CheckClientAuth, status: StatusInfo, sev: SeverityInfo},
		{name: "postgres ssl off", r: EndpointResult{Scheme: SchemePostgres, Postgres: &PostgresInfo{SSLResponse: "N", PlaintextStartup: PlaintextAccepted, PlaintextDetail: "server asked for SASL"}}, id: CheckPGSSL, status: StatusFail, sev: SeverityCritical, failsAt: SeverityCritical},
		{name: "postgres plaintext with password", r: EndpointResult{Scheme: SchemePostgres, TLS: goodTLS(), Postgres: &PostgresInfo{SSLResponse: "S", PlaintextStartup: PlaintextAccepted, PlaintextDetail: "server asked for SASL on an unencrypted connection"}}, id: CheckPGPlaintext, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "postgres plaintext with trust", r: EndpointResult{Scheme: SchemePostgres, TLS: goodTLS(), Postgres: &PostgresInfo{SSLResponse: "S", PlaintextStartup: PlaintextAccepted, PlaintextDetail: "server asked for nothing (AuthenticationOk: trust)"}}, id: CheckPGPlaintext, status: StatusFail, sev: SeverityCritical, failsAt: SeverityCritical},
		{name: "postgres plaintext refused", r: EndpointResult{Scheme: SchemePostgres, TLS: goodTLS(), Postgres: &PostgresInfo{SSLResponse: "S", PlaintextStartup: PlaintextRefused}}, id: CheckPGPlaintext, status: StatusPass, sev: SeverityHigh},
		{name: "postgres plaintext unknown", r: EndpointResult{Scheme: SchemePostgres, TLS: goodTLS(), Postgres: &PostgresInfo{SSLResponse: "S", PlaintextStartup: PlaintextUnknown}}, id: CheckPGPlaintext, status: StatusWarn, sev: SeverityMedium, failsAt: SeverityMedium},
		{name: "redis without auth", r: endpoint(func(r *EndpointResult) { r.Redis = &RedisInfo{PingReply: "+PONG"} }), id: CheckRedisAuth, status: StatusFail, sev: SeverityMedium, failsAt: SeverityMedium},
		{name: "redis noauth", r: endpoint(func(r *EndpointResult) {
			r.Redis = &RedisInfo{PingReply: "-NOAUTH Authentication required.", AuthNeeded: true}
		}), id: CheckRedisAuth, status: StatusPass, sev: SeverityMedium},
		{name: "301 to https", r: endpoint(withHTTP(HTTPInfo{PlainStatus: 301, PlainLocation: "https://x/"})), id: CheckHTTPRedirect, status: StatusPass, sev: SeverityMedium},
		{name: "308 to https", r: endpoint(withHTTP(HTTPInfo{PlainStatus: 308, PlainLocation: "HTTPS://x/"})), id: CheckHTTPRedirect, status: StatusPass, sev: SeverityMedium},
		{name: "302 to https", r: endpoint(withHTTP(HTTPInfo{PlainStatus: 302, PlainLocation: "https://x/"})), id: CheckHTTPRedirect, status: StatusWarn, sev: SeverityLow, failsAt: SeverityLow},
		{name: "307 to https", r: endpoint(withHTTP(HTTPInfo{PlainStatus: 307, PlainLocation: "https://x/"})), id: CheckHTTPRedirect, status: StatusWarn, sev: SeverityLow, failsAt: SeverityLow},
		{name: "301 to http", r: endpoint(withHTTP(HTTPInfo{PlainStatus: 301, PlainLocation: "http://x/"})), id: CheckHTTPRedirect, status: StatusFail, sev: SeverityMedium, failsAt: SeverityMedium},
		{name: "200 over http", r: endpoint(withHTTP(HTTPInfo{PlainStatus: 200})), id: CheckHTTPRedirect, status: StatusFail, sev: SeverityMedium, failsAt: SeverityMedium},
		{name: "port 80 closed", r: endpoint(withHTTP(HTTPInfo{PlainError: "connection refused"})), id: CheckHTTPRedirect, status: StatusInfo, sev: SeverityInfo},
		{name: "no hsts", r: endpoint(withHTTP(HTTPInfo{})), id: CheckHSTS, status: StatusFail, sev: SeverityMedium, failsAt: SeverityMedium},
		{name: "hsts max-age 0", r: endpoint(withHTTP(HTTPInfo{HSTS: "max-age=0"})), id: CheckHSTS, status: StatusFail, sev: SeverityMedium, failsAt: SeverityMedium},
		{name: "hsts one day", r: endpoint(withHTTP(HTTPInfo{HSTS: "max-age=86400", HSTSMaxAge: 86400})), id: CheckHSTS, status: StatusWarn, sev: SeverityLow, failsAt: SeverityLow},
		{name: "hsts one year", r: endpoint(withHTTP(HTTPInfo{HSTS: "max-age=31536000", HSTSMaxAge: 31536000})), id: CheckHSTS, status: StatusPass, sev: SeverityMedium},
		{name: "frame-ancestors counts", r: endpoint(withHTTP(HTTPInfo{SecurityHeaders: map[string]string{"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'"}})), id: CheckFraming, status: StatusPass, sev: SeverityMedium},
		{name: "xfo allow-from does not", r: endpoint(withHTTP(HTTPInfo{SecurityHeaders: map[string]string{"X-Frame-Options": "ALLOW-FROM https://x"}})), id: CheckFraming, status: StatusFail, sev: SeverityMedium, failsAt: SeverityMedium},
		{name: "referrer unsafe-url", r: endpoint(withHTTP(HTTPInfo{SecurityHeaders: map[string]string{"Referrer-Policy": "unsafe-url"}})), id: CheckReferrer, status: StatusFail, sev: SeverityLow, failsAt: SeverityLow},
		// A probe that got no answer is never a refusal (issue 13).
		{name: "tls 1.0 unanswered", r: endpoint(func(r *EndpointResult) {
			r.TLS.Versions[0] = VersionResult{Version: "TLS 1.0", Unknown: true, Error: "i/o timeout"}
		}), id: CheckLegacyVersions, status: StatusError, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "tls 1.0 accepted, 1.1 unanswered", r: endpoint(func(r *EndpointResult) {
			r.TLS.Versions[0].Accepted, r.TLS.Versions[1].Unknown = true, true
		}), id: CheckLegacyVersions, status: StatusFail, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "modern versions unanswered", r: endpoint(func(r *EndpointResult) {
			r.TLS.NegotiatedVersion = ""
			r.TLS.Versions[2], r.TLS.Versions[3] = VersionResult{Version: "TLS 1.2", Unknown: true}, VersionResult{Version: "TLS 1.3", Unknown: true}
		}), id: CheckHandshake, status: StatusError, sev: SeverityCritical, failsAt: SeverityCritical},
		{name: "tls 1.3 unanswered", r: endpoint(func(r *EndpointResult) { r.TLS.Versions[3] = VersionResult{Version: "TLS 1.3", Unknown: true} }), id: CheckTLS13, status: StatusError, sev: SeverityLow, failsAt: SeverityLow},
		{name: "tls 1.3 required, 1.2 unanswered", r: endpoint(func(r *EndpointResult) {
			r.MinVersion, r.TLS.Versions[2] = "TLS 1.3", VersionResult{Version: "TLS 1.2", Unknown: true}
		}), id: CheckMinVersion, status: StatusError, sev: SeverityHigh, failsAt: SeverityHigh},
		{name: "null suite unanswered", r: endpoint(func(r *EndpointResult) {
			r.TLS.Suites12 = append(r.TLS.Suites12, SuiteResult{Name: "TLS_RSA_WITH_NULL_SHA256", Unknown: true})
		}), id: CheckNullAnon, status: StatusError, sev: SeverityCritical, failsAt: SeverityCritical},
		{name: "unanswered gcm suite leaves cbc judged", r: endpoint(func(r *EndpointResult) {
			r.TLS.Suites12 = append(r.TLS.Suites12, SuiteResult{Name: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", Unknown: true})
		}), id: CheckCBC, status: StatusPass, sev: SeverityLow},
		{name: "https fetch failed", r: endpoint(withHTTP(HTTPInfo{HTTPSError: "timeout"})), id: CheckHTTPFetch, status: StatusError, sev: SeverityMedium, failsAt: SeverityMedium},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *Check
			for _, c := range Evaluate(tc.r, evalNow) {
				if c.ID == tc.id {
					got = &c
					break
				}
			}
			if got == nil {
				t.Fatalf("no check %s in %+v", tc.id, Evaluate(tc.r, evalNow))
			}
			if got.Status != tc.status || got.Severity != tc.sev {
				t.Errorf("%s = %s/%s (%s), want %s/%s", tc.id, got.Status, got.Severity, got.Message, tc.status, tc.sev)
			}
			for _, th := range []Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical} {
				want := tc.failsAt != SeverityInfo && th <= tc.failsAt
				if got.Failing(th) != want {
					t.Errorf("Failing(%s) = %v, want %v", th, got.Failing(th), want)
				}
			}
		})
	}
}

func withHTTP(h HTTPInfo) func(*EndpointResult) {
	return func(r *EndpointResult) {
		h.PlainURL = "http://x/"
		r.HTTP = &h
	}
}

func TestParseHSTSMaxAge(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		ok   bool
	}{
		{name: "plain", in: "max-age=31536000", want: 31536000, ok: true},
		{name: "with directives", in: "max-age=63072000; includeSubDomains; preload", want: 63072000, ok: true},
		{name: "quoted and spaced", in: ` includeSubDomains ; MAX-AGE = "300"`, want: 300, ok: true},
		{name: "zero", in: "max-age=0", want: 0, ok: true},
		{name: "missing", in: "includeSubDomains", ok: false},
		{name: "negative", in: "max-age=-1", ok: false},
		{name: "garbage", in: "max-age=abc", ok: false},
		{name: "empty", in: "", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseHSTSMaxAge(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseHSTSMaxAge(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestDaysUntil(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want int
	}{
		{name: "a day and an hour", d: 25 * time.Hour, want: 1},
		{name: "23 hours", d: 23 * time.Hour, want: 0},
		{name: "one second past", d: -time.Second, want: -1},
		{name: "exactly a day past", d: -24 * time.Hour, want: -1},
		{name: "a day and a second past", d: -24*time.Hour - time.Second, want: -2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := daysUntil(evalNow, evalNow.Add(tc.d)); got != tc.want {
				t.Errorf("daysUntil(%v) = %d, want %d", tc.d, got, tc.want)
			}
		})
	}
}
