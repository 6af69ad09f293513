package audit

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Guide section 6.3: database TLS, judged from the connection settings the
// services are given (see check_env.go). Evidence masks every password.

func dbCheck(id, title, remediation string, judge func(*envSet) []Result) Check {
	return Check{
		ID: id, Title: title, Section: "6.3", Severity: SeverityHigh, Remediation: remediation, Doc: docOf(id),
		Run: func(c *Context) []Result {
			var out []Result
			for _, s := range envSets(c.Inventory) {
				out = append(out, judge(s)...)
			}
			return out
		},
	}
}

func checkPostgresTLS() Check {
	return dbCheck("BUD-6.3-01", "PostgreSQL clients verify the server over TLS",
		"Connect with sslmode=verify-full and sslrootcert (PGSSLMODE/PGSSLROOTCERT, or ?sslmode=verify-full in the URL; asyncpg: ssl=verify-full) and serve only hostssl in pg_hba; the model's postgresql port is marked tls.",
		judgePostgres)
}

var (
	pgURL     = regexp.MustCompile(`(?i)^(jdbc:)?postgres(ql)?(\+[a-z0-9_]+)?://`)
	pgHostVar = regexp.MustCompile(`(?i)(^|_)(PSQL|POSTGRES|POSTGRESQL|PG|DB|DATABASE)_?HOST(NAME)?$`)
	pgKeyword = regexp.MustCompile(`(?i)(^|\s)host\s*=`)
)

// sslmodeVerdict judges a libpq sslmode (https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION).
func sslmodeVerdict(mode string, rootCert bool) (Status, string) {
	switch strings.ToLower(mode) {
	case "verify-full":
		return StatusPass, "sslmode=verify-full: encrypted, and the server's certificate and name are verified"
	case "verify-ca":
		return StatusPass, "sslmode=verify-ca: encrypted and the certificate verified (the host name is not)"
	case "require":
		if rootCert {
			return StatusPass, "sslmode=require with a root certificate behaves as verify-ca"
		}
		return StatusPartial, "sslmode=require encrypts but does not verify the server: a man in the middle is accepted"
	case "":
		return StatusFail, "no sslmode: libpq defaults to prefer, which falls back to plaintext and verifies nothing"
	}
	return StatusFail, fmt.Sprintf("sslmode=%s: plaintext is accepted and nothing is verified", mode)
}

// asyncpgVerdict judges asyncpg's ssl parameter, whose require does not
// verify either (https://magicstack.github.io/asyncpg/current/api/index.html#connection).
func asyncpgVerdict(mode string) (Status, string) {
	switch strings.ToLower(mode) {
	case "verify-full", "verify-ca":
		return StatusPass, "ssl=" + mode + ": the server is verified"
	case "require", "true":
		return StatusPartial, "ssl=" + mode + " encrypts without verifying the server"
	}
	return StatusFail, "ssl=" + mode + ": plaintext is accepted"
}

func judgePostgres(s *envSet) []Result {
	var out []Result
	envMode, _ := s.get("PGSSLMODE")
	_, envRoot := s.get("PGSSLROOTCERT")
	urls := false
	for _, name := range s.order {
		v := s.vars[name]
		switch {
		case pgURL.MatchString(v.value):
			urls = true
			out = append(out, s.pgURLResult(v, envMode.value, envRoot))
		case pgKeyword.MatchString(v.value) && strings.Contains(strings.ToLower(v.value), "dbname="):
			urls = true
			kv := keywords(v.value)
			mode := kv["sslmode"]
			if mode == "" {
				mode = envMode.value
			}
			st, msg := sslmodeVerdict(mode, kv["sslrootcert"] != "" || envRoot)
			out = append(out, s.finding(st, v, msg))
		}
	}
	if urls {
		return out
	}
	for _, name := range s.order {
		v := s.vars[name]
		if !pgHostVar.MatchString(name) || !postgresish(s, name) {
			continue
		}
		mode, root := sslSibling(s, name)
		if name == "PGHOST" || mode == "" {
			mode, root = envMode.value, envRoot || root
		}
		st, msg := sslmodeVerdict(mode, root)
		out = append(out, s.finding(st, v, msg))
	}
	return out
}

