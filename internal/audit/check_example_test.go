package audit

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/example"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

func exampleContext(t testing.TB) *Context {
	t.Helper()
	name, data := example.Unhardened()
	inv, err := manifest.LoadBytes(name, data, manifest.Options{})
	if err != nil {
		t.Fatalf("loading the example: %v", err)
	}
	p, err := platform.Default()
	if err != nil {
		t.Fatalf("platform: %v", err)
	}
	return &Context{Inventory: inv, Platform: p, Source: "example", Now: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
}

// TestExampleKnownGaps pins what `budnet audit --example` finds in the
// unhardened Bud deployment: no default deny, no egress allowlist, database
// TLS off, no Dapr access control, no security headers, no WAF, no alerts,
// and the rest of what the chart's defaults leave open.
func TestExampleKnownGaps(t *testing.T) {
	c := exampleContext(t)
	var failingIDs, passingIDs []string
	for _, ch := range Checks() {
		rs := ch.Run(c)
		if len(failing(rs)) > 0 {
			failingIDs = append(failingIDs, ch.ID)
		} else if len(rs) > 0 {
			passingIDs = append(passingIDs, ch.ID)
		}
	}
	want := []string{
		"BUD-3.1-01",  // no zone namespaces: everything in bud
		"BUD-3.1-02",  // workloads outside their zones
		"BUD-3.1-03",  // data stores share bud with the services
		"BUD-3.1-05",  // node exporter on the host network and PID namespace with a host port
		"BUD-3.2-01",  // no default deny
		"BUD-4.1-02",  // admin host open to the internet
		"BUD-4.1-04",  // MinIO S3 API and Keycloak's /admin on the public edge
		"BUD-4.1-05",  // example hosts (*.bud.example.com) on its routes
		"BUD-4.2-01",  // over-permissive matrix
		"BUD-4.2-02",  // TLS ports of ClickHouse and Keycloak blocked by the Bitnami policies
		"BUD-4.3-01",  // every workload reaches 0.0.0.0/0
		"BUD-5-02",    // Dapr access control missing
		"BUD-5-03",    // Redis components without enableTLS
		"BUD-6-01",    // Bitnami Keycloak in start-dev over HTTP
		"BUD-6-02",    // VALIDATE_CERTS, KEYCLOAK_VERIFY_SSL, NODE_TLS_REJECT_UNAUTHORIZED off
		"BUD-6.1-01",  // no cert-manager issuer
		"BUD-6.1-02",  // edge certificates not managed
		"BUD-6.3-01",  // PostgreSQL without sslmode / sslmode disable
		"BUD-6.3-02",  // ClickHouse secure=false
		"BUD-6.3-03",  // redis://
		"BUD-6.3-04",  // MinIO over http
		"BUD-6.3-06",  // MongoDB URI without tls=true
		"BUD-6.3-07",  // POSTGRESQL_ENABLE_TLS=no
		"BUD-7-01",    // Keycloak IngressRoute without redirect
		"BUD-7-02",    // no security headers
		"BUD-7-03",    // no rate limit
		"BUD-7-04",    // no body limit
		"BUD-7-05",    // no WAF
		"BUD-8.2-01",  // no egress allowlist
		"BUD-9.2-03",  // Dapr Redis stores with inline passwords
		"BUD-10.1-01", // no alerts
	}
	sort.Strings(failingIDs)
	sort.Strings(want)
	if !slices.Equal(failingIDs, want) {
		t.Errorf("failing checks on the example:\n got  %v\n want %v", failingIDs, want)
	}
	for _, id := range []string{"BUD-3.1-04", "BUD-5-01", "BUD-6.2-01"} {
		if !slices.Contains(passingIDs, id) {
			t.Errorf("%s should pass on the example (passing: %v)", id, passingIDs)
		}
	}
}

// TestExampleEvidence checks that findings on the example cite file and line
// and never print a password.
func TestExampleEvidence(t *testing.T) {
	c := exampleContext(t)
	for _, ch := range Checks() {
		for _, r := range ch.Run(c) {
			for _, e := range r.Evidence {
				if e.Object != "" && e.File != "" && e.Line == 0 {
					t.Errorf("%s %s: evidence without a line: %+v", ch.ID, r.Subject, e)
				}
				for _, secret := range []string{"budapp:budapp@", ":bud@", "bud-minio-secret", "bud:bud@"} {
					if strings.Contains(e.Detail, secret) || strings.Contains(r.Message, secret) {
						t.Errorf("%s %s: a password is printed: %q", ch.ID, r.Subject, e.Detail)
					}
				}
			}
		}
	}
}

// BenchmarkChecksExample runs every check, the reach analysis included,
// over the embedded example (80 objects, 30 workloads) and over copies of it
// in more namespaces, the size of a rendered chart of a few hundred objects.
func BenchmarkChecksExample(b *testing.B) {
	name, data := example.Unhardened()
	p, err := platform.Default()
	if err != nil {
		b.Fatal(err)
	}
	checks := Checks()
	for _, copies := range []int{1, 4} {
		var all []byte
		for i := range copies {
			doc := string(data)
			if i > 0 {
				sfx := "-" + strconv.Itoa(i)
				doc = strings.ReplaceAll(doc, "namespace: bud\n", "namespace: bud"+sfx+"\n")
				doc = strings.ReplaceAll(doc, "  name: bud\n", "  name: bud"+sfx+"\n")
				doc = strings.ReplaceAll(doc, "dapr-system", "dapr-system"+sfx)
			}
			all = append(all, doc+"\n---\n"...)
		}
		inv, err := manifest.LoadBytes(name, all, manifest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("objects=%d", len(inv.Objects)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := &Context{Inventory: inv, Platform: p}
				for _, ch := range checks {
					ch.Run(c)
				}
			}
		})
	}
}
