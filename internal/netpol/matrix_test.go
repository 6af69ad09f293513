package netpol_test

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
	"github.com/budnet/budnet/internal/testenv"
)

// members maps each matrix name to the peers it stands for: a workload's pods,
// or for an address entity the first and last address of each of its CIDRs.
func members(t *testing.T, c netpol.Cluster, m *netpol.Matrix) map[string][]netpol.Peer {
	t.Helper()
	out := map[string][]netpol.Peer{}
	for i := range c.Pods {
		out[c.Pods[i].WorkloadName()] = append(out[c.Pods[i].WorkloadName()], netpol.PodPeer(i))
	}
	for _, name := range m.Names() {
		if !m.IsExternal(name) {
			if _, ok := out[name]; !ok {
				t.Fatalf("matrix node %q is neither a workload nor an entity", name)
			}
			continue
		}
		for _, s := range strings.Split(name, ",") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				t.Fatalf("entity %q: %v", name, err)
			}
			out[name] = append(out[name], netpol.AddressPeer(p.Addr()), netpol.AddressPeer(lastAddr(p)))
		}
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	host := p.Addr().BitLen() - p.Bits()
	for i := len(b) - 1; host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// samplePorts are the ports where a policy's decision can change: the pool, the
// declared container ports, and both sides of every numeric range edge.
func samplePorts(c netpol.Cluster) []int32 {
	ps := netpoltest.Ports()
	for _, p := range c.Pods {
		for _, cp := range p.Ports {
			ps = append(ps, cp.Port)
		}
	}
	for _, np := range c.Policies {
		for _, r := range np.Spec.Ingress {
			ps = appendEdges(ps, r.Ports)
		}
		for _, r := range np.Spec.Egress {
			ps = appendEdges(ps, r.Ports)
		}
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}

func appendEdges(ps []int32, ports []networkingv1.NetworkPolicyPort) []int32 {
	for _, p := range ports {
		if p.Port == nil || p.Port.StrVal != "" {
			continue
		}
		lo, hi := p.Port.IntVal, p.Port.IntVal
		if p.EndPort != nil {
			hi = *p.EndPort
		}
		for _, x := range []int32{lo - 1, lo, hi, hi + 1} {
			if x >= 1 && x <= 65535 {
				ps = append(ps, x)
			}
		}
	}
	return ps
}

// checkMatrix compares every matrix pair with pointwise Evaluate over its
// members and the sample ports, and checks Each's order and contents.
func checkMatrix(t *testing.T, c netpol.Cluster, e *netpol.Engine, m *netpol.Matrix, pairs int, r *rand.Rand) {
	t.Helper()
	mem := members(t, c, m)
	names := m.Names()
	if !slices.IsSorted(names) {
		t.Fatalf("names not sorted: %v", names)
	}
	ports := samplePorts(c)
	protos := netpoltest.Protocols()
	checked := 0
	for n := 0; n < pairs || pairs < 0; n++ {
		var a, b string
		if pairs < 0 {
			if n >= len(names)*len(names) {
				break
			}
			a, b = names[n/len(names)], names[n%len(names)]
		} else {
			a, b = names[r.IntN(len(names))], names[r.IntN(len(names))]
		}
		ps, ok := m.Lookup(a, b)
		if a == b || (m.IsExternal(a) && m.IsExternal(b)) {
			if ok {
				t.Fatalf("Lookup(%q, %q) should not exist", a, b)
			}
			continue
		}
		checked++
		for _, proto := range protos {
			for _, port := range ports {
				want := false
				for _, sp := range mem[a] {
					for _, dp := range mem[b] {
						want = want || e.Evaluate(sp, dp, proto, port).Allowed
					}
				}
				if got := ps.Contains(proto, port); got != want {
					t.Fatalf("%s -> %s %s/%d: matrix %v (ports %s), Evaluate %v\n%s", a, b, proto, port, got, ps, want,
						netpoltest.Describe(c))
				}
			}
		}
	}
	if checked == 0 && len(names) > 1 {
		t.Fatal("no pair checked")
	}
	checkEach(t, m)
}

func checkEach(t *testing.T, m *netpol.Matrix) {
	t.Helper()
	var prev netpol.Connection
	n := 0
	for conn := range m.Each {
		if n > 0 && (conn.Src < prev.Src || (conn.Src == prev.Src && conn.Dst <= prev.Dst)) {
			t.Fatalf("Each out of order: %s->%s after %s->%s", conn.Src, conn.Dst, prev.Src, prev.Dst)
		}
		if conn.Ports.IsEmpty() || conn.Src == conn.Dst {
			t.Fatalf("Each yielded %s->%s with %s", conn.Src, conn.Dst, conn.Ports)
		}
		if ps, ok := m.Lookup(conn.Src, conn.Dst); !ok || !ps.Equal(conn.Ports) {
			t.Fatalf("Each and Lookup disagree on %s->%s: %s vs %s", conn.Src, conn.Dst, conn.Ports, ps)
		}
		prev = conn
		n++
	}
	want := 0
	for _, a := range m.Names() {
		for _, b := range m.Names() {
			if ps, ok := m.Lookup(a, b); ok && !ps.IsEmpty() {
				want++
			}
		}
	}
	if n != want {
		t.Fatalf("Each yielded %d connections, Lookup finds %d", n, want)
	}
}

// TestMatrixAgreesWithEvaluate checks the class-based matrix against pointwise
// evaluation on random clusters, every pair, in both ipBlock modes.
func TestMatrixAgreesWithEvaluate(t *testing.T) {
	clusters := 200
	if testenv.CI() {
		clusters = 1000
	}
	r := rand.New(rand.NewPCG(20261127, 3))
	for i := range clusters {
		c := netpoltest.RandomCluster(r, netpoltest.RandomOptions{HostNetwork: true})
		e, err := netpol.New(c, netpol.Options{IPBlockMatchesPods: i%2 == 1})
		if err != nil {
			t.Fatal(err)
		}
		checkMatrix(t, c, e, e.Matrix(), -1, r)
	}
}

// TestMatrixGeneratedCluster samples pairs of the benchmark's generated cluster,
// where named ports mean different numbers on different workloads.
func TestMatrixGeneratedCluster(t *testing.T) {
	r := rand.New(rand.NewPCG(20261127, 4))
	for _, c := range []netpol.Cluster{netpoltest.GenerateCluster(7, 300), netpoltest.GenerateBarePods(7, 200)} {
		e, err := netpol.New(c, netpol.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m := e.Matrix()
		if st := m.Stats(); st.Classes >= st.Pods && st.SrcKeys*st.DstKeys >= st.Classes*st.Classes {
			t.Errorf("grouping had no effect: %+v", st)
		}
		checkMatrix(t, c, e, m, 300, r)
	}
}

// TestMatrixEntities checks the naming of address entities: no ipBlock gives
// the two whole families; a block with an except splits its family into the
// block minus the except and the rest, named by minimal CIDR lists; blocks of
// the same rule are one entity. The expected lists were computed independently
// with Python's ipaddress.ip_network(...).address_exclude.
func TestMatrixEntities(t *testing.T) {
	tests := []struct {
		name     string
		policies string
		want     []string
	}{
		{name: "no ipBlock", want: []string{"0.0.0.0/0", "::/0"}},
		{
			name: "block with except",
			policies: `
metadata: {namespace: a, name: p}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]`,
			want: []string{
				"0.0.0.0/5,8.0.0.0/7,10.1.0.0/16,11.0.0.0/8,12.0.0.0/6,16.0.0.0/4,32.0.0.0/3,64.0.0.0/2,128.0.0.0/1",
				"10.0.0.0/16,10.2.0.0/15,10.4.0.0/14,10.8.0.0/13,10.16.0.0/12,10.32.0.0/11,10.64.0.0/10,10.128.0.0/9",
				"::/0",
			},
		},
		{
			name: "equal treatment merges parts; IPv6 separate",
			policies: `
metadata: {namespace: a, name: p}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 192.168.0.0/24}}, {ipBlock: {cidr: 192.168.1.0/24}}, {ipBlock: {cidr: "2001:db8::/32"}}]
    ports: [{port: 1}]`,
			want: []string{
				"0.0.0.0/1,128.0.0.0/2,192.0.0.0/9,192.128.0.0/11,192.160.0.0/13,192.168.2.0/23,192.168.4.0/22,192.168.8.0/21,192.168.16.0/20,192.168.32.0/19,192.168.64.0/18,192.168.128.0/17,192.169.0.0/16,192.170.0.0/15,192.172.0.0/14,192.176.0.0/12,192.192.0.0/10,193.0.0.0/8,194.0.0.0/7,196.0.0.0/6,200.0.0.0/5,208.0.0.0/4,224.0.0.0/3",
				"192.168.0.0/23",
				"2001:db8::/32",
				"::/3,2000::/16,2001::/21,2001:800::/22,2001:c00::/24,2001:d00::/25,2001:d80::/27,2001:da0::/28,2001:db0::/29,2001:db9::/32,2001:dba::/31,2001:dbc::/30,2001:dc0::/26,2001:e00::/23,2001:1000::/20,2001:2000::/19,2001:4000::/18,2001:8000::/17,2002::/15,2004::/14,2008::/13,2010::/12,2020::/11,2040::/10,2080::/9,2100::/8,2200::/7,2400::/6,2800::/5,3000::/4,4000::/2,8000::/1",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fixtureCluster()
			c.Policies = parsePolicies(t, tc.policies)
			e, err := netpol.New(c, netpol.Options{})
			if err != nil {
				t.Fatal(err)
			}
			m := e.Matrix()
			var got []string
			for _, n := range m.Names() {
				if m.IsExternal(n) {
					got = append(got, n)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("entities:\n got %q\nwant %q", got, tc.want)
			}
			checkMatrix(t, c, e, m, -1, nil)
		})
	}
}
