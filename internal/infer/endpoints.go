package infer

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// endpoint is a host (and port, when the text says or the scheme implies
// one) a setting names.
type endpoint struct {
	host   string
	port   int32 // 0 when unknown
	scheme string
	// text is what was read, with any password removed.
	text string
}

// schemePorts are the default ports of URL schemes a client falls back to
// when the URL names none (libpq, redis-py, the MongoDB URI spec, AMQP 0-9-1).
var schemePorts = map[string]int32{
	"http": 80, "https": 443, "ws": 80, "wss": 443,
	"postgres": 5432, "postgresql": 5432, "redis": 6379, "rediss": 6379,
	"mongodb": 27017, "amqp": 5672, "amqps": 5671, "mysql": 3306, "kafka": 9092,
	"nats": 4222, "clickhouse": 9000, "grpc": 0, "grpcs": 443, "s3": 443,
	"tcp": 0, "ldap": 389, "ldaps": 636, "smtp": 25, "smtps": 465,
}

var (
	// urlPattern finds scheme://authority; the authority may list several
	// hosts (mongodb://a:27017,b:27017/db) and carry userinfo. A password
	// with '/' in it is not supported: clients need it percent-encoded too.
	urlPattern = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.\-]*)://([^\s/"'<>?#]+)`)
	// hostPortPattern is one host:port token (a Kafka bootstrap list entry,
	// MINIO_ENDPOINT=minio:9000, redisHost: redis-master:6379).
	hostPortPattern = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\]):([0-9]{1,5})$`)
	// hostPattern is a bare DNS name.
	hostPattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)*\.?$`)
	// keywordHost and keywordPort read libpq keyword/value connection
	// strings ("host=pg port=5432 dbname=bud"), also used by Dapr's
	// PostgreSQL components.
	keywordHost = regexp.MustCompile(`(?:^|\s)host=([^\s]+)`)
	keywordPort = regexp.MustCompile(`(?:^|\s)port=([0-9]{1,5})`)
)

// endpointsOf reads the endpoints a value names: URLs and DSNs (with
// several hosts, userinfo and default ports), libpq keyword strings, and
// host:port tokens in comma or space separated lists.
func endpointsOf(value string) []endpoint {
	var out []endpoint
	for _, m := range urlPattern.FindAllStringSubmatch(value, -1) {
		scheme := strings.ToLower(m[1])
		scheme = strings.TrimPrefix(scheme, "jdbc:")
		if i := strings.LastIndex(scheme, "+"); i >= 0 && scheme != "mongodb+srv" {
			scheme = scheme[:i] // postgresql+asyncpg, redis+sentinel
		}
		authority := m[2]
		if i := strings.LastIndex(authority, "@"); i >= 0 {
			authority = authority[i+1:] // drop userinfo, passwords included
		}
		for _, hp := range strings.Split(authority, ",") {
			if hp == "" {
				continue
			}
			host, port := splitHostPort(hp, schemePorts[scheme])
			if host == "" {
				continue
			}
			out = append(out, endpoint{host: host, port: port, scheme: scheme, text: scheme + "://" + hp})
		}
	}
	if len(out) > 0 {
		return out
	}
	if h := keywordHost.FindStringSubmatch(value); h != nil {
		port := int32(5432) // libpq's default
		if p := keywordPort.FindStringSubmatch(value); p != nil {
			port = atoiPort(p[1])
		}
		return []endpoint{{host: h[1], port: port, scheme: "postgresql", text: "host=" + h[1] + " port=" + strconv.Itoa(int(port))}}
	}
	for _, tok := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) }) {
		tok = strings.Trim(tok, `"'[]()`)
		m := hostPortPattern.FindStringSubmatch(tok)
		if m == nil || isNumeric(m[1]) {
			continue
		}
		host, port := splitHostPort(tok, 0)
		if host != "" && port != 0 {
			out = append(out, endpoint{host: host, port: port, text: tok})
		}
	}
	return out
}

func splitHostPort(hp string, def int32) (string, int32) {
	if h, p, err := net.SplitHostPort(hp); err == nil {
		return strings.ToLower(h), atoiPort(p)
	}
	return strings.ToLower(strings.Trim(hp, "[]")), def
}

func atoiPort(s string) int32 {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0
	}
	return int32(n)
}

func isNumeric(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

// normKey turns a setting name into upper snake case, so redisHost,
// redis.host, redis-host and REDIS_HOST compare equal.
func normKey(k string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range k {
		switch {
		case r == '.' || r == '-' || r == ' ':
			b.WriteByte('_')
			prevLower = false
		case unicode.IsUpper(r):
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			prevLower = false
		default:
			b.WriteRune(unicode.ToUpper(r))
			prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		}
	}
	return b.String()
}

// hostSuffixes mark a setting whose value is a bare host name.
var hostSuffixes = []string{"HOST", "HOSTNAME", "SERVER", "ADDR", "ADDRESS", "ENDPOINT", "SERVICE_HOST"}

// hostPrefix returns the prefix of a host setting (PSQL for PSQL_HOST) and
// whether key is one.
func hostPrefix(key string) (string, bool) {
	for _, s := range hostSuffixes {
		if key == s {
			return "", true
		}
		if strings.HasSuffix(key, "_"+s) {
			return strings.TrimSuffix(key, s), true
		}
	}
	return "", false
}

// isAppIDKey reports whether key names a Dapr app id another workload is
// called by (BUDCLUSTER_APP_ID); DAPR_APP_ID and APP_ID name the workload itself.
func isAppIDKey(key string) bool {
	return strings.HasSuffix(key, "_APP_ID") && key != "DAPR_APP_ID"
}

// endpointLike reports whether a setting's name says it holds an address,
// so a value only known at runtime there is worth reporting.
func endpointLike(key string) bool {
	if _, ok := hostPrefix(key); ok {
		return true
	}
	for _, s := range []string{"URL", "URI", "DSN", "BROKERS", "BOOTSTRAP_SERVERS", "CONNECTION_STRING"} {
		if key == s || strings.HasSuffix(key, "_"+s) {
			return true
		}
	}
	return false
}

// redact removes a URL's password for display.
func redact(s string) string {
	return urlPattern.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlPattern.FindStringSubmatch(m)
		auth := sub[2]
		if i := strings.LastIndex(auth, "@"); i >= 0 {
			user := auth[:i]
			if j := strings.Index(user, ":"); j >= 0 {
				user = user[:j] + ":REDACTED"
			}
			auth = user + "@" + auth[i+1:]
		}
		return sub[1] + "://" + auth
	})
}
