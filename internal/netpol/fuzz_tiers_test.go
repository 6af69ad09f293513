package netpol_test

import (
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/netpol"
)

// fuzzSeedsTiers are documents of every tiered and Cilium kind, the seeds
// of FuzzTierPolicy (more are in testdata/fuzz/FuzzTierPolicy).
var fuzzSeedsTiers = []string{
	`{"kind":"AdminNetworkPolicy","metadata":{"name":"a"},"spec":{"priority":5,"subject":{"namespaces":{}},"ingress":[{"action":"Pass","from":[{"namespaces":{"matchLabels":{"team":"green"}}}]},{"action":"Deny","from":[{"pods":{"namespaceSelector":{},"podSelector":{"matchLabels":{"app":"web"}}}}],"ports":[{"portRange":{"start":80,"end":90}},{"namedPort":"http"}]}],"egress":[{"action":"Allow","to":[{"networks":["10.0.0.0/16"]},{"nodes":{}}]}]}}`,
	`{"kind":"BaselineAdminNetworkPolicy","metadata":{"name":"default"},"spec":{"subject":{"pods":{"namespaceSelector":{},"podSelector":{}}},"egress":[{"action":"Deny","to":[{"namespaces":{}}],"ports":[{"portNumber":{"protocol":"UDP","port":53}}]}]}}`,
	`{"kind":"ClusterNetworkPolicy","metadata":{"name":"c"},"spec":{"tier":"Admin","priority":1,"subject":{"namespaces":{"matchExpressions":[{"key":"team","operator":"Exists"}]}},"egress":[{"action":"Accept","to":[{"domainNames":["*.example.com"]}]},{"action":"Deny","to":[{"networks":["0.0.0.0/0","::/0"]}],"protocols":[{"tcp":{"destinationPort":{"range":{"start":1,"end":1024}}}},{"destinationNamedPort":"dns"}]}]}}`,
	`{"kind":"CiliumNetworkPolicy","metadata":{"name":"x","namespace":"a"},"spec":{"endpointSelector":{"matchLabels":{"k8s:app":"web"}},"ingress":[{"fromEndpoints":[{"matchLabels":{"k8s:io.kubernetes.pod.namespace":"b"}}],"toPorts":[{"ports":[{"port":"80","endPort":90,"protocol":"ANY"}],"rules":{"http":[{"method":"GET"}]}}]}],"egressDeny":[{"toEntities":["world"]}],"egress":[{"toCIDRSet":[{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]}]},{"toFQDNs":[{"matchName":"a.example.com"}]}]}}`,
	`{"kind":"CiliumClusterwideNetworkPolicy","metadata":{"name":"y"},"specs":[{"endpointSelector":{},"enableDefaultDeny":{"ingress":false},"ingressDeny":[{"fromEntities":["cluster"],"toPorts":[{"ports":[{"port":"dns","protocol":"UDP"}]}]}]},{"nodeSelector":{}}]}`,
}

// FuzzTierPolicy decodes arbitrary bytes as a policy of the kind its
// "kind" field names (the network-policy-api kinds and Cilium's), adds it to
// the fixture cluster and checks that New either rejects it or yields an
// engine whose matrix agrees with Evaluate, without panicking.
func FuzzTierPolicy(f *testing.F) {
	for _, s := range fuzzSeedsTiers {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var head struct{ Kind string }
		if json.Unmarshal(data, &head) != nil {
			return
		}
		c := fixtureCluster()
		var err error
		switch head.Kind {
		case "AdminNetworkPolicy":
			p := &netpol.AdminNetworkPolicy{}
			err = yaml.UnmarshalStrict(data, p)
			c.AdminNetworkPolicies = append(c.AdminNetworkPolicies, p)
		case "BaselineAdminNetworkPolicy":
			p := &netpol.BaselineAdminNetworkPolicy{}
			err = yaml.UnmarshalStrict(data, p)
			c.BaselineAdminNetworkPolicies = append(c.BaselineAdminNetworkPolicies, p)
		case "ClusterNetworkPolicy":
			p := &netpol.ClusterNetworkPolicy{}
			err = yaml.UnmarshalStrict(data, p)
			c.ClusterNetworkPolicies = append(c.ClusterNetworkPolicies, p)
		default:
			p := &netpol.CiliumNetworkPolicy{}
			err = yaml.UnmarshalStrict(data, p)
			c.CiliumNetworkPolicies = append(c.CiliumNetworkPolicies, p)
		}
		if err != nil {
			return
		}
		h := fnv.New64a()
		h.Write(data)
		seed := h.Sum64()
		e, err := netpol.New(c, netpol.Options{IPBlockMatchesPods: seed%2 == 1})
		if err != nil {
			return
		}
		checkMatrix(t, c, e, e.Matrix(), 60, rand.New(rand.NewPCG(seed, 0)))
	})
}
