package tlsprobe_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/budnet/budnet/internal/tlsprobe"
	"github.com/budnet/budnet/internal/tlsprobe/internal/testserver"
)

// benchCheck measures one full check of one endpoint: every version, every
// TLS 1.2 suite, the chain and the protocol extras.
func benchCheck(b *testing.B, raw string, opts tlsprobe.Options) {
	b.Helper()
	target, err := tlsprobe.ParseTarget(raw)
	if err != nil {
		b.Fatal(err)
	}
	p, err := tlsprobe.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := p.Check(ctx, target)
		if r.Error != "" || r.TLS == nil {
			b.Fatalf("probe failed: %+v", r)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	ca := testserver.NewCA(b, "bench ca")
	rsaCert := testserver.Issue(b, ca, testserver.Leaf{DNSNames: []string{"localhost"}, IPs: loopback, Key: testserver.KeyRSA2048})
	ecCert := testserver.Issue(b, ca, testserver.Leaf{DNSNames: []string{"localhost"}, IPs: loopback})

	b.Run("go-tls-ecdsa", func(b *testing.B) {
		addr := testserver.StartTLS(b, &tls.Config{Certificates: []tls.Certificate{ecCert.TLS}})
		benchCheck(b, "tls://"+addr, tlsprobe.Options{RootCAs: ca.Pool()})
	})
	b.Run("go-tls-rsa2048", func(b *testing.B) {
		addr := testserver.StartTLS(b, &tls.Config{Certificates: []tls.Certificate{rsaCert.TLS}})
		benchCheck(b, "tls://"+addr, tlsprobe.Options{RootCAs: ca.Pool()})
	})
	b.Run("go-https-edge", func(b *testing.B) {
		httpsAddr := testserver.StartHTTPS(b, &tls.Config{Certificates: []tls.Certificate{ecCert.TLS}}, http.HandlerFunc(hardened))
		plainAddr := testserver.StartHTTP(b, redirectTo(http.StatusMovedPermanently, "https"))
		benchCheck(b, "https://"+httpsAddr, tlsprobe.Options{RootCAs: ca.Pool(), HTTPPort: portOf(b, plainAddr)})
	})
	b.Run("postgres15", func(b *testing.B) {
		cluster := testserver.NewPostgresCluster(b)
		addr, stop := cluster.Start(b, testserver.PostgresConfig{SSL: true, HBA: testserver.HBAHostSSLOnly, Cert: &rsaCert})
		defer stop()
		benchCheck(b, "postgres://"+addr, tlsprobe.Options{RootCAs: ca.Pool()})
	})
	b.Run("redis7", func(b *testing.B) {
		addr := testserver.StartRedis(b, testserver.RedisConfig{Cert: ecCert, CA: ca, AuthClients: "no"})
		benchCheck(b, "redis://"+addr, tlsprobe.Options{RootCAs: ca.Pool()})
	})
}
