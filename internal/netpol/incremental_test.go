package netpol_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
)

// TestIncrementalDifferential applies random delta sequences to random
// clusters and, after every delta, checks the incremental engine against a
// full recompute (New and Matrix on the same objects): every connection with
// its partial counts, and the reported changes against the difference of
// the full matrices before and after. 250 clusters of 48 deltas: 12,000
// deltas, every kind of object the engine reads.
func TestIncrementalDifferential(t *testing.T) {
	const clusters, steps = 250, 48
	var applied, rejected, changes, rebuilds int
	for seed := range clusters {
		r := rand.New(rand.NewPCG(uint64(seed), 0x696e6372))
		ropts := netpoltest.RandomOptions{HostNetwork: seed%2 == 0}
		dopts := netpoltest.DeltaOptions{RandomOptions: ropts, Tiers: seed%3 != 2, Cilium: seed%3 != 1}
		opts := netpol.Options{IPBlockMatchesPods: seed%4 == 1}
		c := netpoltest.RandomCluster(r, ropts)
		if dopts.Tiers {
			netpoltest.AddRandomTiers(r, &c)
		}
		if dopts.Cilium {
			netpoltest.AddRandomCilium(r, &c)
		}
		inc, err := netpol.NewIncremental(c, opts)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		prev := fullConnections(t, inc.Cluster(), opts)
		checkSame(t, fmt.Sprintf("seed %d initial", seed), inc, prev)
		for step := range steps {
			d := netpoltest.RandomDelta(r, inc.Cluster(), dopts)
			got, err := inc.Apply(d)
			if err != nil {
				// The generators draw only valid objects except where they
				// mean to (none today); a rejected delta must change nothing.
				rejected++
				checkSame(t, fmt.Sprintf("seed %d step %d (rejected %v)", seed, step, err), inc, prev)
				continue
			}
			applied++
			changes += got.Len()
			now := fullConnections(t, inc.Cluster(), opts)
			where := fmt.Sprintf("seed %d step %d (%s %T)", seed, step, d.Op, d.Object)
			checkSame(t, where, inc, now)
			pairs := slices.Collect(got.Each)
			if len(pairs) != got.Len() {
				t.Fatalf("%s: Len %d, Each %d pairs", where, got.Len(), len(pairs))
			}
			sortChanges(pairs) // Apply groups them by changed node
			if want := diffConnections(prev, now); !equalChanges(pairs, want) {
				t.Fatalf("%s: reported changes\n%s\nwant\n%s", where, formatChanges(pairs), formatChanges(want))
			}
			prev = now
		}
		rebuilds += inc.Stats().Rebuilds
	}
	t.Logf("%d deltas applied (%d rejected, %d by rebuild), %d changed connections, 0 disagreements", applied, rejected, rebuilds, changes)
	if applied < 10000 {
		t.Fatalf("only %d deltas applied, want at least 10,000", applied)
	}
}

func fullConnections(t *testing.T, c netpol.Cluster, opts netpol.Options) full {
	t.Helper()
	e, err := netpol.New(c, opts)
	if err != nil {
		t.Fatalf("full recompute: %v", err)
	}
	m := e.Matrix()
	return full{names: m.Names(), conns: slices.Collect(m.Each)}
}

// full is what a full recompute answers: the matrix's names and connections.
type full struct {
	names []string
	conns []netpol.Connection
}

func checkSame(t *testing.T, where string, inc *netpol.Incremental, f full) {
	t.Helper()
	if names := inc.Names(); !slices.Equal(names, f.names) {
		t.Fatalf("%s: names %v, full recompute %v", where, names, f.names)
	}
	want := f.conns
	got := slices.Collect(inc.Each)
	// Each's pairs answer Connection the same; names outside are unknown.
	for _, c := range got {
		if one, ok := inc.Connection(c.Src, c.Dst); !ok || !one.Ports.Equal(c.Ports) || one.PodPairs != c.PodPairs || one.FullPairs != c.FullPairs {
			t.Fatalf("%s: Connection(%s, %s) = %v %v, Each has %v", where, c.Src, c.Dst, one, ok, c)
		}
	}
	if _, ok := inc.Lookup("no/such[Workload]", "no/such[Workload]"); ok {
		t.Fatalf("%s: Lookup of an unknown name answered", where)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d connections, full recompute %d\n%s", where, len(got), len(want), describeDiff(got, want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Src != w.Src || g.Dst != w.Dst || !g.Ports.Equal(w.Ports) || g.PodPairs != w.PodPairs || g.FullPairs != w.FullPairs {
			t.Fatalf("%s: connection %d: got %s -> %s %s (%d/%d), full recompute %s -> %s %s (%d/%d)", where, i,
				g.Src, g.Dst, g.Ports, g.FullPairs, g.PodPairs, w.Src, w.Dst, w.Ports, w.FullPairs, w.PodPairs)
		}
	}
}

