package tlsprobe_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"testing"

	"github.com/budnet/budnet/internal/tlsprobe"
	"github.com/budnet/budnet/internal/tlsprobe/internal/testserver"
)

// hardened sets the headers the guide asks the edge for.
func hardened(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	_, _ = w.Write([]byte("ok"))
}

func redirectTo(code int, scheme string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, scheme+"://"+r.Host+r.URL.RequestURI(), code)
	}
}

func TestHTTPSEdge(t *testing.T) {
	ca := testserver.NewCA(t, "test ca")
	cert := testserver.Issue(t, ca, testserver.Leaf{DNSNames: []string{"edge.test"}})
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert.TLS}, NextProtos: []string{"h2", "http/1.1"}}
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	shortHSTS := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Strict-Transport-Security", "max-age=86400")
		_, _ = w.Write([]byte("ok"))
	})
	tests := []struct {
		name  string
		https http.Handler
		plain http.Handler // nil: nothing listens on the HTTP port
		want  map[string]tlsprobe.Status
	}{
		{
			name: "hardened with permanent redirect", https: http.HandlerFunc(hardened), plain: redirectTo(http.StatusMovedPermanently, "https"),
			want: map[string]tlsprobe.Status{
				tlsprobe.CheckHTTPRedirect: tlsprobe.StatusPass, tlsprobe.CheckHSTS: tlsprobe.StatusPass,
				tlsprobe.CheckFraming: tlsprobe.StatusPass, tlsprobe.CheckNoSniff: tlsprobe.StatusPass,
				tlsprobe.CheckCSP: tlsprobe.StatusPass, tlsprobe.CheckReferrer: tlsprobe.StatusPass,
				tlsprobe.CheckCertHostname: tlsprobe.StatusPass,
			},
		},
		{
			name: "308 redirect", https: http.HandlerFunc(hardened), plain: redirectTo(http.StatusPermanentRedirect, "https"),
			want: map[string]tlsprobe.Status{tlsprobe.CheckHTTPRedirect: tlsprobe.StatusPass},
		},
		{
			name: "temporary redirect", https: http.HandlerFunc(hardened), plain: redirectTo(http.StatusFound, "https"),
			want: map[string]tlsprobe.Status{tlsprobe.CheckHTTPRedirect: tlsprobe.StatusWarn},
		},
		{
			name: "redirect to http", https: http.HandlerFunc(hardened), plain: redirectTo(http.StatusMovedPermanently, "http"),
			want: map[string]tlsprobe.Status{tlsprobe.CheckHTTPRedirect: tlsprobe.StatusFail},
		},
		{
			name: "serves plaintext, no headers", https: bare, plain: bare,
			want: map[string]tlsprobe.Status{
				tlsprobe.CheckHTTPRedirect: tlsprobe.StatusFail, tlsprobe.CheckHSTS: tlsprobe.StatusFail,
				tlsprobe.CheckFraming: tlsprobe.StatusFail, tlsprobe.CheckNoSniff: tlsprobe.StatusFail,
				tlsprobe.CheckCSP: tlsprobe.StatusFail, tlsprobe.CheckReferrer: tlsprobe.StatusFail,
			},
		},
		{
			name: "short hsts, no plain listener", https: shortHSTS, plain: nil,
			want: map[string]tlsprobe.Status{
				tlsprobe.CheckHTTPRedirect: tlsprobe.StatusInfo, tlsprobe.CheckHSTS: tlsprobe.StatusWarn,
				tlsprobe.CheckFraming: tlsprobe.StatusPass,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			httpsAddr := testserver.StartHTTPS(t, tlsCfg, tc.https)
			httpPort := testserver.FreePort(t)
			resolve := map[string]string{}
			if tc.plain != nil {
				plainAddr := testserver.StartHTTP(t, tc.plain)
				httpPort = portOf(t, plainAddr)
				resolve[net.JoinHostPort("edge.test", itoa(httpPort))] = plainAddr
			}
			httpsPort := portOf(t, httpsAddr)
			resolve[net.JoinHostPort("edge.test", itoa(httpsPort))] = httpsAddr
			r := probe(t, ca.Pool(), "https://edge.test:"+itoa(httpsPort), func(o *tlsprobe.Options) {
				o.HTTPPort = httpPort
				o.Resolve = resolve
			})
			if r.HTTP == nil {
				t.Fatalf("no http observations: %+v", r)
			}
			wantStatus(t, r, tc.want)
			if r.TLS.ALPN != "h2" {
				t.Errorf("ALPN = %q, want h2 from Go's HTTPS server", r.TLS.ALPN)
			}
		})
	}
}
