// Package testserver starts real servers for tlsprobe's integration tests: Go
// TLS and HTTP servers, PostgreSQL from the Debian packages and redis-server,
// all on loopback with certificates made here. Every server is stopped and its
// files removed by the test's Cleanup.
package testserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// KeyKind selects the key type of a made certificate.
type KeyKind int

// Key kinds. RSA is needed for the RSA-key-exchange suites.
const (
	KeyECDSAP256 KeyKind = iota
	KeyRSA2048
	KeyRSA1024
)

// CA is a throwaway certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	PEM  []byte
}

// Leaf describes a certificate to issue.
type Leaf struct {
	DNSNames  []string
	IPs       []net.IP
	NotBefore time.Time // zero: an hour ago
	NotAfter  time.Time // zero: a year from now
	Key       KeyKind
}

// Issued is a certificate with its key, in both tls and PEM forms.
type Issued struct {
	TLS     tls.Certificate
	CertPEM []byte // leaf then issuer, as servers send it
	KeyPEM  []byte
}

// NewCA makes a CA valid from a year ago to a year ahead, so that expired
// leaves it issued still chain to a CA that was valid at the time.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	key := newKey(tb, KeyECDSAP256)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"budnet test"}},
		NotBefore:             time.Now().Add(-365 * 24 * time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatalf("create ca: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("parse ca: %v", err)
	}
	return &CA{Cert: cert, Key: key, PEM: pemBlock("CERTIFICATE", der)}
}

// Pool returns a pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue signs a server certificate for l. A nil ca makes it self-signed.
func Issue(tb testing.TB, ca *CA, l Leaf) Issued {
	tb.Helper()
	key := newKey(tb, l.Key)
	if l.NotBefore.IsZero() {
		l.NotBefore = time.Now().Add(-time.Hour)
	}
	if l.NotAfter.IsZero() {
		l.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	cn := "server"
	if len(l.DNSNames) > 0 {
		cn = l.DNSNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     l.DNSNames,
		IPAddresses:  l.IPs,
		NotBefore:    l.NotBefore,
		NotAfter:     l.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.Cert, ca.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		tb.Fatalf("issue certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatalf("marshal key: %v", err)
	}
	certPEM := pemBlock("CERTIFICATE", der)
	chain := [][]byte{der}
	if ca != nil {
		certPEM = append(certPEM, ca.PEM...)
		chain = append(chain, ca.Cert.Raw)
	}
	return Issued{
		TLS:     tls.Certificate{Certificate: chain, PrivateKey: key},
		CertPEM: certPEM,
		KeyPEM:  pemBlock("PRIVATE KEY", keyDER),
	}
}

// WriteFiles writes the certificate and key into dir with the key at mode
// 0600 and returns their paths.
func (i Issued) WriteFiles(tb testing.TB, dir, name string) (certFile, keyFile string) {
	tb.Helper()
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, i.CertPEM, 0o644); err != nil {
		tb.Fatalf("write cert: %v", err)
	}
	if err := os.WriteFile(keyFile, i.KeyPEM, 0o600); err != nil {
		tb.Fatalf("write key: %v", err)
	}
	return certFile, keyFile
}

func newKey(tb testing.TB, k KeyKind) crypto.Signer {
	tb.Helper()
	var (
		key crypto.Signer
		err error
	)
	switch k {
	case KeyRSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA1024:
		key, err = rsa.GenerateKey(rand.Reader, 1024)
	default:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		tb.Fatalf("generate key: %v", err)
	}
	return key
}

func serial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatalf("serial: %v", err)
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
