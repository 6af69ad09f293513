package infer

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

const baseModel = `apiVersion: budnet.io/v1alpha1
kind: Platform
metadata: {name: bud}
spec:
  zones: [{name: bud}, {name: bud-data}]
  workloads:
    - {name: app, zone: bud, role: service, podLabels: {app: bud-budapp}, ports: [{name: web, port: 9082}], dapr: {appId: budapp}}
    - {name: pg, zone: bud-data, role: datastore, podLabels: {app.kubernetes.io/name: postgresql}, ports: [{name: pg, port: 5432}]}
  flows:
    internal:
      - {name: app-to-pg, from: {workload: app}, to: {workload: pg}, ports: [{name: pg}]}
    egress:
      - {name: gateway-llm, from: {workload: app}, hosts: ["*.openai.com"], ports: [{port: 443}]}
`

// TestMerge starts from a model that knows budapp and PostgreSQL under
// other names and port names: only what it lacks is added, and merging the
// result again changes nothing.
func TestMerge(t *testing.T) {
	inv, err := manifest.Load(context.Background(), []string{"testdata/bud"}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base, err := platform.Parse("base.yaml", []byte(baseModel))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Infer(inv, Options{Base: base})
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	merged, err := platform.Parse("merged.yaml", out)
	if err != nil {
		t.Fatalf("merged model does not validate: %v", err)
	}
	for _, c := range res.Changes {
		for _, bad := range []string{"workload budapp ", "workload bud-postgresql ", "app -> pg "} {
			if strings.Contains(c, bad) {
				t.Errorf("base already has it, but: %s", c)
			}
		}
	}
	for _, want := range []string{"added workload budcluster", "added flow app-to-bud-minio: app -> bud-minio TCP/9000", "added flow budcluster-to-pg: budcluster -> pg TCP/5432"} {
		if !slices.ContainsFunc(res.Changes, func(c string) bool { return strings.HasPrefix(c, want) }) {
			t.Errorf("no change %q in %q", want, res.Changes)
		}
	}
	// budgateway's api.openai.com is not covered (the base allows it from app only).
	if !slices.ContainsFunc(res.Changes, func(c string) bool { return strings.Contains(c, "budgateway -> [api.anthropic.com api.openai.com]") }) {
		t.Errorf("budgateway egress not added: %q", res.Changes)
	}
	again, err := Infer(inv, Options{Base: merged})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) != 1 || !strings.HasPrefix(again.Changes[0], "no change") {
		t.Errorf("merging again changed: %q", again.Changes)
	}
}