func describeDiff(got, want []netpol.Connection) string {
	f := func(cs []netpol.Connection) map[string]string {
		m := map[string]string{}
		for _, c := range cs {
			m[c.Src+" -> "+c.Dst] = c.Ports.String()
		}
		return m
	}
	g, w := f(got), f(want)
	var b strings.Builder
	for k, v := range g {
		if w[k] != v {
			fmt.Fprintf(&b, "incremental %s: %s, full %q\n", k, v, w[k])
		}
	}
	for k, v := range w {
		if _, ok := g[k]; !ok {
			fmt.Fprintf(&b, "full only %s: %s\n", k, v)
		}
	}
	return b.String()
}

// diffConnections is the changes between two full matrices, by ports.
func diffConnections(b, a full) []netpol.ConnChange {
	before, after := b.conns, a.conns
	type pair struct{ src, dst string }
	m := map[pair]*netpol.ConnChange{}
	var order []pair
	for _, c := range before {
		k := pair{c.Src, c.Dst}
		m[k] = &netpol.ConnChange{Src: c.Src, Dst: c.Dst, Before: c.Ports}
		order = append(order, k)
	}
	for _, c := range after {
		k := pair{c.Src, c.Dst}
		if ch, ok := m[k]; ok {
			ch.After = c.Ports
			continue
		}
		m[k] = &netpol.ConnChange{Src: c.Src, Dst: c.Dst, After: c.Ports}
		order = append(order, k)
	}
	var out []netpol.ConnChange
	for _, k := range order {
		if ch := m[k]; !ch.Before.Equal(ch.After) {
			out = append(out, *ch)
		}
	}
	sortChanges(out)
	return out
}

func sortChanges(cs []netpol.ConnChange) {
	slices.SortFunc(cs, func(a, b netpol.ConnChange) int {
		return cmp.Or(strings.Compare(a.Src, b.Src), strings.Compare(a.Dst, b.Dst))
	})
}

func equalChanges(got, want []netpol.ConnChange) bool {
	return slices.EqualFunc(got, want, func(a, b netpol.ConnChange) bool {
		return a.Src == b.Src && a.Dst == b.Dst && a.Before.Equal(b.Before) && a.After.Equal(b.After)
	})
}

func formatChanges(cs []netpol.ConnChange) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("  " + c.String() + "\n")
	}
	return b.String()
}

// TestIncrementalRejects: an object New rejects, or of a kind the engine
// does not read, is an error and leaves the state as it was.
func TestIncrementalRejects(t *testing.T) {
	c := netpoltest.GenerateCluster(1, 60)
	inc, err := netpol.NewIncremental(c, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := fullConnections(t, inc.Cluster(), netpol.Options{})
	bad := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-000", Name: "bad"}}
	bad.Spec.PolicyTypes = []networkingv1.PolicyType{"Sideways"}
	badSel := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-000", Name: "badsel"}}
	badSel.Spec.PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}
	tests := []struct {
		name  string
		delta netpol.Delta
		want  string
	}{
		{"unknown policyType", netpol.Delta{Object: bad}, `unknown type "Sideways"`},
		{"bad selector operator", netpol.Delta{Object: badSel}, "spec.podSelector"},
		{"unknown kind", netpol.Delta{Object: &networkingv1.Ingress{}}, "unsupported object type"},
		{"nil pod", netpol.Delta{Object: (*netpol.Pod)(nil)}, "nil Pod"},
		{"unknown op", netpol.Delta{Op: 7, Object: &netpol.Namespace{Name: "x"}}, "unknown op"},
		{"cilium without kind", netpol.Delta{Object: &netpol.CiliumNetworkPolicy{}}, "kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := inc.Apply(tc.delta)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			checkSame(t, tc.name, inc, want)
		})
	}
}

