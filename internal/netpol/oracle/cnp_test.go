package oracle_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	npacnp "sigs.k8s.io/kube-network-policies/plugins/npa-v1alpha2"
	npav1alpha2 "sigs.k8s.io/network-policy-api/apis/v1alpha2"
	npainformers "sigs.k8s.io/network-policy-api/pkg/client/informers/externalversions"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
	"github.com/budnet/budnet/internal/testenv"
)

// cnpCells is how many pod-pair cells the ClusterNetworkPolicy differential
// judges.
func cnpCells() int {
	if testenv.CI() {
		return 100_000
	}
	return 20_000
}

// TestOracleClusterNetworkPolicies compares `budnet reach -f` with
// kube-network-policies v1.1.1 on random clusters (netpoltest.RandomCluster)
// under random policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicies of
// both tiers (netpoltest.RandomClusterNetworkPolicies) next to
// NetworkPolicies: every pod-pair cell on the probe ports. The oracle is
// kube-network-policies' plugins/npa-v1alpha2 evaluator, chained as its
// npa-v1alpha2 command chains it (cmd/kube-network-policies/npa-v1alpha2/main.go:
// ClusterNetworkPolicy of tier Admin, the standard NetworkPolicy
// evaluator, ClusterNetworkPolicy of tier Baseline; the first verdict
// other than "next" decides, none means accept), with the NetworkPolicy
// step as in TestOracleAdminTiers (the same v1.1.1 deviation is not
// followed there). Within a tier both sort policies by priority, then by
// name, and take the first matching rule; Pass, and no match, hand on.
//
// Host-network pods are the engine's nodes; kube-network-policies gets a
// Node per host-network pod, its InternalIP the pod's address, so that the
// generator's node peers (an empty selector: every node) select them in
// both (its nodes peers match a Node's InternalIP or ExternalIP against the
// destination address).
func TestOracleClusterNetworkPolicies(t *testing.T) {
	r := rand.New(rand.NewPCG(20261207, 19))
	dir := t.TempDir()
	var unjudged string
	cells, decided, allowed, compared, skipped, failures := 0, 0, 0, 0, 0, 0
	for i := 0; compared < cnpCells() && cells < 3*cnpCells() && failures == 0; i++ {
		c := netpoltest.RandomCluster(r, netpoltest.RandomOptions{HostNetwork: true})
		cnps := netpoltest.RandomClusterNetworkPolicies(r)
		opts := netpol.Options{IPBlockMatchesPods: r.IntN(2) == 0}
		o := newCNPOracle(t, c, cnps, opts)
		file := filepath.Join(dir, fmt.Sprintf("case-%d.yaml", i))
		writeCNPCase(t, file, c, cnps)
		var res e2eMatrix
		var meta struct {
			Metadata struct {
				Unjudged []struct{ Kind, Object string }
			}
		}
		out := reachJSON(t, file, opts)
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &meta); err != nil {
			t.Fatal(err)
		}
		judged := true
		for _, u := range meta.Metadata.Unjudged {
			if u.Kind == netpol.KindClusterNetworkPolicy {
				unjudged, judged = u.Kind+" "+u.Object, false
			}
		}
		for si := range c.Pods {
			for di := range c.Pods {
				if si == di {
					continue
				}
				for _, proto := range netpoltest.Protocols() {
					for _, port := range netpoltest.Ports() {
						cc := connCase{src: netpol.PodPeer(si), dst: netpol.PodPeer(di), proto: proto, port: port}
						want, byTier := o.allowed(cc)
						cells++
						if want {
							allowed++
						}
						if byTier {
							decided++
						}
						if !judged {
							skipped++
							continue
						}
						compared++
						src, dst := c.Pods[si].Namespace+"/"+c.Pods[si].Name+"[Pod]", c.Pods[di].Namespace+"/"+c.Pods[di].Name+"[Pod]"
						if got := res.allows(src, dst, proto, port); got != want && failures == 0 {
							failures++
							t.Errorf("%s => %s %s/%d: reach says allowed=%v, kube-network-policies %v (--ipblock-matches-pods=%v)\nmanifest %s:\n%s",
								src, dst, proto, port, got, want, opts.IPBlockMatchesPods, file, readFile(t, file))
						}
					}
				}
			}
		}
	}
	t.Logf("%d pod-pair cells judged by kube-network-policies, %d allowed, %d decided by a ClusterNetworkPolicy; %d compared with reach, %d not (a case with a part reach lists as unjudged, e.g. %s)",
		cells, allowed, decided, compared, skipped, unjudged)
	if allowed < cells/10 || allowed > cells*9/10 || decided < cells/10 {
		t.Errorf("generator is lopsided: %d of %d allowed, %d decided by a ClusterNetworkPolicy", allowed, cells, decided)
	}
	if failures == 0 && compared < cnpCells() {
		t.Errorf("only %d of %d cells compared (reach lists e.g. %s under metadata.unjudged)", compared, cells, unjudged)
	}
}

// newCNPOracle chains npa-v1alpha2's evaluators of both tiers around the
// NetworkPolicy step. The policies reach the evaluators as the API would
// decode them: budnet's generated objects through JSON into the upstream
// types, unknown fields rejected.
func newCNPOracle(t *testing.T, c netpol.Cluster, cnps []*netpol.ClusterNetworkPolicy, opts netpol.Options) *adminOracle {
	t.Helper()
	// Listers over informers that are never started: what is added to
	// their indexers is what they list.
	f := npainformers.NewSharedInformerFactory(nil, 0)
	cnpInf := f.Policy().V1alpha2().ClusterNetworkPolicies()
	for _, p := range cnps {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		up := &npav1alpha2.ClusterNetworkPolicy{}
		if err := yaml.UnmarshalStrict(b, up); err != nil {
			t.Fatalf("%s does not decode as v1alpha2: %v\n%s", p.Name, err, b)
		}
		if err := cnpInf.Informer().GetIndexer().Add(up); err != nil {
			t.Fatal(err)
		}
	}
	nodeInf := informers.NewSharedInformerFactory(nil, 0).Core().V1().Nodes()
	for _, p := range c.Pods {
		if !p.HostNetwork {
			continue
		}
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-" + p.Name}}
		for _, a := range p.IPs {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a.String()})
		}
		if err := nodeInf.Informer().GetIndexer().Add(n); err != nil {
			t.Fatal(err)
		}
	}
	nodes := nodeInf.Lister()
	return &adminOracle{
		np:   newKNPOracle(t, c, opts),
		anp:  npacnp.NewClusterNetworkPolicy(npav1alpha2.AdminTier, cnpInf, noDomains{}, nodes),
		banp: npacnp.NewClusterNetworkPolicy(npav1alpha2.BaselineTier, cnpInf, noDomains{}, nodes),
	}
}

func writeCNPCase(t *testing.T, file string, c netpol.Cluster, cnps []*netpol.ClusterNetworkPolicy) {
	var buf bytes.Buffer
	if err := netpoltest.WriteManifests(&buf, c); err != nil {
		t.Fatal(err)
	}
	for _, p := range cnps {
		b, err := yaml.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