// postgresish tells PostgreSQL hosts from other *_HOST settings: the name
// says so, or a sibling with the same prefix names a PostgreSQL port or driver.
func postgresish(s *envSet, name string) bool {
	up := strings.ToUpper(name)
	if strings.Contains(up, "PSQL") || strings.Contains(up, "POSTGRES") || up == "PGHOST" {
		return true
	}
	prefix := strings.TrimSuffix(strings.TrimSuffix(up, "NAME"), "HOST")
	for n, v := range s.vars {
		if strings.HasPrefix(strings.ToUpper(n), prefix) && strings.HasSuffix(strings.ToUpper(n), "PORT") && strings.TrimSpace(v.value) == "5432" {
			return true
		}
	}
	return false
}

// sslSibling finds an sslmode setting next to a host variable: PREFIX_SSLMODE,
// PREFIX_SSL_MODE, or sslmode= inside PREFIX_JDBC_PARAMS / *_JDBC_PARAMS.
func sslSibling(s *envSet, host string) (string, bool) {
	prefix := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(host), "NAME"), "HOST")
	root := false
	mode := ""
	for _, n := range s.order {
		un := strings.ToUpper(n)
		v := s.vars[n].value
		switch {
		case strings.HasPrefix(un, prefix) && (strings.HasSuffix(un, "SSLMODE") || strings.HasSuffix(un, "SSL_MODE")):
			mode = v
		case strings.HasSuffix(un, "JDBC_PARAMS") && strings.Contains(strings.ToLower(v), "sslmode="):
			kv := keywords(strings.ReplaceAll(v, "&", " "))
			mode = kv["sslmode"]
			root = root || kv["sslrootcert"] != ""
		case strings.HasPrefix(un, prefix) && strings.Contains(un, "SSLROOTCERT"):
			root = true
		}
	}
	return mode, root
}

func keywords(dsn string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(dsn) {
		if k, v, ok := strings.Cut(f, "="); ok {
			out[strings.ToLower(k)] = strings.Trim(v, "'")
		}
	}
	return out
}

func (s *envSet) pgURLResult(v setting, envMode string, envRoot bool) Result {
	raw := strings.TrimPrefix(v.value, "jdbc:")
	u, err := url.Parse(raw)
	if err != nil {
		return s.finding(StatusFail, v, "unparsable PostgreSQL URL: "+err.Error())
	}
	q := u.Query()
	if strings.Contains(strings.ToLower(u.Scheme), "asyncpg") {
		if m := q.Get("ssl"); m != "" {
			st, msg := asyncpgVerdict(m)
			return s.finding(st, v, msg)
		}
		if m := q.Get("sslmode"); m != "" {
			st, msg := asyncpgVerdict(m)
			return s.finding(st, v, msg)
		}
		return s.finding(StatusFail, v, "asyncpg URL without ssl: asyncpg tries TLS and falls back to plaintext (prefer) without verifying")
	}
	mode := q.Get("sslmode")
	if mode == "" && q.Get("ssl") == "true" {
		mode = "require"
	}
	if mode == "" {
		mode = envMode
	}
	st, msg := sslmodeVerdict(mode, q.Get("sslrootcert") != "" || envRoot)
	return s.finding(st, v, msg)
}

func checkClickHouseTLS() Check {
	return dbCheck("BUD-6.3-02", "ClickHouse clients use TLS and verify it",
		"Use the TLS ports (8443 HTTPS, 9440 native) with secure=true and verify=true (CLICKHOUSE_SECURE, https:// or ?secure=true URLs); the model's system-to-clickhouse flow opens them.",
		judgeClickHouse)
}

