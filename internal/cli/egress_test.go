package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/platform"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func runEgress(ctx context.Context, args []string, out, errOut io.Writer) error {
	cmd := newEgressCommand(Streams{In: strings.NewReader(""), Out: out, ErrOut: errOut})
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	return cmd.ExecuteContext(ctx)
}

func TestEgressServeUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "bad mode", args: []string{"serve", "--mode", "audit"}},
		{name: "tls key without cert", args: []string{"serve", "--tls-key", "k.pem"}},
		{name: "client ca without tls", args: []string{"serve", "--client-ca", "ca.pem"}},
		{name: "same listeners", args: []string{"serve", "--listen", ":1", "--admin-listen", ":1"}},
		{name: "tiny header limit", args: []string{"serve", "--max-header-bytes", "10"}},
		{name: "negative dns cache ttl", args: []string{"serve", "--dns-cache-ttl", "-1s"}},
		{name: "per-address limit above the connection limit", args: []string{"serve", "--max-connections", "100", "--max-tunnels", "50", "--max-tunnels-per-source", "50", "--max-connections-per-address", "200"}},
		{name: "more tunnels than connections", args: []string{"serve", "--max-connections", "100", "--max-tunnels", "200", "--max-tunnels-per-source", "50"}},
		{name: "missing platform file", args: []string{"serve", "--platform", "/nonexistent.yaml", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := runEgress(context.Background(), tc.args, io.Discard, io.Discard)
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != ExitUsage {
				t.Fatalf("err = %v, want usage error", err)
			}
		})
	}
}

// TestEgressServeRun starts the real command, checks the admin endpoints and a
// refused CONNECT, breaks the platform file (the reload fails and is
// counted, the old allowlist stays), and stops it by cancelling the context.
var reloadFailureCounted = regexp.MustCompile(`(?m)^budnet_egress_reloads_total\{result="failure"\} [1-9]`)

func TestEgressServeRun(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "platform.yaml")
	if err := os.WriteFile(file, platform.BudYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	proxy, admin := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runEgress(ctx, []string{"serve", "--platform", file, "--listen", proxy, "--admin-listen", admin,
			"--watch-interval", "50ms", "--shutdown-timeout", "1s"}, out, errOut)
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for code, _ := get("/readyz"); code != 200; code, _ = get("/readyz") {
		if time.Now().After(deadline) {
			t.Fatalf("never ready; log: %s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT api.openai.com:443 HTTP/1.1\r\n\r\n")
	b := make([]byte, 64)
	n, _ := c.Read(b)
	c.Close()
	if !strings.HasPrefix(string(b[:n]), "HTTP/1.1 403") {
		t.Fatalf("unidentified loopback caller got %q", b[:n])
	}
	if err := os.WriteFile(file, []byte("apiVersion: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for {
		_, metrics := get("/metrics")
		// os.WriteFile truncates before it writes, so the watcher may see the
		// empty file first and count two failures; any count means it was seen.
		if reloadFailureCounted.MatchString(metrics) {
			if !strings.Contains(metrics, `budnet_egress_requests_total{decision="deny",destination="unlisted",reason="unidentified_source",source="unidentified"} 1`) {
				t.Fatalf("requests metric missing:\n%s", metrics)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reload failure not counted; log: %s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(out.String(), `"reason":"unidentified_source"`) {
		t.Fatalf("audit output: %s", out.String())
	}
}
