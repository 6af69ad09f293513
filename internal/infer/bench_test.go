package infer

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
)

// scaledFixtures returns the testdata/bud fixtures copied n times, each copy
// in its own namespaces, as one YAML stream.
func scaledFixtures(tb testing.TB, n int) []byte {
	tb.Helper()
	files, err := filepath.Glob("testdata/bud/*.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	var base strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		base.WriteString("\n---\n")
		base.Write(data)
	}
	nsRef := regexp.MustCompile(`\b(bud-data|dapr-system)\b`)
	nsDecl := regexp.MustCompile(`(?m)^(\s*(?:namespace|name): )(bud|traefik)$`)
	var out strings.Builder
	for i := range n {
		if i == 0 {
			// The first copy keeps the names: Secrets' base64 data names
			// bud-data, so the other copies' budcluster reaches it.
			out.WriteString(base.String())
			continue
		}
		// One edge for all copies, so the routes grow with the copies
		// and not with their square.
		var docs []string
		for _, d := range strings.Split(base.String(), "\n---\n") {
			if !strings.Contains(d, "namespace: traefik\n") && !strings.Contains(d, "name: traefik\n") {
				docs = append(docs, d)
			}
		}
		s := strings.Join(docs, "\n---\n")
		s = nsRef.ReplaceAllString(s, fmt.Sprintf("${1}-%d", i))
		s = nsDecl.ReplaceAllString(s, fmt.Sprintf("${1}${2}-%d", i))
		out.WriteString(s)
	}
	return []byte(out.String())
}

// BenchmarkInfer infers over about 200, 400 and 800 objects; the time per
// object should stay flat (linear growth).
func BenchmarkInfer(b *testing.B) {
	for _, copies := range []int{5, 10, 20} {
		inv, err := manifest.LoadBytes("bench.yaml", scaledFixtures(b, copies), manifest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("objects=%d", len(inv.Objects)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := Infer(inv, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := res.YAML(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(inv.Objects)), "ns/object")
		})
	}
}

// TestScaledFixturesInfer checks the benchmark's input means what it says:
// every copy yields the fixture's flows.
func TestScaledFixturesInfer(t *testing.T) {
	inv, err := manifest.LoadBytes("bench.yaml", scaledFixtures(t, 3), manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, p := inferValid(t, inv)
	got := tuples(p)
	if !slices.Contains(got, "internal bud-2-budcluster bud-data-2-bud-clickhouse tcp") {
		t.Errorf("copy 2's budcluster does not reach its ClickHouse: %v", got)
	}
	// Each copy has the fixture's 27 connections but the two ingress ones
	// of copies 1 and 2, which have no Traefik of their own (copy 0's routes
	// to their backends instead), and the budcluster of copies 1 and 2
	// reaches copy 0's Valkey through its Secret besides its own through the
	// state store (+2). The copies share namespace bud-monitoring, so one
	// Prometheus (the last copy wins) scrapes the three budapps.
	if want := 3*27 - 2*2 + 2; len(got) != want {
		t.Errorf("flows: got %d, want %d", len(got), want)
	}
}