func judgeClickHouse(s *envSet) []Result {
	var out []Result
	decided := false
	for _, name := range s.order {
		v := s.vars[name]
		un := strings.ToUpper(name)
		lv := strings.ToLower(v.value)
		isURL := strings.HasPrefix(lv, "clickhouse://") || strings.HasPrefix(lv, "clickhouses://") ||
			(strings.Contains(un, "CLICKHOUSE") && (strings.HasPrefix(lv, "http://") || strings.HasPrefix(lv, "https://") || strings.HasPrefix(lv, "tcp://")))
		switch {
		case isURL:
			decided = true
			out = append(out, clickhouseURL(s, v))
		case strings.Contains(un, "CLICKHOUSE") && strings.HasSuffix(un, "SECURE"):
			decided = true
			if truthy(v.value) {
				out = append(out, s.finding(StatusPass, v, "secure connection"))
			} else {
				out = append(out, s.finding(StatusFail, v, "secure is off: queries and credentials travel in plaintext"))
			}
		case strings.Contains(un, "CLICKHOUSE") && strings.HasSuffix(un, "PORT"):
			// The TLS ports are 8443 (HTTPS) and 9440 (native); 8123 and 9000 are plaintext.
			switch strings.TrimSpace(v.value) {
			case "8443", "9440":
				decided = true
				out = append(out, s.finding(StatusPass, v, "TLS port "+v.value))
			case "8123", "9000":
				if _, ok := s.get(strings.TrimSuffix(name, "PORT") + "SECURE"); !ok {
					decided = true
					out = append(out, s.finding(StatusFail, v, "plaintext port "+v.value+" (TLS is 8443 for HTTP, 9440 native)"))
				}
			}
		case strings.Contains(un, "CLICKHOUSE") && strings.HasSuffix(un, "VERIFY") && falsy(v.value):
			decided = true
			out = append(out, s.finding(StatusPartial, v, "verify is off: the server's certificate is not checked"))
		}
	}
	if decided {
		return out
	}
	return undecidedHosts(s, "CLICKHOUSE", "ClickHouse host without a secure setting: clients default to plaintext (8123 or 9000)")
}

// undecidedHosts fails every *HOST setting that names store when no setting
// decided the client's TLS: the driver's default, plaintext, applies.
func undecidedHosts(s *envSet, store, msg string) []Result {
	var out []Result
	for _, name := range s.order {
		un := strings.ToUpper(name)
		if strings.Contains(un, store) && strings.HasSuffix(un, "HOST") {
			out = append(out, s.finding(StatusFail, s.vars[name], msg))
		}
	}
	return out
}

func clickhouseURL(s *envSet, v setting) Result {
	u, err := url.Parse(v.value)
	if err != nil {
		return s.finding(StatusFail, v, "unparsable ClickHouse URL: "+err.Error())
	}
	q := u.Query()
	secure := u.Scheme == "https" || u.Scheme == "clickhouses" || truthy(q.Get("secure")) || u.Port() == "8443" || u.Port() == "9440"
	if falsy(q.Get("secure")) {
		secure = false
	}
	switch {
	case !secure:
		return s.finding(StatusFail, v, fmt.Sprintf("plaintext ClickHouse connection (%s, port %s)", u.Scheme, portOr(u, "default")))
	case falsy(q.Get("verify")) || truthy(q.Get("skip_verify")):
		return s.finding(StatusPartial, v, "TLS without verifying the server's certificate")
	}
	return s.finding(StatusPass, v, "TLS connection")
}

func portOr(u *url.URL, def string) string {
	if p := u.Port(); p != "" {
		return p
	}
	return def
}

func checkRedisTLS() Check {
	return dbCheck("BUD-6.3-03", "Redis/Valkey clients use TLS",
		"Use rediss:// URLs (or the client's TLS flag) against Valkey's tls-port; Dapr components need enableTLS (BUD-5-03).",
		judgeRedis)
}

