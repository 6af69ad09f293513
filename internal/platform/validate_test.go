package platform

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/diag"
)

// TestInvalidFixtures loads each broken fixture and checks that every
// expected problem is reported with the fixture's file, the line and the
// field path, and that nothing but *diag.InputError comes back.
func TestInvalidFixtures(t *testing.T) {
	tests := []struct {
		name string
		// want lists "LINE: FIELD" for each expected problem ("LINE:" when the
		// problem names no field).
		want []string
	}{
		{name: "unknown-field", want: []string{"8: spec.zones[0].nmae"}},
		{name: "wrong-kind", want: []string{"2: kind"}},
		{name: "wrong-api-version", want: []string{"1: apiVersion"}},
		{name: "type-mismatch", want: []string{"20: spec.workloads[1].ports[0].port"}},
		{name: "duplicate-zone", want: []string{"9: spec.zones[2].name"}},
		{name: "invalid-zone-name", want: []string{"8: spec.zones[1].name"}},
		{name: "unknown-zone", want: []string{"17: spec.workloads[1].zone"}},
		{name: "invalid-role", want: []string{"18: spec.workloads[1].role"}},
		{name: "missing-pod-labels", want: []string{"16: spec.workloads[1].podLabels"}},
		{name: "invalid-label", want: []string{"19: spec.workloads[1].podLabels[app]", "19: spec.workloads[1].podLabels"}},
		{name: "port-out-of-range", want: []string{"20: spec.workloads[1].ports[0].port"}},
		{name: "invalid-protocol", want: []string{"20: spec.workloads[1].ports[0].protocol"}},
		{name: "invalid-port-name", want: []string{"14: spec.workloads[0].ports[0].name"}},
		{name: "duplicate-port-name", want: []string{"20: spec.workloads[1].ports[1].name"}},
		{name: "duplicate-workload", want: []string{"16: spec.workloads[1].name"}},
		{name: "empty-selector", want: []string{"24: spec.flows.internal[0].from"}},
		{name: "selector-selects-nothing", want: []string{"24: spec.flows.internal[0].from"}},
		{name: "selector-unknown-workload", want: []string{"24: spec.flows.internal[0].from.workload"}},
		{name: "named-port-missing", want: []string{"26: spec.flows.internal[0].ports[0].name"}},
		{name: "end-port-below-port", want: []string{"26: spec.flows.internal[0].ports[0].endPort"}},
		{name: "port-name-and-number", want: []string{"26: spec.flows.internal[0].ports[0]"}},
		{name: "flow-without-ports", want: []string{"26: spec.flows.internal[0].ports"}},
		{name: "duplicate-flow-name", want: []string{"28: spec.flows.egress[0].name"}},
		{name: "invoke-without-dapr", want: []string{"27: spec.flows.internal[0].invoke"}},
		{name: "invoke-bad-verb", want: []string{"31: spec.flows.internal[1].invoke[0].name", "31: spec.flows.internal[1].invoke[0].verbs[0]"}},
		{name: "duplicate-dapr-app-id", want: []string{"20: spec.workloads[1].dapr.appId"}},
		{name: "egress-host-star", want: []string{"30: spec.flows.egress[0].hosts[0]"}},
		{name: "egress-host-public-suffix", want: []string{"30: spec.flows.egress[0].hosts[0]"}},
		{name: "egress-host-ip", want: []string{"30: spec.flows.egress[0].hosts[0]"}},
		{name: "egress-host-with-port", want: []string{"30: spec.flows.egress[0].hosts[0]"}},
		{name: "egress-everywhere", want: []string{"30: spec.flows.egress[0].cidrs[0]"}},
		{name: "egress-named-port", want: []string{"31: spec.flows.egress[0].ports[0].name"}},
		{name: "egress-no-destination", want: []string{"28: spec.flows.egress[0]"}},
		{name: "cidr-host-bits", want: []string{"29: spec.flows.ingress[0].cidrs[0]"}},
		{name: "cidr-invalid", want: []string{"29: spec.flows.ingress[0].cidrs[0]"}},
		{name: "unknown-group", want: []string{"29: spec.flows.ingress[0].groups[0]"}},
		{name: "duplicate-group", want: []string{"8: spec.sourceGroups[1].name"}},
		{name: "edge-unknown-workload", want: []string{"8: spec.edge.hosts[0].workload"}},
		{name: "edge-unknown-port", want: []string{"8: spec.edge.hosts[0].port"}},
		{name: "edge-bad-kind", want: []string{"7: spec.edge.kind"}},
		{name: "egress-gateway-without-workload", want: []string{"7: spec.egressGateway.workload", "8: spec.egressGateway.mode"}},
		{name: "egress-gateway-unknown-source", want: []string{"8: spec.egressGateway.sources[0].workload"}},
		{name: "suppression-invalid", want: []string{"7: spec.ignore[0].check", "8: spec.ignore[0].reason"}},
		{name: "tls-min-version", want: []string{"7: spec.tls.minVersion"}},
		{name: "pod-security-level", want: []string{"8: spec.zones[0].podSecurity"}},
		{name: "mesh-bad-duration", want: []string{"8: spec.mesh.mtls.workloadCertTTL"}},
		{name: "two-documents", want: []string{"29:"}},
		{name: "overlapping-pod-labels", want: []string{"13: spec.workloads[0].podLabels"}},
		{name: "edge-admin-without-group", want: []string{"8: spec.edge.hosts[0].admin"}},
		{name: "no-zones", want: []string{"6: spec.zones"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join("testdata", "invalid", tt.name+".yaml")
			p, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) succeeded with %d workloads, want problems %v", path, len(p.Spec.Workloads), tt.want)
			}
			got := map[string]bool{}
			var lines []string
			for _, e := range Problems(err) {
				var ie *diag.InputError
				if !errors.As(e, &ie) {
					t.Fatalf("problem %v is a %T, want *diag.InputError", e, e)
				}
				if ie.File != path {
					t.Errorf("problem %v names file %q, want %q", e, ie.File, path)
				}
				key := fmt.Sprintf("%d: %s", ie.Line, ie.Field)
				got[strings.TrimSpace(key)] = true
				lines = append(lines, e.Error())
			}
			for _, w := range tt.want {
				if !got[strings.TrimSpace(w)] {
					t.Errorf("missing problem at %s; got:\n%s", w, strings.Join(lines, "\n"))
				}
			}
		})
	}
}
