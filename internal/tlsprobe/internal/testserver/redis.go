package testserver

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// RedisServer is Debian's redis-server binary.
const RedisServer = "/usr/bin/redis-server"

// RedisConfig is one redis-server start with TLS only.
type RedisConfig struct {
	Cert        Issued
	CA          *CA
	AuthClients string // tls-auth-clients: "yes", "no" or "optional"
	Protocols   string // tls-protocols, e.g. "TLSv1.2"; empty keeps the default
	Ciphers     string // tls-ciphers (TLS 1.2 and below, OpenSSL syntax); empty keeps the default
	RequirePass string
}

// StartRedis runs redis-server in the foreground with the plaintext port off
// and a TLS port on loopback; it returns the TLS address.
func StartRedis(tb testing.TB, cfg RedisConfig) string {
	tb.Helper()
	RequireBinary(tb, RedisServer, "redis-server")
	dir := tb.TempDir()
	crt, key := cfg.Cert.WriteFiles(tb, dir, "redis")
	caFile := dir + "/ca.crt"
	if err := os.WriteFile(caFile, cfg.CA.PEM, 0o644); err != nil {
		tb.Fatalf("write ca: %v", err)
	}
	port := FreePort(tb)
	args := []string{
		"--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", crt, "--tls-key-file", key, "--tls-ca-cert-file", caFile,
		"--tls-auth-clients", cfg.AuthClients, "--daemonize", "no",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "",
	}
	if cfg.Protocols != "" {
		args = append(args, "--tls-protocols", cfg.Protocols)
	}
	if cfg.Ciphers != "" {
		args = append(args, "--tls-ciphers", cfg.Ciphers)
	}
	if cfg.RequirePass != "" {
		args = append(args, "--requirepass", cfg.RequirePass)
	}
	cmd := exec.Command(RedisServer, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	tb.Cleanup(func() { _ = stopProcess(cmd, syscall.SIGTERM, 10*time.Second, waited) })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := waitTLS(addr, waited); err != nil {
		tb.Fatalf("redis-server did not start: %v\n%s", err, logs.String())
	}
	return addr
}

// waitTLS waits until addr accepts TCP connections.
func waitTLS(addr string, waited chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-waited:
			waited <- err
			return fmt.Errorf("exited: %v", err)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			// Any TLS answer, even an alert refusing our versions, shows the
			// server has loaded its keys and is serving.
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10}) //nolint:gosec // readiness only
			_ = tc.SetDeadline(time.Now().Add(2 * time.Second))
			herr := tc.Handshake()
			tc.Close()
			var op *net.OpError
			if herr == nil || errors.As(herr, &op) && op.Op == "remote error" {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s not accepting tls after 20s", addr)
}