func judgeRedis(s *envSet) []Result {
	var out []Result
	decided := false
	for _, name := range s.order {
		v := s.vars[name]
		un := strings.ToUpper(name)
		lv := strings.ToLower(strings.TrimSpace(v.value))
		switch {
		case strings.HasPrefix(lv, "redis://") || strings.HasPrefix(lv, "valkey://"):
			decided = true
			out = append(out, s.finding(StatusFail, v, "redis:// is plaintext: use rediss://"))
		case strings.HasPrefix(lv, "rediss://") || strings.HasPrefix(lv, "valkeys://"):
			decided = true
			if strings.Contains(lv, "ssl_cert_reqs=none") {
				out = append(out, s.finding(StatusPartial, v, "rediss:// with ssl_cert_reqs=none: encrypted but the server is not verified"))
			} else {
				out = append(out, s.finding(StatusPass, v, "TLS (rediss://)"))
			}
		case (strings.Contains(un, "REDIS") || strings.Contains(un, "VALKEY")) && (strings.HasSuffix(un, "_TLS") || strings.HasSuffix(un, "_SSL") || strings.HasSuffix(un, "USE_SSL") || strings.HasSuffix(un, "TLS_ENABLED")):
			decided = true
			if truthy(v.value) {
				out = append(out, s.finding(StatusPass, v, "TLS on"))
			} else {
				out = append(out, s.finding(StatusFail, v, "TLS off: commands and the password travel in plaintext"))
			}
		}
	}
	if decided {
		return out
	}
	for _, name := range s.order {
		un := strings.ToUpper(name)
		if (strings.Contains(un, "REDIS") || strings.Contains(un, "VALKEY")) && strings.HasSuffix(un, "HOST") {
			out = append(out, s.finding(StatusFail, s.vars[name], "Redis host without a TLS setting or rediss:// URL: clients connect in plaintext"))
		}
	}
	return out
}

func checkObjectStoreTLS() Check {
	return dbCheck("BUD-6.3-04", "MinIO/S3 endpoints use TLS",
		"Serve MinIO with TLS and give clients https:// endpoints (MINIO_SECURE=true); the model's minio ports are behind the system-to-minio flow.",
		judgeObjectStore)
}

var s3EndpointVar = regexp.MustCompile(`(?i)(MINIO|S3).*(ENDPOINT|URL|HOST)$|^AWS_ENDPOINT_URL(_S3)?$`)

func judgeObjectStore(s *envSet) []Result {
	var out []Result
	secureVar, hasSecure := setting{}, false
	for _, name := range s.order {
		un := strings.ToUpper(name)
		if (strings.Contains(un, "MINIO") || strings.Contains(un, "S3")) && (strings.HasSuffix(un, "SECURE") || strings.HasSuffix(un, "USE_SSL")) {
			secureVar, hasSecure = s.vars[name], true
		}
	}
	for _, name := range s.order {
		v := s.vars[name]
		lv := strings.ToLower(strings.TrimSpace(v.value))
		switch {
		case strings.EqualFold(name, "MINIO_SCHEME"):
			if lv == "http" {
				out = append(out, s.finding(StatusFail, v, "MinIO serves plain HTTP"))
			} else if lv == "https" {
				out = append(out, s.finding(StatusPass, v, "MinIO serves HTTPS"))
			}
		case !s3EndpointVar.MatchString(name):
		case strings.HasPrefix(lv, "http://"):
			out = append(out, s.finding(StatusFail, v, "http:// endpoint: objects and signed requests travel in plaintext"))
		case strings.HasPrefix(lv, "https://"):
			if hasSecure && falsy(secureVar.value) {
				out = append(out, s.finding(StatusFail, secureVar, "secure is off although the endpoint says https"))
				continue
			}
			out = append(out, s.finding(StatusPass, v, "https endpoint"))
		case hasSecure && truthy(secureVar.value):
			out = append(out, s.finding(StatusPass, v, "endpoint with secure=true"))
		case hasSecure:
			out = append(out, s.finding(StatusFail, secureVar, "secure is off: the client speaks plain HTTP to "+mask(name, v.value)))
		default:
			out = append(out, s.finding(StatusPartial, v, "endpoint without a scheme or secure setting: TLS depends on the client's default"))
		}
	}
	return out
}
