package oracle_test

import (
	"context"
	"math/rand/v2"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kube-network-policies/pkg/api"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
)

// TestOracleKubeNetworkPolicies compares Evaluate with the evaluator of
// sigs.k8s.io/kube-network-policies v1.1.1 (pkg/networkpolicy
// EvaluatePolicyDirection), the SIG Network reference dataplane, in both ipBlock
// modes. It is given what its controller would give it: the policies selecting
// the pod (its getNetworkPoliciesForPod), API-defaulted policies, PodInfo for
// pod-network pods and nil for host-network pods and addresses (its
// getLocalPodsForNetworkPolicy skips hostNetwork pods). In the default mode the
// peer address handed over for pod-network pods is nil, so that ipBlocks cannot
// match pod IPs.
//
// Known deviation, not exercised: v1.1.1 reads a non-nil empty spec.ingress or
// spec.egress as allow-all (evaluateIngress returns true for len 0 after the
// nil check). Policies read from the API server never carry that (protobuf
// decodes an empty list as nil), and apiDefaulted normalises it the same way.
func TestOracleKubeNetworkPolicies(t *testing.T) {
	r := rand.New(rand.NewPCG(20261127, 2))
	ctx := context.Background()
	total, failures, allowed := 0, 0, 0
	for total < oracleCases() && failures < 3 {
		c := netpoltest.RandomCluster(r, netpoltest.RandomOptions{HostNetwork: true})
		opts := netpol.Options{IPBlockMatchesPods: r.IntN(2) == 0}
		e, err := netpol.New(c, opts)
		if err != nil {
			t.Fatal(err)
		}
		o := newKNPOracle(t, c, opts)
		for range 200 {
			cc := randomConn(r, c)
			total++
			want := o.allowed(ctx, cc)
			v := e.Evaluate(cc.src, cc.dst, cc.proto, cc.port)
			if v.Allowed {
				allowed++
			}
			if v.Allowed != want {
				failures++
				t.Errorf("kube-network-policies says allowed=%v, engine %v (IPBlockMatchesPods=%v)\n%s",
					want, v.Allowed, opts.IPBlockMatchesPods, describeCase(c, cc, v))
				break
			}
		}
	}
	t.Logf("%d connections compared with kube-network-policies, %d allowed", total, allowed)
	if allowed < total/10 || allowed > total*9/10 {
		t.Errorf("generator is lopsided: %d of %d allowed", allowed, total)
	}
}

type knpOracle struct {
	c        netpol.Cluster
	opts     netpol.Options
	policies []*networkingv1.NetworkPolicy
	infos    []*api.PodInfo
	// selected memoises selecting per pod (selectors parse slowly).
	selected map[*api.PodInfo][]*networkingv1.NetworkPolicy
}

func newKNPOracle(t *testing.T, c netpol.Cluster, opts netpol.Options) *knpOracle {
	o := &knpOracle{c: c, opts: opts, selected: map[*api.PodInfo][]*networkingv1.NetworkPolicy{}}
	for _, np := range c.Policies {
		o.policies = append(o.policies, apiDefaulted(np))
	}
	nsLabels := map[string]map[string]string{}
	for _, ns := range c.Namespaces {
		nsLabels[ns.Name] = ns.Labels
	}
	for i := range c.Pods {
		p := &c.Pods[i]
		if p.HostNetwork {
			o.infos = append(o.infos, nil)
			continue
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels}}
		var ctr corev1.Container
		for _, cp := range p.Ports {
			proto := cp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			ctr.Ports = append(ctr.Ports, corev1.ContainerPort{Name: cp.Name, ContainerPort: cp.Port, Protocol: proto})
		}
		pod.Spec.Containers = []corev1.Container{ctr}
		o.infos = append(o.infos, api.NewPodInfo(pod, nsLabels[p.Namespace], nil, ""))
	}
	return o
}

// end is the PodInfo (nil when not a pod-network pod) and the address the
// oracle matches ipBlocks against.
func (o *knpOracle) end(p netpol.Peer) (*api.PodInfo, net.IP) {
	i, ok := p.IsPod()
	if !ok {
		return nil, net.IP(p.Addr().AsSlice())
	}
	pod := &o.c.Pods[i]
	var ip net.IP // unknown (a pod the manifests give no address) matches no ipBlock
	if len(pod.IPs) > 0 && (pod.HostNetwork || o.opts.IPBlockMatchesPods) {
		ip = net.IP(pod.IPs[0].AsSlice())
	}
	return o.infos[i], ip
}

// selecting mirrors the controller's getNetworkPoliciesForPod.
func (o *knpOracle) selecting(info *api.PodInfo) []*networkingv1.NetworkPolicy {
	if out, ok := o.selected[info]; ok {
		return out
	}
	out := o.selectingUncached(info)
	o.selected[info] = out
	return out
}

func (o *knpOracle) selectingUncached(info *api.PodInfo) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, np := range o.policies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			continue
		}
		if np.Namespace == info.Namespace.Name && sel.Matches(labels.Set(info.Labels)) {
			out = append(out, np)
		}
	}
	return out
}

func (o *knpOracle) allowed(ctx context.Context, cc connCase) bool {
	srcInfo, srcIP := o.end(cc.src)
	dstInfo, dstIP := o.end(cc.dst)
	port := int(cc.port)
	egress := srcInfo == nil || networkpolicy.EvaluatePolicyDirection(ctx, o.selecting(srcInfo),
		networkingv1.PolicyTypeEgress, srcInfo, 40000, dstInfo, dstIP, port, cc.proto)
	ingress := dstInfo == nil || networkpolicy.EvaluatePolicyDirection(ctx, o.selecting(dstInfo),
		networkingv1.PolicyTypeIngress, dstInfo, port, srcInfo, srcIP, 40000, cc.proto)
	return egress && ingress
}
