package tlsprobe

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Check IDs. They are part of the JSON contract (docs/tls.md).
const (
	CheckConnect        = "connect"
	CheckPGSSL          = "postgres.ssl"
	CheckPGPlaintext    = "postgres.plaintext-refused"
	CheckHandshake      = "tls.handshake"
	CheckLegacyVersions = "tls.legacy-versions"
	CheckTLS13          = "tls.tls13"
	CheckMinVersion     = "tls.min-version"
	CheckNullAnon       = "tls.cipher.null-anon"
	CheckWeakCiphers    = "tls.cipher.weak"
	CheckNoPFS          = "tls.cipher.forward-secrecy"
	CheckCBC            = "tls.cipher.cbc"
	CheckClientAuth     = "tls.client-auth"
	CheckCertTrust      = "cert.trusted"
	CheckCertHostname   = "cert.hostname"
	CheckCertExpiry     = "cert.expiry"
	CheckCertKey        = "cert.key"
	CheckCertSignature  = "cert.signature"
	CheckRedisAuth      = "redis.auth"
	CheckHTTPRedirect   = "http.redirect"
	CheckHTTPFetch      = "http.fetch"
	CheckHSTS           = "http.hsts"
	CheckFraming        = "http.frame-options"
	CheckNoSniff        = "http.content-type-options"
	CheckCSP            = "http.content-security-policy"
	CheckReferrer       = "http.referrer-policy"
)

// expiryWarnDays is when an approaching expiry starts to warn.
const expiryWarnDays = 30

// Evaluate turns the observations in r into verdicts. It is a pure function
// of r and now, so the rules are tested without any server.
func Evaluate(r EndpointResult, now time.Time) []Check {
	var cs checks
	if r.Error != "" {
		cs.add(CheckConnect, StatusError, SeverityHigh, "could not reach the endpoint: "+r.Error)
		return cs
	}
	if r.Postgres != nil {
		evalPostgres(&cs, r.Postgres)
	}
	if r.TLS == nil {
		if r.Postgres == nil || r.Postgres.SSLResponse != "N" {
			cs.add(CheckHandshake, StatusFail, SeverityCritical, "no tls handshake was attempted")
		}
		return cs
	}
	evalVersions(&cs, r.TLS, r.MinVersion == "TLS 1.3")
	evalSuites(&cs, r.TLS.Suites12)
	cs.add(CheckClientAuth, StatusInfo, SeverityInfo, "client certificate "+clientAuthText(r.TLS.ClientAuth))
	if c := r.TLS.Certificate; c != nil {
		evalCert(&cs, c, now)
	}
	if r.Redis != nil {
		evalRedis(&cs, r.Redis)
	}
	if r.HTTP != nil {
		evalHTTP(&cs, r.HTTP)
	}
	return cs
}

type checks []Check

func (cs *checks) add(id string, st Status, sev Severity, msg string) {
	*cs = append(*cs, Check{ID: id, Status: st, Severity: sev, Message: msg})
}

// pass records a passing check; its severity is what a failure would have been,
// so a report shows how much each passing check matters.
func (cs *checks) pass(id string, sev Severity, msg string) { cs.add(id, StatusPass, sev, msg) }

func evalPostgres(cs *checks, pg *PostgresInfo) {
	switch pg.SSLResponse {
	case "S":
		cs.pass(CheckPGSSL, SeverityCritical, "server answered S to SSLRequest")
	case "N":
		cs.add(CheckPGSSL, StatusFail, SeverityCritical, "server answered N to SSLRequest: ssl is off, every connection is plaintext")
	}
	switch pg.PlaintextStartup {
	case PlaintextRefused:
		cs.pass(CheckPGPlaintext, SeverityHigh, "unencrypted startup refused: "+pg.PlaintextDetail)
	case PlaintextAccepted:
		sev := SeverityHigh
		if strings.Contains(pg.PlaintextDetail, "trust") {
			sev = SeverityCritical
		}
		cs.add(CheckPGPlaintext, StatusFail, sev, "unencrypted startup accepted ("+pg.PlaintextDetail+"): pg_hba.conf needs hostssl-only rules plus hostnossl ... reject")
	default:
		cs.add(CheckPGPlaintext, StatusWarn, SeverityMedium, "could not tell whether an unencrypted startup is refused: "+pg.PlaintextDetail)
	}
}

// notJudged is the message prefix of a check whose probes got no answer. Its
// status is StatusError, which counts against --fail-on like a failure: a
// probe that got no answer is never a pass.
const notJudged = "not judged: "

