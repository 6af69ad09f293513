package testserver

import (
	"context"
	"crypto/tls"
	"errors"
	"github.com/budnet/budnet/internal/testenv"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// StartTLS serves cfg on a loopback port: each connection is handshaken and
// then held until the client closes it, like a database that waits for its
// first message. It returns the listening address.
func StartTLS(tb testing.TB, cfg *tls.Config) string {
	tb.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		tb.Fatalf("listen tls: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				// Read drives the handshake and then waits for the peer to go.
				var b [256]byte
				for {
					if _, err := c.Read(b[:]); err != nil {
						return
					}
				}
			})
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// StartHTTPS serves h over TLS with cfg and returns the address.
func StartHTTPS(tb testing.TB, cfg *tls.Config, h http.Handler) string {
	tb.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		tb.Fatalf("listen https: %v", err)
	}
	return serveHTTP(tb, ln, h)
}

// StartHTTP serves h over plain HTTP and returns the address.
func StartHTTP(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen http: %v", err)
	}
	return serveHTTP(tb, ln, h)
}

func serveHTTP(tb testing.TB, ln net.Listener, h http.Handler) string {
	// The probe's deliberately failing handshakes would flood the test log.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

// FreePort returns a loopback port that was free a moment ago, for servers
// that must be told their port on the command line.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// RequireBinary skips the test when path is missing, or fails it under CI=true
// where the CI image must provide every server.
func RequireBinary(tb testing.TB, path, pkg string) {
	tb.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if _, err := exec.LookPath(path); err == nil {
		return
	}
	testenv.Missing(tb, "%s not found: install the Debian package %s to run this test", path, pkg)
}

// stopProcess asks cmd to stop with sig, and kills it after grace.
func stopProcess(cmd *exec.Cmd, sig os.Signal, grace time.Duration, waited <-chan error) error {
	if cmd.Process == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case err := <-waited:
		return err
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-waited
		return errors.New("killed after grace period")
	}
}
