package oracle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/kube-network-policies/pkg/api"
	"sigs.k8s.io/kube-network-policies/pkg/network"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
	npav1alpha1 "sigs.k8s.io/kube-network-policies/plugins/npa-v1alpha1"
	npainformers "sigs.k8s.io/network-policy-api/pkg/client/informers/externalversions"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/cli"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
	"github.com/budnet/budnet/internal/testenv"
)

// adminCases is how many random clusters with admin tiers the differential
// judges (every pod pair on the probe ports and addresses of each).
func adminCases() int {
	if testenv.CI() {
		return 300
	}
	return 60
}

// TestOracleAdminTiers compares `budnet reach -f` with kube-network-policies
// v1.1.1 on random clusters (netpoltest.RandomCluster) under random
// AdminNetworkPolicies and a BaselineAdminNetworkPolicy
// (netpoltest.RandomAdminPolicies) as well as NetworkPolicies: every matrix
// cell on the probe ports, pod by pod. The oracle is kube-network-policies'
// own evaluators in the order its npa-v1alpha1 command chains them
// (cmd/kube-network-policies/npa-v1alpha1/main.go: AdminNetworkPolicy, the
// standard NetworkPolicy evaluator, BaselineAdminNetworkPolicy; the first
// verdict other than "next" decides, none means accept).
//
// Known deviation of v1.1.1, not followed: its standard NetworkPolicy
// evaluator answers "accept" for a direction no NetworkPolicy isolates the
// pod in, when some policy of the other direction selects it
// (pkg/networkpolicy StandardNetworkPolicy.EvaluateEgress calls
// EvaluatePolicyDirection, which allows when no policy has that type), so
// the baseline tier is never consulted for it; the API says the baseline
// decides whatever no NetworkPolicy decides. The NetworkPolicy step below
// answers "next" unless a policy of that direction selects the pod.
//
// The generator draws only what the engine judges: a case in which reach
// lists a part under metadata.unjudged is not compared, and fails the test.
func TestOracleAdminTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(20261207, 16))
	dir := t.TempDir()
	var unjudged string
	cells, decided, allowed, compared, failures := 0, 0, 0, 0, 0
	for i := 0; i < adminCases() && failures == 0; i++ {
		c := netpoltest.RandomCluster(r, netpoltest.RandomOptions{})
		admin := netpoltest.RandomAdminPolicies(r)
		opts := netpol.Options{IPBlockMatchesPods: r.IntN(2) == 0}
		o := newAdminOracle(t, c, admin, opts)
		file := filepath.Join(dir, fmt.Sprintf("case-%d.yaml", i))
		writeAdminCase(t, file, c, admin)
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
			if u.Kind == "AdminNetworkPolicy" || u.Kind == "BaselineAdminNetworkPolicy" {
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
						want, byAdmin := o.allowed(cc)
						cells++
						if want {
							allowed++
						}
						if byAdmin {
							decided++
						}
						if !judged {
							continue
						}
						compared++
						// WriteManifests writes bare Pods: reach names each ns/name[Pod].
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
	t.Logf("%d pod-pair cells judged by kube-network-policies, %d allowed, %d decided by an admin or baseline tier; %d compared with reach",
		cells, allowed, decided, compared)
	if allowed < cells/10 || allowed > cells*9/10 || decided < cells/10 {
		t.Errorf("generator is lopsided: %d of %d allowed, %d decided by the admin tiers", allowed, cells, decided)
	}
	if unjudged != "" {
		t.Errorf("reach lists %s under metadata.unjudged: %d of %d cells compared", unjudged, compared, cells)
	}
}

func readFile(t *testing.T, file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// reachJSON runs `budnet reach -f file -o json` with opts' ipBlock reading.
func reachJSON(t *testing.T, file string, opts netpol.Options) []byte {
	t.Helper()
	args := []string{"reach", "-f", file, "-o", "json"}
	if opts.IPBlockMatchesPods {
		args = append(args, "--ipblock-matches-pods")
	}
	var stdout, stderr bytes.Buffer
	if code := cli.Execute(context.Background(), args, cli.Streams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}); code != 0 {
		t.Fatalf("budnet %s: exit %d: %s\n%s", strings.Join(args, " "), code, stderr.String(), readFile(t, file))
	}
	return stdout.Bytes()
}

func writeAdminCase(t *testing.T, file string, c netpol.Cluster, admin netpoltest.AdminPolicies) {
	var buf bytes.Buffer
	if err := netpoltest.WriteManifests(&buf, c); err != nil {
		t.Fatal(err)
	}
	for _, o := range admin.Objects() {
		b, err := yaml.Marshal(o)
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

// adminOracle chains kube-network-policies' evaluators: the Admin tier's,
// the NetworkPolicy step, the Baseline tier's (npa-v1alpha1's
// AdminNetworkPolicy and BaselineAdminNetworkPolicy, or npa-v1alpha2's
// ClusterNetworkPolicy of each tier).
type adminOracle struct {
	np   *knpOracle
	anp  api.PolicyEvaluator
	banp api.PolicyEvaluator
}

func newAdminOracle(t *testing.T, c netpol.Cluster, admin netpoltest.AdminPolicies, opts netpol.Options) *adminOracle {
	t.Helper()
	// The evaluators read listers; an informer that is never started is
	// a lister over what is added to its indexer.
	f := npainformers.NewSharedInformerFactory(nil, 0)
	anpInf, banpInf := f.Policy().V1alpha1().AdminNetworkPolicies(), f.Policy().V1alpha1().BaselineAdminNetworkPolicies()
	for _, p := range admin.Admin {
		if err := anpInf.Informer().GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if admin.Baseline != nil {
		if err := banpInf.Informer().GetIndexer().Add(admin.Baseline); err != nil {
			t.Fatal(err)
		}
	}
	return &adminOracle{
		np:   newKNPOracle(t, c, opts),
		anp:  npav1alpha1.NewAdminNetworkPolicy(anpInf, noDomains{}),
		banp: npav1alpha1.NewBaselineAdminNetworkPolicy(banpInf),
	}
}

// noDomains resolves no domain name (the generator writes none).
type noDomains struct{}

func (noDomains) ContainsIP(string, net.IP) bool { return false }

var _ api.DomainResolver = noDomains{}

// allowed is the pipeline's verdict, and whether an admin or baseline
// policy decided a direction.
func (o *adminOracle) allowed(cc connCase) (allowed, byAdmin bool) {
	ctx := context.Background()
	srcInfo, _ := o.np.end(cc.src)
	dstInfo, npDstIP := o.np.end(cc.dst)
	// Admin networks match every address, pods' included (the API's
	// AdminNetworkPolicyEgressPeer.Networks).
	dstIP := net.IP(cc.dst.Addr().AsSlice())
	if i, ok := cc.dst.IsPod(); ok {
		dstIP = net.IP(podIP(&o.np.c.Pods[i]).AsSlice())
	}
	p := &network.Packet{DstIP: dstIP, Proto: cc.proto, SrcPort: 40000, DstPort: int(cc.port)}
	egress, ingress := true, true
	if srcInfo != nil {
		var v api.Verdict
		v, byAdmin = o.chain(ctx, p, srcInfo, dstInfo, networkingv1.PolicyTypeEgress, func() bool {
			return networkpolicy.EvaluatePolicyDirection(ctx, o.np.selecting(srcInfo), networkingv1.PolicyTypeEgress, srcInfo, 40000, dstInfo, npDstIP, int(cc.port), cc.proto)
		})
		egress = v != api.VerdictDeny
	}
	if dstInfo != nil {
		_, srcIP := o.np.end(cc.src)
		v, admin := o.chain(ctx, p, srcInfo, dstInfo, networkingv1.PolicyTypeIngress, func() bool {
			return networkpolicy.EvaluatePolicyDirection(ctx, o.np.selecting(dstInfo), networkingv1.PolicyTypeIngress, dstInfo, int(cc.port), srcInfo, srcIP, 40000, cc.proto)
		})
		ingress, byAdmin = v != api.VerdictDeny, byAdmin || admin
	}
	return egress && ingress, byAdmin
}

// chain is PolicyEngine.runEgressPipeline/runIngressPipeline over
// AdminNetworkPolicy, NetworkPolicy (np, consulted only when a policy of
// the direction selects the subject) and BaselineAdminNetworkPolicy.
func (o *adminOracle) chain(ctx context.Context, p *network.Packet, src, dst *api.PodInfo, dir networkingv1.PolicyType, np func() bool) (api.Verdict, bool) {
	eval := func(e api.PolicyEvaluator) api.Verdict {
		var v api.Verdict
		var err error
		if dir == networkingv1.PolicyTypeEgress {
			v, err = e.EvaluateEgress(ctx, p, src, dst)
		} else {
			v, err = e.EvaluateIngress(ctx, p, src, dst)
		}
		if err != nil {
			return api.VerdictDeny // as the pipeline does
		}
		return v
	}
	if v := eval(o.anp); v != api.VerdictNext {
		return v, true
	}
	subject := src
	if dir == networkingv1.PolicyTypeIngress {
		subject = dst
	}
	isolated := false
	for _, pol := range o.np.selecting(subject) {
		for _, pt := range pol.Spec.PolicyTypes { // API-defaulted by newKNPOracle
			isolated = isolated || pt == dir
		}
	}
	if isolated {
		if np() {
			return api.VerdictAccept, false
		}
		return api.VerdictDeny, false
	}
	if v := eval(o.banp); v != api.VerdictNext {
		return v, true
	}
	return api.VerdictAccept, false
}
