package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/budnet/budnet/internal/netpol/netpoltest"
)

// countingWriter counts output lines, to report connections per run.
type countingWriter struct{ lines int }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.lines += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

var _ io.Writer = (*countingWriter)(nil)

// BenchmarkReachJSON runs the whole `budnet reach -f FILE -o json` command:
// reading and decoding YAML, building the engine, the matrix, and streaming
// the JSON. The inputs are Pod manifests, as a cluster dump would give.
func BenchmarkReachJSON(b *testing.B) {
	cases := []struct {
		name string
		pods int
		bare bool
	}{
		{"pods=500", 500, false},
		{"pods=1000", 1000, false},
		{"bare-pods=5000", 5000, true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			c := netpoltest.GenerateCluster(1, bc.pods)
			if bc.bare {
				c = netpoltest.GenerateBarePods(1, bc.pods)
			}
			path := filepath.Join(b.TempDir(), "cluster.yaml")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := netpoltest.WriteManifests(f, c); err != nil {
				b.Fatal(err)
			}
			f.Close()
			b.ReportAllocs()
			b.ResetTimer()
			var out countingWriter
			for b.Loop() {
				out = countingWriter{}
				code := Execute(context.Background(), []string{"reach", "-f", path, "-o", "json"},
					Streams{In: bytes.NewReader(nil), Out: &out, ErrOut: io.Discard})
				if code != 0 {
					b.Fatalf("exit %d", code)
				}
			}
			b.ReportMetric(float64(out.lines-3), "connections")
		})
	}
}

func TestReachBenchInputsLoad(t *testing.T) {
	// The benchmark inputs must be valid manifests that the loader accepts and
	// that name workloads as the generator does.
	var buf bytes.Buffer
	if err := netpoltest.WriteManifests(&buf, netpoltest.GenerateCluster(1, 60)); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, buf.String(), "reach", "-f", "-", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !bytes.Contains([]byte(out), []byte(`[Deployment]`)) {
		t.Errorf("pods with a controller owner are not reported as the owner: %.300s", out)
	}
}
