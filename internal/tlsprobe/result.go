package tlsprobe

import (
	"encoding/json"
	"github.com/budnet/budnet/internal/severity"
	"time"
)

// SchemaVersion identifies the JSON report layout documented in docs/tls.md.
// Fields may be added within a version; none are renamed or removed.
const SchemaVersion = "budnet.tls/v1"

// Severity ranks checks; it is budnet's one severity scale (internal/severity).
type Severity = severity.Level

// Severities, lowest first.
const (
	SeverityInfo     = severity.Info
	SeverityLow      = severity.Low
	SeverityMedium   = severity.Medium
	SeverityHigh     = severity.High
	SeverityCritical = severity.Critical
)

// ParseSeverity reads a severity name (case-insensitive).
func ParseSeverity(s string) (Severity, error) { return severity.Parse(s) }

// Status is the outcome of one check.
type Status string

// Statuses. Warn and fail both count against --fail-on by their severity; error
// means the check could not be made (the endpoint did not answer), which is never
// a pass.
const (
	StatusPass  Status = "pass"
	StatusWarn  Status = "warn"
	StatusFail  Status = "fail"
	StatusError Status = "error"
	StatusInfo  Status = "info"
)

// Check is one verdict about an endpoint.
type Check struct {
	ID       string   `json:"id"`
	Status   Status   `json:"status"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// Failing reports whether the check counts against a threshold.
func (c Check) Failing(threshold Severity) bool {
	switch c.Status {
	case StatusWarn, StatusFail, StatusError:
		return c.Severity >= threshold && c.Severity > SeverityInfo
	}
	return false
}

// VersionResult says whether the endpoint completed a handshake pinned to one
// protocol version.
type VersionResult struct {
	Version  string `json:"version"`
	Accepted bool   `json:"accepted"`
	// Evidence is "handshake" (a crypto/tls handshake completed) or
	// "server-hello" (the server chose this version in answer to a raw
	// ClientHello); empty when not accepted.
	Evidence string `json:"evidence,omitempty"`
	Note     string `json:"note,omitempty"`
	// Unknown means the probe got no answer (a timeout, a dial or upgrade
	// error): the version was neither seen accepted nor seen refused, and no
	// verdict may count it as refused.
	Unknown bool   `json:"unknown,omitempty"`
	Error   string `json:"error,omitempty"`
}

// SuiteResult says whether the endpoint accepted one TLS 1.2 cipher suite
// offered alone.
type SuiteResult struct {
	Name     string `json:"name"`
	ID       uint16 `json:"id"`
	Accepted bool   `json:"accepted"`
	// Insecure is Go's own classification (tls.InsecureCipherSuites) for the
	// suites Go implements; for the others it marks NULL, anonymous, export,
	// broken-cipher and non-forward-secret suites.
	Insecure bool `json:"insecure"`
	// Evidence is how the suite was probed: "handshake" or "server-hello".
	Evidence string `json:"evidence"`
	// Unknown means the probe got no answer, as for VersionResult.
	Unknown bool `json:"unknown,omitempty"`
}

// CertInfo describes the leaf certificate and how it verified.
type CertInfo struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	DNSNames           []string  `json:"dnsNames,omitempty"`
	IPAddresses        []string  `json:"ipAddresses,omitempty"`
	NotBefore          time.Time `json:"notBefore"`
	NotAfter           time.Time `json:"notAfter"`
	DaysToExpiry       int       `json:"daysToExpiry"`
	KeyType            string    `json:"keyType"`
	KeyBits            int       `json:"keyBits"`
	SignatureAlgorithm string    `json:"signatureAlgorithm"`
	SelfSigned         bool      `json:"selfSigned"`
	ChainLength        int       `json:"chainLength"`
	Trusted            bool      `json:"trusted"`
	TrustError         string    `json:"trustError,omitempty"`
	HostnameMatch      bool      `json:"hostnameMatch"`
	HostnameError      string    `json:"hostnameError,omitempty"`
}

// TLSInfo is what the handshakes revealed.
type TLSInfo struct {
	Versions []VersionResult `json:"versions"`
	// NegotiatedVersion and NegotiatedSuite come from a handshake offering
	// everything this client supports, so they are what a modern client gets.
	NegotiatedVersion string        `json:"negotiatedVersion,omitempty"`
	NegotiatedSuite   string        `json:"negotiatedSuite,omitempty"`
	ALPN              string        `json:"alpn,omitempty"`
	Suites12          []SuiteResult `json:"tls12CipherSuites,omitempty"`
	// ClientAuth is "none", "requested" (a certificate request the handshake
	// survives without a certificate) or "required".
	ClientAuth  string    `json:"clientAuth"`
	Certificate *CertInfo `json:"certificate,omitempty"`
}

// PostgresInfo holds the PostgreSQL-specific observations.
type PostgresInfo struct {
	// SSLResponse is the single byte the server answered to SSLRequest: "S" or "N".
	SSLResponse string `json:"sslResponse"`
	// PlaintextStartup is "refused", "accepted" or "unknown": what the server did
	// with a StartupMessage sent without TLS. No credentials are ever sent.
	PlaintextStartup string `json:"plaintextStartup"`
	PlaintextDetail  string `json:"plaintextDetail,omitempty"`
}

// RedisInfo holds what a PING over the TLS session returned.
type RedisInfo struct {
	PingReply  string `json:"pingReply,omitempty"`
	AuthNeeded bool   `json:"authRequired"`
	Error      string `json:"error,omitempty"`
}

// HTTPInfo holds the HTTPS edge observations.
type HTTPInfo struct {
	PlainURL        string            `json:"plainURL"`
	PlainStatus     int               `json:"plainStatus,omitempty"`
	PlainLocation   string            `json:"plainLocation,omitempty"`
	PlainError      string            `json:"plainError,omitempty"`
	HTTPSStatus     int               `json:"httpsStatus,omitempty"`
	HTTPSError      string            `json:"httpsError,omitempty"`
	HSTS            string            `json:"hsts,omitempty"`
	HSTSMaxAge      int64             `json:"hstsMaxAge,omitempty"`
	SecurityHeaders map[string]string `json:"securityHeaders,omitempty"`
}

// EndpointResult is everything learned about one target.
type EndpointResult struct {
	Target  string `json:"target"`
	Scheme  Scheme `json:"scheme"`
	Host    string `json:"host"`
	Port    int    `json:"port"`
	Address string `json:"address"`
	Source  string `json:"source,omitempty"`
	// MinVersion is the policy floor the versions were judged against.
	MinVersion string        `json:"minVersion"`
	Duration   time.Duration `json:"-"`
	TLS        *TLSInfo      `json:"tls,omitempty"`
	Postgres   *PostgresInfo `json:"postgres,omitempty"`
	Redis      *RedisInfo    `json:"redis,omitempty"`
	HTTP       *HTTPInfo     `json:"http,omitempty"`
	// Error is set when the endpoint could not be reached at all.
	Error  string  `json:"error,omitempty"`
	Checks []Check `json:"checks"`
}

// MarshalJSON adds durationMs so the wire form does not depend on
// time.Duration's nanosecond encoding.
func (r EndpointResult) MarshalJSON() ([]byte, error) {
	type plain EndpointResult
	return json.Marshal(struct {
		plain
		DurationMS int64 `json:"durationMs"`
	}{plain(r), r.Duration.Milliseconds()})
}

// Worst returns the highest severity among the failing checks, and whether any failed.
func (r EndpointResult) Worst() (Severity, bool) {
	var worst Severity
	var any bool
	for _, c := range r.Checks {
		if c.Failing(SeverityLow) {
			any = true
			worst = max(worst, c.Severity)
		}
	}
	return worst, any
}

// Report is the result of one run over many targets.
type Report struct {
	SchemaVersion string           `json:"schemaVersion"`
	GeneratedAt   time.Time        `json:"generatedAt"`
	FailOn        Severity         `json:"failOn"`
	Endpoints     []EndpointResult `json:"endpoints"`
	Summary       Summary          `json:"summary"`
}

// Summary counts check outcomes across the report.
type Summary struct {
	Endpoints int `json:"endpoints"`
	Pass      int `json:"pass"`
	Warn      int `json:"warn"`
	Fail      int `json:"fail"`
	Error     int `json:"error"`
	Info      int `json:"info"`
	// Failing counts the checks at or above FailOn; non-zero means exit code 1.
	Failing int `json:"failing"`
}

// NewReport assembles a report and its summary.
func NewReport(results []EndpointResult, failOn Severity, now time.Time) Report {
	r := Report{SchemaVersion: SchemaVersion, GeneratedAt: now.UTC(), FailOn: failOn, Endpoints: results}
	r.Summary.Endpoints = len(results)
	for _, e := range results {
		for _, c := range e.Checks {
			switch c.Status {
			case StatusPass:
				r.Summary.Pass++
			case StatusWarn:
				r.Summary.Warn++
			case StatusFail:
				r.Summary.Fail++
			case StatusError:
				r.Summary.Error++
			case StatusInfo:
				r.Summary.Info++
			}
			if c.Failing(failOn) {
				r.Summary.Failing++
			}
		}
	}
	return r
}
