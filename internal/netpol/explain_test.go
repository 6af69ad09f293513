package netpol_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/budnet/budnet/internal/netpol"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestVerdictExplanations pins the CLI explanations (Verdict.String) of a few
// connections under testdata/explain-policies.yaml; regenerate with -update.
func TestVerdictExplanations(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "explain-policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := fixtureCluster()
	c.Policies = parsePolicies(t, string(raw))
	e, err := netpol.New(c, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conns := []check{
		{src: "a/web", dst: "a/db", port: 5432},
		{src: "a/web", dst: "a/db", port: 9000},
		{src: "b/client", dst: "a/web", port: 8080},
		{src: "8.8.8.8", dst: "a/web", port: 8080},
		{src: "10.1.1.1", dst: "a/web", port: 8080},
		{src: "a/client", dst: "b/web", port: 80},
		{src: "b/client", dst: "b/web", proto: "UDP", port: 53},
		{src: "c/node", dst: "a/db", port: 5432},
	}
	var buf bytes.Buffer
	for _, ck := range conns {
		v := e.Evaluate(peerOf(t, c, ck.src), peerOf(t, c, ck.dst), ck.proto, ck.port)
		fmt.Fprintf(&buf, "%s\n  %s\n", ck, v)
	}
	golden := filepath.Join("testdata", "verdicts.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("explanations differ from %s (run with -update if intended):\n%s", golden, buf.String())
	}
}
