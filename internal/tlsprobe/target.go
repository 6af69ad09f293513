// Package tlsprobe connects to live endpoints and verifies what they offer over TLS:
// protocol versions, TLS 1.2 cipher suites, the certificate chain, and the
// protocol-specific guarantees the Bud network security guide relies on
// (PostgreSQL refusing plaintext, HTTPS edges redirecting and sending HSTS).
//
// The package owns its sockets; it never prints. Results are plain values that
// the renderers in this package (text, JSON) or any caller can format.
package tlsprobe

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Scheme names the protocol spoken on an endpoint before and around TLS.
type Scheme string

// Schemes accepted in targets. Each decides how the TLS session is started and
// which protocol-specific checks run.
const (
	SchemeHTTPS            Scheme = "https"
	SchemePostgres         Scheme = "postgres"
	SchemeRedis            Scheme = "redis"
	SchemeClickHouseHTTPS  Scheme = "clickhouse-https"
	SchemeClickHouseNative Scheme = "clickhouse-native"
	SchemeTLS              Scheme = "tls"
)

// defaultPorts are the well-known TLS ports of each scheme; a generic tls://
// target has none and must name its port.
var defaultPorts = map[Scheme]int{
	SchemeHTTPS:            443,
	SchemePostgres:         5432,
	SchemeRedis:            6379,
	SchemeClickHouseHTTPS:  8443,
	SchemeClickHouseNative: 9440,
}

// schemeAliases lets users paste connection URLs they already have.
var schemeAliases = map[string]Scheme{
	"https":             SchemeHTTPS,
	"postgres":          SchemePostgres,
	"postgresql":        SchemePostgres,
	"redis":             SchemeRedis,
	"rediss":            SchemeRedis,
	"valkey":            SchemeRedis,
	"clickhouse-https":  SchemeClickHouseHTTPS,
	"clickhouse-native": SchemeClickHouseNative,
	"tls":               SchemeTLS,
}

// Target is one endpoint to probe.
type Target struct {
	Scheme Scheme
	Host   string // host name or IP literal; also the name the certificate must match
	Port   int
	// MinVersion is the lowest TLS version policy allows here (tls.VersionTLS12
	// or tls.VersionTLS13); zero means TLS 1.2, the guide's floor (section 11.1).
	MinVersion uint16
	// Source says where the target came from (the command line, or a platform
	// model path such as "edge.hosts[0]"); it is reported, never dialled.
	Source string
}

// String renders the target in the URL form ParseTarget accepts.
func (t Target) String() string {
	return string(t.Scheme) + "://" + net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// Address is the host:port to dial.
func (t Target) Address() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// ParseTarget parses "scheme://host[:port]". Paths, credentials and queries are
// refused rather than ignored: a target with a password in it should not be
// echoed into reports, and a path would suggest checks that do not happen.
func ParseTarget(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("parse target %q: %w", s, err)
	}
	scheme, ok := schemeAliases[strings.ToLower(u.Scheme)]
	if !ok {
		return Target{}, fmt.Errorf("target %q: unknown scheme %q (want https, postgres, redis, clickhouse-https, clickhouse-native or tls)", s, u.Scheme)
	}
	if u.User != nil {
		return Target{}, fmt.Errorf("target %q: credentials are not accepted in targets; the probe never authenticates", redact(u))
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return Target{}, fmt.Errorf("target %q: want scheme://host[:port] with no path, query or fragment", s)
	}
	host := u.Hostname()
	if host == "" {
		return Target{}, fmt.Errorf("target %q: missing host", s)
	}
	port, ok := defaultPorts[scheme]
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Target{}, fmt.Errorf("target %q: port %q is not in 1-65535", s, p)
		}
		port = n
	} else if !ok {
		return Target{}, fmt.Errorf("target %q: scheme %s needs an explicit port", s, scheme)
	}
	return Target{Scheme: scheme, Host: host, Port: port}, nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = url.User("REDACTED")
	return c.String()
}
