package tlsprobe

import (
	"crypto/tls"
	"strings"
)

// rawSuite is a TLS 1.2 cipher suite crypto/tls does not implement, probed
// with a hand-made ClientHello. IDs and IANA names from the TLS Cipher Suites
// registry (https://www.iana.org/assignments/tls-parameters/, as tabulated in
// curl's docs/CIPHERS-TLS12.md). PSK, SRP, Kerberos and GOST suites are left
// out: a server only negotiates them when a client brings matching keys.
type rawSuite struct {
	id   uint16
	name string
}

var rawSuites12 = []rawSuite{
	// No encryption, no authentication, export grade, broken ciphers.
	{0x0001, "TLS_RSA_WITH_NULL_MD5"},
	{0x0002, "TLS_RSA_WITH_NULL_SHA"},
	{0x003B, "TLS_RSA_WITH_NULL_SHA256"},
	{0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA"},
	{0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA"},
	{0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"},
	{0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"},
	{0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"},
	{0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"},
	{0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"},
	{0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"},
	{0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"},
	{0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA"},
	{0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256"},
	{0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384"},
	{0xC015, "TLS_ECDH_anon_WITH_NULL_SHA"},
	{0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"},
	{0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"},
	{0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
	{0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"},
	{0x0009, "TLS_RSA_WITH_DES_CBC_SHA"},
	{0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"},
	{0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"},
	{0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
	// Finite-field Diffie-Hellman (OpenSSL's DEFAULT and PostgreSQL's HIGH:MEDIUM include these).
	{0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
	{0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
	{0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"},
	{0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"},
	{0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
	{0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
	{0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	{0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM"},
	{0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM"},
	{0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"},
	{0x00BE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00C4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
	{0xC052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA"},
	{0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
	{0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
	{0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"},
	{0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"},
	// Elliptic-curve suites Go leaves out.
	{0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
	{0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
	{0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"},
	{0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
	{0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"},
	{0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"},
	{0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC05D, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"},
	{0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"},
	{0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"},
	{0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"},
	// RSA key exchange suites Go leaves out.
	{0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"},
	{0xC09C, "TLS_RSA_WITH_AES_128_CCM"},
	{0xC09D, "TLS_RSA_WITH_AES_256_CCM"},
	{0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"},
	{0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00C0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
	{0xC050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"},
}

// suiteClass sorts a suite, by its IANA name, into the weaknesses the
// checks report. The name is authoritative: it spells out key exchange,
// authentication, cipher and MAC.
type suiteClass struct {
	nullAnon bool // no encryption or no server authentication
	weak     bool // export grade or a broken cipher (RC4, DES, 3DES, RC2, IDEA)
	noPFS    bool // static RSA, DH or ECDH key exchange: no forward secrecy
	cbc      bool // CBC mode (padding-oracle history: Lucky13, POODLE-TLS)
}

func classify(name string) suiteClass {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(name, s) {
				return true
			}
		}
		return false
	}
	return suiteClass{
		nullAnon: has("_NULL_", "_anon_"),
		weak:     has("RC4", "3DES", "_DES_", "DES40", "EXPORT", "RC2", "IDEA"),
		noPFS:    strings.HasPrefix(name, "TLS_RSA_") || strings.HasPrefix(name, "TLS_DH_") || strings.HasPrefix(name, "TLS_ECDH_"),
		cbc:      has("_CBC_"),
	}
}

// insecure is the flag reported for suites Go does not classify itself.
func (c suiteClass) insecure() bool { return c.nullAnon || c.weak || c.noPFS }

// allHelloSuites lists every suite ID either probe knows, for version probes
// that should fail only because of the version.
func allHelloSuites() []uint16 {
	ids := allSuiteIDs()
	for _, s := range rawSuites12 {
		ids = append(ids, s.id)
	}
	return ids
}

// versionFromWire maps the protocol numbers probed with raw hellos to names.
func versionFromWire(v uint16) string {
	if v == 0x0300 {
		return "SSL 3.0"
	}
	return tls.VersionName(v)
}
