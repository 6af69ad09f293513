// Package nstest runs one test in fresh Linux mount and network namespaces,
// so it can put a real /etc/resolv.conf in front of the real resolvers (Go's
// own and glibc's through cgo), run a DNS server on 127.0.0.1:53, and give the
// loopback interface public-looking addresses to listen on, without touching
// the machine. The namespaces need root (CAP_SYS_ADMIN); without it the test
// skips, and under CI=true it fails.
//
// A test uses it like this:
//
//	func TestX(t *testing.T) {
//		if !nstest.Enter(t, "GODEBUG=netdns=go", "GODEBUG=netdns=cgo") {
//			return // the parent: the children ran the body and reported
//		}
//		nstest.BindFile(t, "/etc/resolv.conf", "nameserver 127.0.0.1\n")
//		...
//	}
//
// Enter re-executes the test binary running only that test, once per
// variant (extra environment), with CLONE_NEWNS|CLONE_NEWNET; Go's
// os/exec makes the new mount namespace private (MS_REC|MS_PRIVATE on /)
// before the child runs, so bind mounts stay inside it.
package nstest

import (
	"github.com/budnet/budnet/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// childEnv names the test a re-executed binary runs as the child.
const childEnv = "BUDNET_NSTEST_CHILD"

// InChild reports whether this process is a namespaced child of Enter.
func InChild() bool { return os.Getenv(childEnv) != "" }

// Enter returns true in the child, where the test body must run. In the
// parent it runs one child per variant (each a space-separated list of
// NAME=value settings; none means one child with the inherited environment),
// reports each child's output and failure, and returns false.
func Enter(t *testing.T, variants ...string) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	if strings.Contains(t.Name(), "/") {
		t.Fatalf("nstest.Enter needs a top-level test, not the subtest %s", t.Name())
	}
	if len(variants) == 0 {
		variants = []string{""}
	}
	for _, v := range variants {
		runChild(t, v)
	}
	return false
}

func runChild(t *testing.T, variant string) {
	t.Helper()
	args := []string{"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.count=1", "-test.v"}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	cmd.Env = append(cmd.Env, strings.Fields(variant)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET}
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil { // the child never ran: no namespaces for us
		unavailable(t, "cannot start a test in new mount and network namespaces (needs root): "+err.Error())
		return
	}
	label := variant
	if label == "" {
		label = "(inherited environment)"
	}
	t.Logf("namespaced child %s:\n%s", label, out)
	if err != nil {
		t.Errorf("namespaced child %s failed: %v", label, err)
		return
	}
	// A child that ran nothing or skipped must not read as a pass.
	if !strings.Contains(string(out), "--- PASS: "+t.Name()+" ") {
		t.Errorf("namespaced child %s did not pass %s", label, t.Name())
	}
}

func unavailable(t *testing.T, why string) {
	t.Helper()
	testenv.Missing(t, "%s", why)
}

// BindFile puts content over path for this process's mount namespace only.
// It refuses to run outside a child of Enter, where it would change the
// machine's own file.
func BindFile(t *testing.T, path, content string) {
	t.Helper()
	if !InChild() {
		t.Fatalf("nstest.BindFile(%s) outside a namespaced child", path)
	}
	src := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(src, path, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s over %s: %v", src, path, err)
	}
}

// Loopback brings up the namespace's loopback interface and adds addrs to it
// (CIDR notation, such as 162.159.140.245/32), so servers can listen on public-looking addresses
// and the code under test dials them like any other.
func Loopback(t *testing.T, addrs ...string) {
	t.Helper()
	if !InChild() {
		t.Fatal("nstest.Loopback outside a namespaced child")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatalf("the ip command (Debian iproute2) is needed: %v", err)
	}
	cmds := [][]string{{"link", "set", "lo", "up"}}
	for _, a := range addrs {
		cmds = append(cmds, []string{"addr", "add", a, "dev", "lo"})
	}
	for _, c := range cmds {
		if out, err := exec.Command(ip, c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
}
