package testserver

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PostgresBin is where Debian's postgresql-15 package installs the server;
// postgresBin falls back to any other installed major version.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// postgresBin returns PostgresBin if it holds a server, else the newest
// /usr/lib/postgresql/*/bin that does, else PostgresBin (for the error message).
func postgresBin() string {
	if _, err := os.Stat(filepath.Join(PostgresBin, "postgres")); err == nil {
		return PostgresBin
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	best, bestMajor := PostgresBin, 0
	for _, m := range matches {
		major, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if err == nil && major > bestMajor {
			best, bestMajor = filepath.Dir(m), major
		}
	}
	return best
}

// HBA files used by the tests. Rules match top-down, first match wins
// (https://www.postgresql.org/docs/15/auth-pg-hba-conf.html).
const (
	// HBAHostSSLOnly admits TLS clients only; plaintext ones are rejected.
	HBAHostSSLOnly = "hostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n"
	// HBAAnyHost lets plaintext and TLS clients reach password authentication.
	HBAAnyHost = "host all all 127.0.0.1/32 scram-sha-256\n"
)

// PostgresCluster is one initdb'd data directory that servers start from in turn.
type PostgresCluster struct {
	bin  string
	dir  string
	cred *syscall.Credential // nil when not running as root
	uid  int
	gid  int
}

// PostgresConfig is one server start.
type PostgresConfig struct {
	SSL     bool
	HBA     string
	Cert    *Issued  // required when SSL is on
	Options []string // extra "name=value" settings, e.g. ssl_min_protocol_version=TLSv1.3
}

// NewPostgresCluster runs initdb into a fresh directory. initdb refuses to run
// as root, so under root it runs as the postgres user, which must own the
// data directory and key files.
func NewPostgresCluster(tb testing.TB) *PostgresCluster {
	tb.Helper()
	bin := postgresBin()
	RequireBinary(tb, filepath.Join(bin, "postgres"), "postgresql-15")
	c := &PostgresCluster{bin: bin, uid: os.Getuid(), gid: os.Getgid()}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("running as root needs the postgres user (Debian package postgresql-15): %v", err)
		}
		c.uid, _ = strconv.Atoi(u.Uid)
		c.gid, _ = strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid)}
	}
	dir, err := os.MkdirTemp("", "budnet-pg-")
	if err != nil {
		tb.Fatalf("make postgres dir: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	c.dir = dir
	if err := os.Chown(dir, c.uid, c.gid); err != nil {
		tb.Fatalf("chown postgres dir: %v", err)
	}
	out, err := c.command(filepath.Join(c.bin, "initdb"),
		"-D", c.dataDir(), "-U", "postgres", "--auth=trust", "--no-sync", "--no-instructions",
		"-E", "UTF8", "--locale=C").CombinedOutput()
	if err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	return c
}

func (c *PostgresCluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *PostgresCluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = []string{"LANG=C", "LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// writeOwned writes a file the server user owns.
func (c *PostgresCluster) writeOwned(tb testing.TB, name string, data []byte, mode os.FileMode) string {
	tb.Helper()
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, data, mode); err != nil {
		tb.Fatalf("write %s: %v", name, err)
	}
	if err := os.Chmod(p, mode); err != nil {
		tb.Fatalf("chmod %s: %v", name, err)
	}
	if err := os.Chown(p, c.uid, c.gid); err != nil {
		tb.Fatalf("chown %s: %v", name, err)
	}
	return p
}

// Start runs postgres with cfg on a free loopback port, waits until it
// accepts connections and returns its address. The server is stopped by
// the returned function or, at the latest, by tb's Cleanup.
func (c *PostgresCluster) Start(tb testing.TB, cfg PostgresConfig) (addr string, stop func()) {
	tb.Helper()
	port := FreePort(tb)
	hba := c.writeOwned(tb, fmt.Sprintf("hba-%d.conf", port), []byte(cfg.HBA), 0o600)
	args := []string{
		"-D", c.dataDir(), "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + c.dir,
		"-c", "hba_file=" + hba, "-c", "fsync=off", "-c", "max_connections=60",
		"-c", "shared_buffers=16MB", "-c", "ssl=" + onOff(cfg.SSL),
	}
	if cfg.SSL {
		if cfg.Cert == nil {
			tb.Fatal("postgres with ssl on needs a certificate")
		}
		crt := c.writeOwned(tb, fmt.Sprintf("server-%d.crt", port), cfg.Cert.CertPEM, 0o644)
		key := c.writeOwned(tb, fmt.Sprintf("server-%d.key", port), cfg.Cert.KeyPEM, 0o600)
		args = append(args, "-c", "ssl_cert_file="+crt, "-c", "ssl_key_file="+key)
	}
	for _, o := range cfg.Options {
		args = append(args, "-c", o)
	}
	cmd := c.command(filepath.Join(c.bin, "postgres"), args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start postgres: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		// SIGINT is PostgreSQL's fast shutdown: roll back and exit at once.
		_ = stopProcess(cmd, syscall.SIGINT, 10*time.Second, waited)
	}
	tb.Cleanup(stop)
	if err := c.waitReady(waited); err != nil {
		stop()
		tb.Fatalf("postgres did not start: %v\n%s", err, logs.String())
	}
	return fmt.Sprintf("127.0.0.1:%d", port), stop
}

// waitReady polls postmaster.pid, whose eighth line turns to "ready" once
// the server accepts connections (src/include/utils/pidfile.h, PM_STATUS_READY).
func (c *PostgresCluster) waitReady(waited chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-waited:
			waited <- err
			return fmt.Errorf("postgres exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		b, err := os.ReadFile(filepath.Join(c.dataDir(), "postmaster.pid"))
		if err != nil {
			continue
		}
		lines := strings.Split(string(b), "\n")
		if len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready" {
			return nil
		}
	}
	return fmt.Errorf("not ready after 30s")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
