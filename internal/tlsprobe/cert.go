package tlsprobe

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"time"
)

// inspectChain describes the leaf and verifies the chain as presented. Trust
// and host name are verified separately so that a report says which one failed;
// an expired chain is re-verified inside its validity window for the same reason.
func inspectChain(chain []*x509.Certificate, host string, roots *x509.CertPool, now time.Time) *CertInfo {
	if len(chain) == 0 {
		return nil
	}
	leaf := chain[0]
	info := &CertInfo{
		Subject:            leaf.Subject.String(),
		Issuer:             leaf.Issuer.String(),
		DNSNames:           leaf.DNSNames,
		NotBefore:          leaf.NotBefore.UTC(),
		NotAfter:           leaf.NotAfter.UTC(),
		DaysToExpiry:       daysUntil(now, leaf.NotAfter),
		SignatureAlgorithm: leaf.SignatureAlgorithm.String(),
		SelfSigned:         isSelfSigned(leaf),
		ChainLength:        len(chain),
	}
	for _, ip := range leaf.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	info.KeyType, info.KeyBits = keyInfo(leaf)

	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{
		Roots:         roots, // nil means the system roots
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	_, err := leaf.Verify(opts)
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		// Expiry is its own check; ask whether the chain would be trusted at all.
		opts.CurrentTime = clampToValidity(leaf, now)
		_, err = leaf.Verify(opts)
	}
	info.Trusted = err == nil
	if err != nil {
		info.TrustError = err.Error()
	}
	// VerifyHostname matches IP literals against IP SANs and names against
	// DNS SANs only (never the Common Name, since Go 1.15).
	if err := leaf.VerifyHostname(host); err != nil {
		info.HostnameError = err.Error()
	} else {
		info.HostnameMatch = true
	}
	return info
}

// clampToValidity returns a moment inside the leaf's validity window.
func clampToValidity(leaf *x509.Certificate, now time.Time) time.Time {
	if now.After(leaf.NotAfter) {
		return leaf.NotAfter.Add(-time.Second)
	}
	if now.Before(leaf.NotBefore) {
		return leaf.NotBefore.Add(time.Second)
	}
	return now
}

// daysUntil counts whole days left; negative once expired.
func daysUntil(now, t time.Time) int {
	d := t.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days-- // round towards minus infinity so one second past expiry is -1
	}
	return days
}

func keyInfo(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name, k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	default:
		return c.PublicKeyAlgorithm.String(), 0
	}
}

// isSelfSigned reports a certificate whose issuer is itself and whose
// signature verifies with its own key.
func isSelfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawIssuer, c.RawSubject) {
		return false
	}
	// CheckSignature, not CheckSignatureFrom: a self-signed leaf is usually not a CA.
	return c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
