package platform

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/diag"
)

// egressModel is a small valid model whose one egress flow has the given
// cidrs and groups, with a source group "wide" holding groupCIDRs.
func egressModel(cidrs, groups, groupCIDRs string) string {
	return fmt.Sprintf(`apiVersion: budnet.io/v1alpha1
kind: Platform
metadata:
  name: mini
spec:
  sourceGroups:
    - {name: wide, cidrs: [%s]}
  zones:
    - name: app
  workloads:
    - name: web
      zone: app
      role: service
      podLabels: {app: web}
      ports: [{name: http, port: 8080}]
  flows:
    egress:
      - name: out
        from: {workload: web}
        cidrs: [%s]
        groups: [%s]
        ports: [{port: 443}]
`, groupCIDRs, cidrs, groups)
}

// TestEgressRangeUnion: a flow is judged by the union of its ranges (its
// own cidrs and its groups'), not literal by literal, so the whole address
// family written in pieces is refused like 0.0.0.0/0 (issue 11 §2). The
// threshold is half the family; attack rows try to get under it.
func TestEgressRangeUnion(t *testing.T) {
	tests := []struct {
		name, cidrs, groups, groupCIDRs string
		field                           string // "" means the model is valid
	}{
		{name: "everything", cidrs: "0.0.0.0/0", field: "spec.flows.egress[0].cidrs[0]"},
		{name: "ipv4 in halves", cidrs: "0.0.0.0/1, 128.0.0.0/1", field: "spec.flows.egress[0].cidrs"},
		{name: "ipv6 in halves", cidrs: "'::/1', '8000::/1'", field: "spec.flows.egress[0].cidrs"},
		{name: "ipv4 in quarters, out of order", cidrs: "192.0.0.0/2, 0.0.0.0/2, 128.0.0.0/2, 64.0.0.0/2", field: "spec.flows.egress[0].cidrs"},
		{name: "ipv4 in halves, written as mapped ipv6", cidrs: "'::ffff:0.0.0.0/97', '::ffff:128.0.0.0/97'", field: "spec.flows.egress[0].cidrs"},
		{name: "one half", cidrs: "128.0.0.0/1", field: "spec.flows.egress[0].cidrs"},
		{name: "nearly all ipv4", cidrs: "0.0.0.0/2, 64.0.0.0/3, 128.0.0.0/2, 192.0.0.0/4", field: "spec.flows.egress[0].cidrs"},
		{name: "half through a group and a literal", cidrs: "64.0.0.0/2", groups: "wide", groupCIDRs: "0.0.0.0/2", field: "spec.flows.egress[0]"},
		{name: "half through a group alone", cidrs: "", groups: "wide", groupCIDRs: "0.0.0.0/2, 128.0.0.0/2", field: "spec.flows.egress[0].groups"},
		{name: "duplicates do not add up", cidrs: "0.0.0.0/2, 0.0.0.0/2, 0.0.0.0/3, 64.0.0.0/3", groupCIDRs: "10.0.0.0/8"},
		{name: "nested ranges count once", cidrs: "0.0.0.0/2, 0.0.0.0/3, 32.0.0.0/3, 64.0.0.0/4", groupCIDRs: "10.0.0.0/8"},
		{name: "just under half", cidrs: "0.0.0.0/2, 64.0.0.0/3, 96.0.0.0/4, 112.0.0.0/5", groupCIDRs: "10.0.0.0/8"},
		{name: "families are judged apart", cidrs: "0.0.0.0/2, 64.0.0.0/3, '::/2', '4000::/3'", groupCIDRs: "10.0.0.0/8"},
		{name: "a provider's ranges", cidrs: "52.94.0.0/16, 3.5.140.0/22, 2600:1f00::/24", groupCIDRs: "10.0.0.0/8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			groupCIDRs := tc.groupCIDRs
			if groupCIDRs == "" {
				groupCIDRs = "10.0.0.0/8"
			}
			_, err := Parse("model.yaml", []byte(egressModel(tc.cidrs, tc.groups, groupCIDRs)))
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid model refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("model accepted, want a problem at %s", tc.field)
			}
			var fields []string
			for _, e := range Problems(err) {
				var ie *diag.InputError
				if !errors.As(e, &ie) {
					t.Fatalf("problem %v is a %T", e, e)
				}
				fields = append(fields, ie.Field)
				if ie.Field == tc.field && !strings.Contains(e.Error(), "not an allowlist") {
					t.Errorf("problem %q does not say why", e)
				}
			}
			if len(fields) != 1 || fields[0] != tc.field {
				t.Fatalf("problems at %v, want exactly one at %s:\n%v", fields, tc.field, err)
			}
		})
	}
}

// TestEdgePathProblem tries to get a path past validation that would be
// read differently by the three edges, or break out of a Traefik rule literal.
func TestEdgePathProblem(t *testing.T) {
	tests := []struct {
		name, in, want string // want: "" when valid, else part of the message
	}{
		{name: "keycloak realms", in: "/realms"},
		{name: "nested", in: "/api/v1"},
		{name: "well-known", in: "/.well-known"},
		{name: "root", in: "/", want: "root"},
		{name: "no leading slash", in: "realms", want: "path prefix"},
		{name: "trailing slash", in: "/realms/", want: "path prefix"},
		{name: "double slash", in: "/a//b", want: "path prefix"},
		{name: "dot segment", in: "/a/./b", want: "segment"},
		{name: "dot-dot segment", in: "/a/..", want: "segment"},
		{name: "backtick ends the Traefik literal", in: "/a`) || PathPrefix(`/", want: "path prefix"},
		{name: "space", in: "/a b", want: "path prefix"},
		{name: "encoded slash", in: "/a%2fb", want: "path prefix"},
		{name: "fragment", in: "/a#b", want: "path prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := edgePathProblem(tt.in)
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Errorf("edgePathProblem(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
