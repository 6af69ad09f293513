package oracle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/cli"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
	"github.com/budnet/budnet/internal/testenv"
)

// e2eCases is how many random manifest sets TestOracleEndToEnd judges.
func e2eCases() int {
	if testenv.CI() {
		return 600
	}
	return 150
}

// TestOracleEndToEnd is the differential test through the loader: random
// manifests as a user writes them (netpoltest.RandomManifests: Deployments,
// StatefulSets whose pods get per-pod labels, DaemonSets, bare and static
// pods, named ports, namespaces with labels, NetworkPolicies) are read by
// `budnet reach -f FILE` (cli.Execute, the command's own path: loader,
// reach.Build, engine, renderer), and every matrix cell on a probe set of
// ports and addresses, and the explanation of random connections (with its
// per-pod verdicts when pods differ), are compared with kube-network-policies
// and cyclonus evaluated pod by pod on the pods the controllers create.
// TestOracleKubeNetworkPolicies and TestOracleCyclonus check the engine
// pointwise on budnet's own model of the pods; this test checks the model.
//
// Cyclonus matches ipBlocks against every pod address, so it judges only the
// cases where no policy has an ipBlock (half of them, by construction).
func TestOracleEndToEnd(t *testing.T) {
	r := rand.New(rand.NewPCG(20261207, 15))
	dir := t.TempDir()
	var st e2eStats
	for i := 0; i < e2eCases() && st.failures == 0; i++ {
		opts := netpoltest.RandomOptions{HostNetwork: true, NoIPBlocks: i%2 == 0}
		opts.NotInKeysAlwaysPresent = opts.NoIPBlocks // cyclonus's NotIn deviation (TestOracleCyclonus)
		mc := netpoltest.RandomManifests(r, opts)
		ec := &e2eCase{t: t, mc: mc, file: filepath.Join(dir, fmt.Sprintf("case-%d.yaml", i)), st: &st,
			ipBlockMatchesPods: r.IntN(2) == 0, hostNetworkAsPods: r.IntN(2) == 0}
		if err := os.WriteFile(ec.file, mc.YAML, 0o600); err != nil {
			t.Fatal(err)
		}
		ec.run(r, opts.NoIPBlocks)
	}
	t.Logf("%d manifest sets: %d matrix cells and %d explanations compared (%d partial), %d allowed cells; cyclonus judged %d cases",
		st.cases, st.cells, st.explains, st.partial, st.allowed, st.cyclonusCases)
	if st.failures == 0 && (st.allowed < st.cells/10 || st.allowed > st.cells*9/10) {
		t.Errorf("generator is lopsided: %d of %d cells allowed", st.allowed, st.cells)
	}
	if st.failures == 0 && st.partial == 0 {
		t.Errorf("no explanation had pods with different verdicts: the per-pod case is not exercised")
	}
}

type e2eStats struct {
	cases, cells, allowed, explains, partial, cyclonusCases, failures int
}

// e2eCase is one manifest set with its oracles.
type e2eCase struct {
	t                                     *testing.T
	mc                                    netpoltest.ManifestCase
	file                                  string
	st                                    *e2eStats
	ipBlockMatchesPods, hostNetworkAsPods bool

	truth    netpol.Cluster
	knp      *knpOracle
	cyclonus *cyclonusOracle
	// workloads are the workload names of the truth, in order, and the
	// truth pods of each.
	workloads []string
	pods      map[string][]int
}

func (ec *e2eCase) run(r *rand.Rand, noIPBlocks bool) {
	ec.st.cases++
	ec.truth = ec.mc.Truth
	ec.truth.Pods = slices.Clone(ec.truth.Pods)
	for i := range ec.truth.Pods {
		if ec.hostNetworkAsPods {
			ec.truth.Pods[i].HostNetwork = false
		}
	}
	ec.knp = newKNPOracle(ec.t, ec.truth, netpol.Options{IPBlockMatchesPods: ec.ipBlockMatchesPods})
	if noIPBlocks {
		ec.cyclonus = newCyclonusOracle(ec.truth, r.IntN(2) == 0)
		ec.st.cyclonusCases++
	}
	ec.pods = map[string][]int{}
	for i, p := range ec.truth.Pods {
		if _, ok := ec.pods[p.Workload]; !ok {
			ec.workloads = append(ec.workloads, p.Workload)
		}
		ec.pods[p.Workload] = append(ec.pods[p.Workload], i)
	}
	if !ec.checkMatrix() {
		return
	}
	for range 8 {
		if !ec.checkExplain(r) {
			return
		}
	}
}

