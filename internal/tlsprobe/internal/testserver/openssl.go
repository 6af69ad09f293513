package testserver

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// OpenSSL is Debian's openssl binary; its s_server is the reference TLS
// server the version and suite probes are judged against.
const OpenSSL = "/usr/bin/openssl"

// OpenSSLConfig is one `openssl s_server` start.
type OpenSSLConfig struct {
	Cert Issued
	// MinProtocol and MaxProtocol are s_server's -min_protocol and
	// -max_protocol ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"); empty keeps
	// OpenSSL's default.
	MinProtocol, MaxProtocol string
	// Cipher is -cipher (TLS 1.2 and below, OpenSSL syntax). OpenSSL 3 in
	// Debian 12 refuses TLS 1.0 and 1.1 at its default security level 2
	// (the handshake ends in an internal_error alert): those need
	// "...:@SECLEVEL=0".
	Cipher string
	// Ciphersuites is -ciphersuites (TLS 1.3 suites).
	Ciphersuites string
}

// StartOpenSSL runs `openssl s_server -www` on loopback and returns its
// address. s_server serves one connection at a time: a client that holds a
// connection open keeps every other client waiting, as a small embedded
// server or a single-threaded proxy would.
func StartOpenSSL(tb testing.TB, cfg OpenSSLConfig) string {
	tb.Helper()
	RequireBinary(tb, OpenSSL, "openssl")
	dir := tb.TempDir()
	crt, key := cfg.Cert.WriteFiles(tb, dir, "server")
	port := FreePort(tb)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"s_server", "-accept", addr, "-cert", crt, "-key", key, "-www", "-quiet"}
	for _, kv := range [][2]string{
		{"-min_protocol", cfg.MinProtocol}, {"-max_protocol", cfg.MaxProtocol},
		{"-cipher", cfg.Cipher}, {"-ciphersuites", cfg.Ciphersuites},
	} {
		if kv[1] != "" {
			args = append(args, kv[0], kv[1])
		}
	}
	cmd := exec.Command(OpenSSL, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start openssl s_server: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	tb.Cleanup(func() { _ = stopProcess(cmd, syscall.SIGTERM, 10*time.Second, waited) })
	if err := waitTLS(addr, waited); err != nil {
		tb.Fatalf("openssl s_server did not start: %v\n%s", err, logs.String())
	}
	return addr
}

// StartSilent listens on loopback, accepts every connection and never
// writes a byte: a TLS probe against it gets no answer at all.
func StartSilent(tb testing.TB) string {
	tb.Helper()
	return StartGate(tb, "", 0)
}

// StartGate listens on loopback and forwards the first `forward`
// connections to upstream; every later connection is accepted and left
// unanswered until the test ends. It stands for a server that answers a
// client's first connection and then stops answering (overloaded, rate
// limited, or serving one connection at a time behind a queue).
func StartGate(tb testing.TB, upstream string, forward int) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if n >= forward {
				continue // held open, never answered
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, up)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return ln.Addr().String()
}