func evalVersions(cs *checks, t *TLSInfo, require13 bool) {
	var legacy, modern, unknownLegacy, unknownModern []string
	has13, unknown12, unknown13 := false, false, false
	for _, v := range t.Versions {
		isLegacy := v.Version == "SSL 3.0" || v.Version == "TLS 1.0" || v.Version == "TLS 1.1"
		switch {
		case v.Unknown && isLegacy:
			unknownLegacy = append(unknownLegacy, v.Version)
		case v.Unknown:
			unknownModern = append(unknownModern, v.Version)
			unknown12 = unknown12 || v.Version == "TLS 1.2"
			unknown13 = unknown13 || v.Version == "TLS 1.3"
		case !v.Accepted:
		case isLegacy:
			legacy = append(legacy, v.Version)
		default:
			has13 = has13 || v.Version == "TLS 1.3"
			modern = append(modern, v.Version)
		}
	}
	switch {
	case len(modern) > 0:
		cs.pass(CheckHandshake, SeverityCritical, negotiatedText(t)+"accepts "+strings.Join(modern, ", "))
	case len(unknownModern) > 0:
		cs.add(CheckHandshake, StatusError, SeverityCritical, notJudged+"no answer to the "+probesText(unknownModern)+" (timeout or connection error)")
	default:
		cs.add(CheckHandshake, StatusFail, SeverityCritical, "no handshake with TLS 1.2 or 1.3 succeeded")
	}
	switch {
	case len(legacy) > 0 && legacy[0] == "SSL 3.0":
		// RFC 7568 prohibits SSL 3.0 (POODLE).
		cs.add(CheckLegacyVersions, StatusFail, SeverityCritical, "accepts "+strings.Join(legacy, ", ")+" (SSL 3.0 prohibited by RFC 7568, TLS 1.0/1.1 deprecated by RFC 8996)")
	case len(legacy) > 0:
		// RFC 8996 deprecates TLS 1.0 and 1.1; the guide claims TLS 1.2+.
		cs.add(CheckLegacyVersions, StatusFail, SeverityHigh, "accepts "+strings.Join(legacy, " and ")+" (deprecated by RFC 8996)")
	case len(unknownLegacy) > 0:
		cs.add(CheckLegacyVersions, StatusError, SeverityHigh, notJudged+"no answer to the "+probesText(unknownLegacy)+" (timeout or connection error), so a refusal is not shown")
	default:
		cs.pass(CheckLegacyVersions, SeverityHigh, "refuses SSL 3.0, TLS 1.0 and TLS 1.1")
	}
	switch {
	case has13:
		cs.pass(CheckTLS13, SeverityLow, "accepts TLS 1.3")
	case unknown13:
		sev := SeverityLow
		if require13 {
			sev = SeverityHigh
		}
		cs.add(CheckTLS13, StatusError, sev, notJudged+"no answer to the TLS 1.3 probe")
	case require13:
		cs.add(CheckTLS13, StatusFail, SeverityHigh, "does not accept TLS 1.3, which the platform's spec.tls.minVersion requires")
	case len(modern) > 0:
		cs.add(CheckTLS13, StatusWarn, SeverityLow, "does not accept TLS 1.3")
	}
	if require13 {
		switch {
		case slices.Contains(modern, "TLS 1.2"):
			cs.add(CheckMinVersion, StatusFail, SeverityHigh, "accepts TLS 1.2 below the required minimum TLS 1.3")
		case unknown12:
			cs.add(CheckMinVersion, StatusError, SeverityHigh, notJudged+"no answer to the TLS 1.2 probe")
		default:
			cs.pass(CheckMinVersion, SeverityHigh, "refuses everything below TLS 1.3")
		}
	}
}

// probesText names the probes of versions: "TLS 1.0 probe", "TLS 1.0 and
// TLS 1.1 probes".
func probesText(versions []string) string {
	switch len(versions) {
	case 0:
		return "probes"
	case 1:
		return versions[0] + " probe"
	default:
		return strings.Join(versions[:len(versions)-1], ", ") + " and " + versions[len(versions)-1] + " probes"
	}
}

// negotiatedText names what a default client negotiated, when it did.
func negotiatedText(t *TLSInfo) string {
	if t.NegotiatedVersion == "" {
		return ""
	}
	return fmt.Sprintf("negotiated %s with %s; ", t.NegotiatedVersion, t.NegotiatedSuite)
}