// TestIncrementalDuplicate: two objects with one identity are refused.
func TestIncrementalDuplicate(t *testing.T) {
	c := netpoltest.GenerateCluster(1, 20)
	c.Pods = append(c.Pods, c.Pods[0])
	if _, err := netpol.NewIncremental(c, netpol.Options{}); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Fatalf("err = %v, want listed twice", err)
	}
}

// TestIncrementalLargeProfile runs the benchmark's delta stream (pod and
// NetworkPolicy changes of the large profile, 200 pods) on a cluster small enough to
// recompute after every delta: the same check as the random one, on
// realistic shapes (many workloads of one behaviour, namespace selectors).
func TestIncrementalLargeProfile(t *testing.T) {
	l := netpoltest.GenerateLarge(7, 200)
	inc, err := netpol.NewIncremental(l.Cluster, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	prev := fullConnections(t, inc.Cluster(), netpol.Options{})
	checkSame(t, "initial", inc, prev)
	r := rand.New(rand.NewPCG(7, 8))
	changes := 0
	for step := range 200 {
		var d netpol.Delta
		if r.IntN(2) == 0 {
			d = l.PodDelta()
		} else {
			d = l.PolicyDelta()
		}
		got, err := inc.Apply(d)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		// The generator's own view of the cluster, not the engine's.
		now := fullConnections(t, l.Cluster, netpol.Options{})
		where := fmt.Sprintf("step %d (%s %T)", step, d.Op, d.Object)
		checkSame(t, where, inc, now)
		pairs := slices.Collect(got.Each)
		sortChanges(pairs)
		if want := diffConnections(prev, now); !equalChanges(pairs, want) {
			t.Fatalf("%s: reported %d changes, want %d", where, len(pairs), len(want))
		}
		changes += len(pairs)
		prev = now
	}
	if st := inc.Stats(); st.Rebuilds != 0 || changes == 0 {
		t.Fatalf("%d rebuilds, %d changes: the stream should stay on the fast path and change something", st.Rebuilds, changes)
	}
	t.Logf("200 deltas, %d changed connections, 0 disagreements", changes)
}

// TestObjectKey: the identities a caller diffing clusters into deltas keys
// objects by. A namespaced policy without a namespace is the one in
// "default"; a nil object or a type Apply does not take has no key.
func TestObjectKey(t *testing.T) {
	var nilPod *netpol.Pod
	for _, tc := range []struct {
		obj  any
		want string
		ok   bool
	}{
		{&netpol.Namespace{Name: "bud"}, "Namespace//bud", true},
		{&netpol.Pod{Namespace: "bud", Name: "api-0"}, "Pod/bud/api-0", true},
		{&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "deny"}}, "NetworkPolicy/default/deny", true},
		{&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "bud", Name: "deny"}}, "NetworkPolicy/bud/deny", true},
		{&netpol.AdminNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, "AdminNetworkPolicy//a", true},
		{&netpol.BaselineAdminNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, "BaselineAdminNetworkPolicy//default", true},
		{&netpol.ClusterNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, "ClusterNetworkPolicy//c", true},
		{&netpol.CiliumNetworkPolicy{TypeMeta: metav1.TypeMeta{Kind: netpol.KindCiliumNetworkPolicy}, ObjectMeta: metav1.ObjectMeta{Name: "l7"}}, "CiliumNetworkPolicy/default/l7", true},
		{&netpol.CiliumNetworkPolicy{TypeMeta: metav1.TypeMeta{Kind: netpol.KindCiliumClusterwideNetworkPolicy}, ObjectMeta: metav1.ObjectMeta{Namespace: "ignored", Name: "cw"}}, "CiliumClusterwideNetworkPolicy//cw", true},
		{nilPod, "", false},
		{nil, "", false},
		{"Pod/bud/api-0", "", false},
	} {
		got, ok := netpol.ObjectKey(tc.obj)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ObjectKey(%#v) = %q, %v; want %q, %v", tc.obj, got, ok, tc.want, tc.ok)
		}
	}
}
