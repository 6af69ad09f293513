package infer

import (
	"context"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

func TestZonesGuide(t *testing.T) {
	inv, err := manifest.Load(context.Background(), []string{"testdata/bud"}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Infer(inv, Options{Zones: ZonesGuide})
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.Parse("guide.yaml", out)
	if err != nil {
		t.Fatalf("guide layout does not validate: %v", err)
	}
	want := map[string]string{"budapp": "bud-system", "budadmin": "bud-frontend", "bud-postgresql": "bud-data",
		"traefik": "bud-infra", "dapr-sentry": "bud-infra", "prometheus-server": "bud-monitoring"}
	for name, zone := range want {
		w, ok := p.Workload(name)
		if !ok || w.Zone != zone {
			t.Errorf("workload %s: zone %v, want %s", name, w, zone)
		}
	}
	if p.Spec.Mesh.Namespace != "bud-infra" {
		t.Errorf("mesh namespace %q, want bud-infra", p.Spec.Mesh.Namespace)
	}
	// The flows are the same whatever the layout.
	_, byNS := inferValid(t, inv)
	if a, b := tuples(p), tuples(byNS); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("flows differ between layouts:\n%q\n%q", a, b)
	}
}

// TestZonesGuideClash keeps a workload in its namespace when its labels
// would select another's pods in the guide zone.
func TestZonesGuideClash(t *testing.T) {
	a := strings.Replace(deploy("api", "", "", ""), "metadata: {name: api}", "metadata: {name: api, namespace: team-a}", 1)
	b := strings.Replace(deploy("api", "", "", ""), "metadata: {name: api}", "metadata: {name: api, namespace: team-b}", 1)
	res, err := Infer(loadDocs(t, a, b), Options{Zones: ZonesGuide})
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.Parse("guide.yaml", out)
	if err != nil {
		t.Fatalf("does not validate: %v", err)
	}
	zones := map[string]bool{}
	for _, w := range p.Spec.Workloads {
		zones[w.Zone] = true
	}
	if len(zones) != 2 || len(res.Unresolved) == 0 || !strings.Contains(res.Unresolved[0].Reason, "would select each other's pods") {
		t.Errorf("zones %v, unresolved %v", zones, res.Unresolved)
	}
}