func evalSuites(cs *checks, suites []SuiteResult) {
	if suites == nil {
		return
	}
	var nullAnon, weak, noPFS, cbc []string
	// unknown counts, per class, the suites of that class whose probe got no
	// answer: the class's check cannot pass while any is unknown.
	unknown := map[string]int{}
	for _, s := range suites {
		c := classify(s.Name)
		if s.Unknown {
			for id, in := range map[string]bool{CheckNullAnon: c.nullAnon, CheckWeakCiphers: c.weak, CheckNoPFS: c.noPFS, CheckCBC: c.cbc} {
				if in {
					unknown[id]++
				}
			}
			continue
		}
		if !s.Accepted {
			continue
		}
		if c.nullAnon {
			nullAnon = append(nullAnon, s.Name)
		}
		if c.weak {
			weak = append(weak, s.Name)
		}
		if c.noPFS {
			noPFS = append(noPFS, s.Name)
		}
		if c.cbc {
			cbc = append(cbc, s.Name)
		}
	}
	list := func(id string, names []string, sev Severity, what string) {
		switch {
		case len(names) > 0:
			cs.add(id, StatusFail, sev, fmt.Sprintf("%d accepted TLS 1.2 suite(s) use %s: %s", len(names), what, strings.Join(names, ", ")))
		case unknown[id] > 0:
			cs.add(id, StatusError, sev, fmt.Sprintf("%sno answer to the probes of %d TLS 1.2 suite(s) that use %s", notJudged, unknown[id], what))
		default:
			cs.pass(id, sev, "no accepted TLS 1.2 suite uses "+what)
		}
	}
	list(CheckNullAnon, nullAnon, SeverityCritical, "NULL encryption or anonymous (unauthenticated) key exchange")
	list(CheckWeakCiphers, weak, SeverityHigh, "export grade or broken ciphers (RC4, DES, 3DES, RC2, IDEA)")
	list(CheckNoPFS, noPFS, SeverityMedium, "static RSA, DH or ECDH key exchange (no forward secrecy)")
	list(CheckCBC, cbc, SeverityLow, "CBC mode")
}

func clientAuthText(mode string) string {
	switch mode {
	case "required":
		return "required (mutual TLS)"
	case "requested":
		return "requested but not required"
	default:
		return "not requested"
	}
}

