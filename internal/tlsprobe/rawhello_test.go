package tlsprobe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"github.com/budnet/budnet/internal/tlsprobe/internal/testserver"
)

// TestRawHelloAgainstGoServer checks the hand-made ClientHello and the
// ServerHello parser against crypto/tls's server, an independent implementation.
func TestRawHelloAgainstGoServer(t *testing.T) {
	ca := testserver.NewCA(t, "test ca")
	cert := testserver.Issue(t, ca, testserver.Leaf{DNSNames: []string{"localhost"}, Key: testserver.KeyRSA2048})
	addr := testserver.StartTLS(t, &tls.Config{
		Certificates: []tls.Certificate{cert.TLS},
		MinVersion:   tls.VersionTLS11, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
	})
	p, err := New(Options{Resolve: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	target := Target{Scheme: SchemeTLS, Host: "localhost", Port: atoi(t, port)}
	p.opts.Resolve[target.Address()] = net.JoinHostPort(host, port)
	tests := []struct {
		name    string
		version uint16
		suites  []uint16
		want    helloReply
		refused bool
	}{
		{name: "gcm at tls 1.2", version: tls.VersionTLS12, suites: []uint16{0x0039, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, want: helloReply{version: tls.VersionTLS12, suite: tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}},
		{name: "cbc at tls 1.1", version: tls.VersionTLS11, suites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}, want: helloReply{version: tls.VersionTLS11, suite: tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}},
		{name: "dhe only", version: tls.VersionTLS12, suites: []uint16{0x0039, 0x009F}, refused: true},
		{name: "tls 1.0 refused", version: tls.VersionTLS10, suites: allHelloSuites(), refused: true},
		{name: "ssl 3.0 refused", version: 0x0300, suites: allHelloSuites(), refused: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.rawHello(context.Background(), target, tc.version, tc.suites)
			if tc.refused {
				if !errors.Is(err, errHelloRefused) {
					t.Fatalf("rawHello = %+v, %v; want refused", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("rawHello = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("port %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestBuildClientHello(t *testing.T) {
	tests := []struct {
		name    string
		version uint16
		host    string
		sni     bool
		sigAlgs bool
	}{
		{name: "tls 1.2 with name", version: tls.VersionTLS12, host: "db.example", sni: true, sigAlgs: true},
		{name: "tls 1.0 with ip", version: tls.VersionTLS10, host: "10.0.0.1", sni: false, sigAlgs: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := buildClientHello(tc.version, tc.host, []uint16{0x0033, 0xC02F})
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != recordHandshake || int(binary.BigEndian.Uint16(b[3:5])) != len(b)-5 {
				t.Fatalf("bad record header % x", b[:5])
			}
			hs := b[5:]
			if hs[0] != handshakeClient || int(hs[1])<<16|int(hs[2])<<8|int(hs[3]) != len(hs)-4 {
				t.Fatalf("bad handshake header % x", hs[:4])
			}
			if v := binary.BigEndian.Uint16(hs[4:6]); v != tc.version {
				t.Errorf("client_version %#x, want %#x", v, tc.version)
			}
			if got := bytes.Contains(b, []byte(tc.host)); got != tc.sni {
				t.Errorf("sni present = %v, want %v", got, tc.sni)
			}
			if got := bytes.Contains(b, []byte{0x00, 0x0d}); got != tc.sigAlgs {
				t.Errorf("signature_algorithms present = %v, want %v", got, tc.sigAlgs)
			}
		})
	}
}

// serverHelloRecord frames a minimal ServerHello.
func serverHelloRecord(version, suite uint16, sid int) []byte {
	body := binary.BigEndian.AppendUint16(nil, version)
	body = append(body, make([]byte, 32)...)
	body = append(body, byte(sid))
	body = append(body, make([]byte, sid)...)
	body = binary.BigEndian.AppendUint16(body, suite)
	body = append(body, 0)
	hs := append([]byte{handshakeServer, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{recordHandshake, 3, 3, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}

func TestReadServerHello(t *testing.T) {
	whole := serverHelloRecord(tls.VersionTLS12, 0x009F, 32)
	// The same handshake bytes split over two records.
	hs := whole[5:]
	split := append([]byte{recordHandshake, 3, 3, 0, 10}, hs[:10]...)
	split = append(split, recordHandshake, 3, 3, 0, byte(len(hs)-10))
	split = append(split, hs[10:]...)
	tests := []struct {
		name    string
		in      []byte
		want    helloReply
		refused bool
		wantErr bool
	}{
		{name: "server hello", in: whole, want: helloReply{version: tls.VersionTLS12, suite: 0x009F}},
		{name: "no session id", in: serverHelloRecord(tls.VersionTLS10, 0x0033, 0), want: helloReply{version: tls.VersionTLS10, suite: 0x0033}},
		{name: "split over records", in: split, want: helloReply{version: tls.VersionTLS12, suite: 0x009F}},
		{name: "handshake failure alert", in: []byte{recordAlert, 3, 3, 0, 2, 2, 40}, refused: true},
		{name: "closed", in: nil, refused: true},
		{name: "http answer", in: []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), wantErr: true},
		{name: "certificate first", in: []byte{recordHandshake, 3, 3, 0, 4, 11, 0, 0, 0}, wantErr: true},
		{name: "oversized session id", in: serverHelloRecord(tls.VersionTLS12, 1, 33), wantErr: true},
		{name: "truncated", in: whole[:20], wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readServerHello(bytes.NewReader(tc.in))
			switch {
			case tc.refused:
				if !errors.Is(err, errHelloRefused) {
					t.Fatalf("got %+v, %v; want refused", got, err)
				}
			case tc.wantErr:
				if err == nil || errors.Is(err, errHelloRefused) {
					t.Fatalf("got %+v, %v; want a parse error", got, err)
				}
			default:
				if err != nil || got != tc.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
				}
			}
		})
	}
}

// FuzzReadServerHello feeds arbitrary server bytes to the ServerHello reader:
// it must not panic, and a reply it returns must come from a handshake record
// whose first message is a ServerHello.
func FuzzReadServerHello(f *testing.F) {
	f.Add(serverHelloRecord(tls.VersionTLS12, 0x009F, 32))
	f.Add(serverHelloRecord(tls.VersionTLS10, 0x0033, 0))
	f.Add([]byte{recordAlert, 3, 3, 0, 2, 2, 40})
	f.Add([]byte{recordHandshake, 3, 3, 0, 1, 2})
	f.Add([]byte{recordHandshake, 3, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := readServerHello(bytes.NewReader(data))
		if err == nil && (len(data) < 5+4+38 || data[0] != recordHandshake || data[5] != handshakeServer) {
			t.Fatalf("accepted %q as a server hello", data)
		}
	})
}
