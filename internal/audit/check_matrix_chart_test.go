package audit

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// budChartContext loads testdata/budchart: the Bud chart as it renders, its
// own services in one namespace beside the Bitnami subcharts (ClickHouse
// with its keeper, MinIO with its console, Keycloak, PostgreSQL, Valkey)
// with their real labels, ports and NetworkPolicies.
func budChartContext(t testing.TB) *Context {
	t.Helper()
	inv, err := manifest.Load(context.Background(), []string{filepath.Join("testdata", "budchart")}, manifest.Options{})
	if err != nil {
		t.Fatalf("loading the chart render: %v", err)
	}
	p, err := platform.Default()
	if err != nil {
		t.Fatal(err)
	}
	return &Context{Inventory: inv, Platform: p, Source: "files"}
}

// TestBrokenOnTheBudChart is issue 13's section 4: on the real chart,
// BUD-4.2-02 reported 36 intended-but-blocked flows, all false: the keeper
// and the console were taken for ClickHouse and MinIO, and the model's TLS
// ports that the chart never serves were expected from every caller. Now no
// flow is reported broken, and each model workload whose ports the chart
// does not serve is one finding of model drift.
func TestBrokenOnTheBudChart(t *testing.T) {
	c := budChartContext(t)
	var broken, drift []Result
	for _, r := range failing(checkBroken().Run(c)) {
		if strings.HasPrefix(r.Subject, "model drift: ") {
			drift = append(drift, r)
		} else {
			broken = append(broken, r)
		}
	}
	for _, r := range broken {
		t.Errorf("false positive: %s: %s", r.Subject, r.Message)
	}
	var subjects []string
	for _, r := range drift {
		subjects = append(subjects, r.Subject)
	}
	want := []string{"model drift: bud-auth/keycloak", "model drift: bud-data/clickhouse"}
	if !slices.Equal(subjects, want) {
		t.Fatalf("drift findings %q, want %q", subjects, want)
	}
	for i, ports := range []string{"TCP/8443 ", "TCP/8443,TCP/9440 "} {
		if !strings.Contains(drift[i].Message, ports) || !strings.Contains(drift[i].Message, "9 blocked connections") {
			t.Errorf("%s: message %q does not name %s and the 9 connections", drift[i].Subject, drift[i].Message, ports)
		}
	}
	// The keeper and the console implement no model workload, for any check.
	for w, mw := range modelOf(c.Inventory, c.Platform) {
		if strings.Contains(w.Name, "keeper") || strings.Contains(w.Name, "console") {
			t.Errorf("%s is matched to model workload %s", w.Ref(), mw.Name)
		}
	}
}