func evalCert(cs *checks, c *CertInfo, now time.Time) {
	if c.Trusted {
		cs.pass(CheckCertTrust, SeverityHigh, "chain verifies to a trusted root (issuer "+c.Issuer+")")
	} else {
		msg := "chain does not verify: " + c.TrustError
		if c.SelfSigned {
			msg = "self-signed certificate not in the trusted roots: " + c.TrustError
		}
		cs.add(CheckCertTrust, StatusFail, SeverityHigh, msg)
	}
	if c.HostnameMatch {
		cs.pass(CheckCertHostname, SeverityHigh, "certificate matches the host name")
	} else {
		cs.add(CheckCertHostname, StatusFail, SeverityHigh, c.HostnameError)
	}
	switch {
	case now.After(c.NotAfter):
		cs.add(CheckCertExpiry, StatusFail, SeverityCritical, fmt.Sprintf("expired %s (%s ago)", c.NotAfter.Format(time.DateOnly), days(-c.DaysToExpiry)))
	case now.Before(c.NotBefore):
		cs.add(CheckCertExpiry, StatusFail, SeverityHigh, "not valid before "+c.NotBefore.Format(time.RFC3339))
	case c.DaysToExpiry < expiryWarnDays:
		cs.add(CheckCertExpiry, StatusWarn, SeverityMedium, fmt.Sprintf("expires in %s (%s)", days(c.DaysToExpiry), c.NotAfter.Format(time.DateOnly)))
	default:
		cs.pass(CheckCertExpiry, SeverityCritical, fmt.Sprintf("valid for %s more", days(c.DaysToExpiry)))
	}
	keyMsg := fmt.Sprintf("%s %d bits", c.KeyType, c.KeyBits)
	if weakKey(c.KeyType, c.KeyBits) {
		cs.add(CheckCertKey, StatusFail, SeverityHigh, keyMsg+" is too small (want RSA >= 2048 or ECDSA >= 256)")
	} else {
		cs.pass(CheckCertKey, SeverityHigh, keyMsg)
	}
	sig := c.SignatureAlgorithm
	if strings.Contains(sig, "SHA1") || strings.Contains(sig, "MD5") || strings.Contains(sig, "MD2") {
		cs.add(CheckCertSignature, StatusFail, SeverityHigh, sig+" signatures are broken")
	} else {
		cs.pass(CheckCertSignature, SeverityHigh, sig)
	}
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

func weakKey(typ string, bits int) bool {
	switch {
	case typ == "RSA":
		return bits < 2048
	case strings.HasPrefix(typ, "ECDSA"):
		return bits < 256
	case typ == "Ed25519":
		return false
	}
	return true
}

func evalRedis(cs *checks, ri *RedisInfo) {
	switch {
	case ri.Error != "":
		cs.add(CheckRedisAuth, StatusWarn, SeverityMedium, "could not run PING over tls: "+ri.Error)
	case ri.AuthNeeded:
		cs.pass(CheckRedisAuth, SeverityMedium, "PING answered "+ri.PingReply)
	default:
		cs.add(CheckRedisAuth, StatusFail, SeverityMedium, "runs commands for an unauthenticated client (PING answered "+ri.PingReply+")")
	}
}

// redirectVerdict judges the plain-HTTP answer. 301 and 308 are permanent, so
// browsers and caches remember them; 302/303/307 must be asked again each time.
func redirectVerdict(h *HTTPInfo) (Status, Severity, string) {
	if h.PlainError != "" {
		return StatusInfo, SeverityInfo, "no plain-HTTP listener (" + h.PlainError + ")"
	}
	toHTTPS := strings.HasPrefix(strings.ToLower(h.PlainLocation), "https://")
	switch {
	case (h.PlainStatus == 301 || h.PlainStatus == 308) && toHTTPS:
		return StatusPass, SeverityMedium, fmt.Sprintf("%s answers %d to %s", h.PlainURL, h.PlainStatus, h.PlainLocation)
	case h.PlainStatus >= 300 && h.PlainStatus < 400 && toHTTPS:
		return StatusWarn, SeverityLow, fmt.Sprintf("%s answers %d (temporary) to %s: use 301 or 308", h.PlainURL, h.PlainStatus, h.PlainLocation)
	case h.PlainStatus >= 300 && h.PlainStatus < 400:
		return StatusFail, SeverityMedium, fmt.Sprintf("%s redirects to %q, not to https", h.PlainURL, h.PlainLocation)
	default:
		return StatusFail, SeverityMedium, fmt.Sprintf("%s answers %d over plaintext instead of redirecting to https", h.PlainURL, h.PlainStatus)
	}
}

func evalHTTP(cs *checks, h *HTTPInfo) {
	st, sev, msg := redirectVerdict(h)
	cs.add(CheckHTTPRedirect, st, sev, msg)
	if h.HTTPSError != "" {
		cs.add(CheckHTTPFetch, StatusError, SeverityMedium, "could not fetch over https: "+h.HTTPSError)
		return
	}
	switch {
	case h.HSTS == "":
		cs.add(CheckHSTS, StatusFail, SeverityMedium, "no Strict-Transport-Security header")
	case h.HSTSMaxAge == 0:
		cs.add(CheckHSTS, StatusFail, SeverityMedium, fmt.Sprintf("Strict-Transport-Security %q has no usable max-age (0 clears HSTS)", h.HSTS))
	case h.HSTSMaxAge < hstsMinMaxAge:
		cs.add(CheckHSTS, StatusWarn, SeverityLow, fmt.Sprintf("HSTS max-age %d is under one year (%d)", h.HSTSMaxAge, hstsMinMaxAge))
	default:
		cs.pass(CheckHSTS, SeverityMedium, "Strict-Transport-Security: "+h.HSTS)
	}
	hdr := h.SecurityHeaders
	xfo := strings.ToUpper(strings.TrimSpace(hdr["X-Frame-Options"]))
	if xfo == "DENY" || xfo == "SAMEORIGIN" || frameAncestors(hdr["Content-Security-Policy"]) {
		cs.pass(CheckFraming, SeverityMedium, "framing restricted")
	} else {
		cs.add(CheckFraming, StatusFail, SeverityMedium, "neither X-Frame-Options DENY/SAMEORIGIN nor CSP frame-ancestors: pages can be framed (clickjacking)")
	}
	if strings.EqualFold(strings.TrimSpace(hdr["X-Content-Type-Options"]), "nosniff") {
		cs.pass(CheckNoSniff, SeverityLow, "X-Content-Type-Options: nosniff")
	} else {
		cs.add(CheckNoSniff, StatusFail, SeverityLow, "X-Content-Type-Options: nosniff missing")
	}
	if v := hdr["Content-Security-Policy"]; v != "" {
		cs.pass(CheckCSP, SeverityMedium, "Content-Security-Policy: "+v)
	} else {
		cs.add(CheckCSP, StatusFail, SeverityMedium, "no Content-Security-Policy header")
	}
	switch v := strings.ToLower(strings.TrimSpace(hdr["Referrer-Policy"])); {
	case v == "":
		cs.add(CheckReferrer, StatusFail, SeverityLow, "no Referrer-Policy header")
	case strings.Contains(v, "unsafe-url"):
		cs.add(CheckReferrer, StatusFail, SeverityLow, "Referrer-Policy unsafe-url leaks full URLs")
	default:
		cs.pass(CheckReferrer, SeverityLow, "Referrer-Policy: "+v)
	}
}