// oracle judges one pod-level connection of the truth with every oracle of
// the case; the verdicts must agree with each other before they judge budnet.
func (ec *e2eCase) oracle(cc connCase) bool {
	want := ec.knp.allowed(context.Background(), cc)
	if ec.cyclonus != nil && ec.cyclonus.allowed(cc) != want {
		ec.fail("the oracles disagree on %s -> %s %s/%d: kube-network-policies %v, cyclonus %v",
			peerString(ec.truth, cc.src), peerString(ec.truth, cc.dst), cc.proto, cc.port, want, !want)
	}
	return want
}

func (ec *e2eCase) fail(format string, args ...any) {
	ec.st.failures++
	ec.t.Errorf("%s\nreach flags: --ipblock-matches-pods=%v --host-network-pods=%s\nmanifest (%s):\n%s",
		fmt.Sprintf(format, args...), ec.ipBlockMatchesPods, ec.hostNetworkReading(), ec.file, ec.mc.YAML)
}

func (ec *e2eCase) hostNetworkReading() string {
	if ec.hostNetworkAsPods {
		return "pod"
	}
	return "node"
}

// reach runs `budnet reach -f FILE args...` and decodes its JSON output.
func (ec *e2eCase) reach(out any, args ...string) bool {
	args = append([]string{"reach", "-f", ec.file, "-o", "json", "--host-network-pods", ec.hostNetworkReading()}, args...)
	if ec.ipBlockMatchesPods {
		args = append(args, "--ipblock-matches-pods")
	}
	var stdout, stderr bytes.Buffer
	code := cli.Execute(context.Background(), args, cli.Streams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
	if code != 0 {
		ec.fail("budnet %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
		return false
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		ec.fail("budnet %s: %v\n%s", strings.Join(args, " "), err, stdout.String())
		return false
	}
	return true
}

type e2eMatrix struct {
	Connections []struct {
		Src, Dst string
		Ports    []struct {
			Protocol      string
			Port, EndPort int32
		}
	}
}

// allows reports whether a JSON connection's ports hold proto/port.
func (m *e2eMatrix) allows(src, dst string, proto corev1.Protocol, port int32) bool {
	for _, c := range m.Connections {
		if c.Src != src || c.Dst != dst {
			continue
		}
		for _, p := range c.Ports {
			if p.Protocol == "all" || (p.Protocol == string(proto) && p.Port <= port && port <= p.EndPort) {
				return true
			}
		}
	}
	return false
}

// entityOf is the matrix's name for the address entity holding a (entities
// are named by their disjoint CIDRs, comma-separated), or "" when no listed
// entity holds it (then nothing is allowed to or from it).
func (m *e2eMatrix) entityOf(a netip.Addr) string {
	for _, c := range m.Connections {
		for _, name := range []string{c.Src, c.Dst} {
			for _, cidr := range strings.Split(name, ",") {
				if p, err := netip.ParsePrefix(cidr); err == nil && p.Contains(a) {
					return name
				}
			}
		}
	}
	return ""
}

// probePorts are the ports worth probing: the generators' ports and their
// neighbours, and every port a pod declares.
func (ec *e2eCase) probePorts() []int32 {
	ports := netpoltest.Ports()
	for _, p := range ec.truth.Pods {
		for _, cp := range p.Ports {
			ports = append(ports, cp.Port)
		}
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// probeAddrs are the generator's external addresses that are no pod's.
func (ec *e2eCase) probeAddrs() []netip.Addr {
	var out []netip.Addr
	for _, a := range netpoltest.Addresses() {
		mine := false
		for _, p := range ec.truth.Pods {
			mine = mine || slices.Contains(p.IPs, a)
		}
		if !mine {
			out = append(out, a)
		}
	}
	return out
}

// checkMatrix compares every cell of reach's matrix, on the probe ports,
// with the union over the pods of each side of the oracles' verdicts.
func (ec *e2eCase) checkMatrix() bool {
	var m e2eMatrix
	if !ec.reach(&m) {
		return false
	}
	type end struct {
		name  string
		peers []netpol.Peer
	}
	var ends []end
	for _, w := range ec.workloads {
		e := end{name: w}
		for _, i := range ec.pods[w] {
			e.peers = append(e.peers, netpol.PodPeer(i))
		}
		ends = append(ends, e)
	}
	nWorkloads := len(ends)
	for _, a := range ec.probeAddrs() {
		ends = append(ends, end{name: "address " + a.String(), peers: []netpol.Peer{netpol.AddressPeer(a)}})
	}
	names := map[string]string{}
	name := func(e end) string {
		a, ok := strings.CutPrefix(e.name, "address ")
		if !ok {
			return e.name
		}
		n, ok := names[a]
		if !ok {
			n = m.entityOf(netip.MustParseAddr(a))
			names[a] = n
		}
		return n
	}
	ports := ec.probePorts()
	for i, s := range ends {
		for j, d := range ends {
			if i == j || (i >= nWorkloads && j >= nWorkloads) {
				continue
			}
			for _, proto := range netpoltest.Protocols() {
				for _, port := range ports {
					want := false
					for _, sp := range s.peers {
						for _, dp := range d.peers {
							want = want || ec.oracle(connCase{src: sp, dst: dp, proto: proto, port: port})
						}
					}
					got := m.allows(name(s), name(d), proto, port)
					ec.st.cells++
					if want {
						ec.st.allowed++
					}
					if got != want {
						ec.fail("matrix cell %s => %s %s/%d: reach says allowed=%v, the oracles (over %d x %d pods) %v",
							s.name, d.name, proto, port, got, len(s.peers), len(d.peers), want)
						return false
					}
				}
			}
		}
	}
	return true
}

// e2eExplain is `reach --from --to -o json`.
type e2eExplain struct {
	Allowed, Partial bool
	PodPairs         []struct {
		Src, Dst string
		Allowed  bool
	}
}

// checkExplain explains one random connection between two workloads, or a
// workload and an address, and compares the verdict and its per-pod pairs
// with the oracles on every pod pair. reach names a pod by the pod (a Pod
// object) or by the manifest object that makes it.
func (ec *e2eCase) checkExplain(r *rand.Rand) bool {
	src, dst := ec.workloads[r.IntN(len(ec.workloads))], ec.workloads[r.IntN(len(ec.workloads))]
	srcPeers, dstPeers := ec.peersOf(src), ec.peersOf(dst)
	addrs := ec.probeAddrs()
	switch r.IntN(4) {
	case 0:
		a := addrs[r.IntN(len(addrs))]
		src, srcPeers = a.String(), []netpol.Peer{netpol.AddressPeer(a)}
	case 1:
		a := addrs[r.IntN(len(addrs))]
		dst, dstPeers = a.String(), []netpol.Peer{netpol.AddressPeer(a)}
	}
	if src == dst {
		return true
	}
	proto := netpoltest.Protocols()[r.IntN(3)]
	ports := ec.probePorts()
	port := ports[r.IntN(len(ports))]
	var got e2eExplain
	if !ec.reach(&got, "--from", src, "--to", dst, "--port", fmt.Sprintf("%s/%d", strings.ToLower(string(proto)), port)) {
		return false
	}
	ec.st.explains++
	if got.Partial {
		ec.st.partial++
	}
	verdict := func(s, d netpol.Peer) bool { return ec.oracle(connCase{src: s, dst: d, proto: proto, port: port}) }
	some, all := false, true
	for _, s := range srcPeers {
		for _, d := range dstPeers {
			v := verdict(s, d)
			some, all = some || v, all && v
		}
	}
	where := fmt.Sprintf("explain %s => %s %s/%d", src, dst, proto, port)
	if got.Allowed != some || got.Partial != (some && !all) {
		ec.fail("%s: reach says allowed=%v partial=%v, the oracles over %d x %d pods: some allowed=%v, all allowed=%v",
			where, got.Allowed, got.Partial, len(srcPeers), len(dstPeers), some, all)
		return false
	}
	covered := map[[2]netpol.Peer]bool{}
	for _, pp := range got.PodPairs {
		for _, s := range ec.match(pp.Src, srcPeers) {
			for _, d := range ec.match(pp.Dst, dstPeers) {
				covered[[2]netpol.Peer{s, d}] = true
				if v := verdict(s, d); v != pp.Allowed {
					ec.fail("%s: reach says %s => %s allowed=%v, the oracles say %s => %s %v",
						where, pp.Src, pp.Dst, pp.Allowed, peerString(ec.truth, s), peerString(ec.truth, d), v)
					return false
				}
			}
		}
	}
	if got.Partial && len(covered) != len(srcPeers)*len(dstPeers) {
		ec.fail("%s: reach's %d pod pairs name %d of the %d pod pairs", where, len(got.PodPairs), len(covered), len(srcPeers)*len(dstPeers))
		return false
	}
	return true
}

func (ec *e2eCase) peersOf(workload string) []netpol.Peer {
	var out []netpol.Peer
	for _, i := range ec.pods[workload] {
		out = append(out, netpol.PodPeer(i))
	}
	return out
}

// match are the truth peers reach's name n stands for: an address, a pod
// (ns/pod) or a manifest object (ns/name) that makes pods.
func (ec *e2eCase) match(n string, peers []netpol.Peer) []netpol.Peer {
	var out []netpol.Peer
	for _, p := range peers {
		i, ok := p.IsPod()
		switch {
		case !ok:
			if p.Addr().String() == n {
				out = append(out, p)
			}
		case ec.truth.Pods[i].Namespace+"/"+ec.truth.Pods[i].Name == n || ec.mc.Objects[i] == n:
			out = append(out, p)
		}
	}
	return out
}
