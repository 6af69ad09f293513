package oracle_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
	"github.com/budnet/budnet/internal/testenv"
)

// ciliumPolicyBinary finds hack/cilium-policy, built by
// hack/ci-cilium-policy.sh: $BUDNET_CILIUM_POLICY, else
// ${BUDNET_CACHE:-/var/cache/budnet}/cilium-policy-v1.20.2/cilium-policy.
// Missing, the test skips, except under CI=true, where it fails.
func ciliumPolicyBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("BUDNET_CILIUM_POLICY")
	if bin == "" {
		cache := os.Getenv("BUDNET_CACHE")
		if cache == "" {
			cache = "/var/cache/budnet"
		}
		bin = filepath.Join(cache, "cilium-policy-v1.20.2", "cilium-policy")
	}
	if _, err := os.Stat(bin); err != nil {
		testenv.Missing(t, "%s missing: run bash hack/ci-cilium-policy.sh", bin)
	}
	return bin
}

// ciliumOracle is one hack/cilium-policy process answering cases on a pipe.
type ciliumOracle struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	enc     *json.Encoder
	dec     *json.Decoder
	stderr  bytes.Buffer
	queries int
	busy    time.Duration
}

func startCiliumOracle(t *testing.T) *ciliumOracle {
	t.Helper()
	o := &ciliumOracle{}
	o.cmd = exec.CommandContext(context.Background(), ciliumPolicyBinary(t))
	o.cmd.Stderr = &o.stderr
	var err error
	if o.in, err = o.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := o.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	o.enc, o.dec = json.NewEncoder(o.in), json.NewDecoder(bufio.NewReader(out))
	t.Cleanup(func() {
		_ = o.in.Close()
		if err := o.cmd.Wait(); err != nil {
			t.Errorf("cilium-policy: %v: %s", err, o.stderr.String())
		}
	})
	return o
}

type ciliumPod struct {
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels"`
	Ports     []map[string]any  `json:"ports"`
}

type ciliumQuery struct {
	Src   string `json:"src"`
	Dst   string `json:"dst"`
	Proto string `json:"proto"`
	Port  int32  `json:"port"`
}

type ciliumCase struct {
	Namespaces []netpol.Namespace `json:"namespaces"`
	Pods       []ciliumPod        `json:"pods"`
	Policies   []any              `json:"policies"`
	Queries    []ciliumQuery      `json:"queries"`
}

type ciliumVerdict struct {
	Egress, Ingress string
	Allowed         bool
}

// ask sends one case and reads its verdicts.
func (o *ciliumOracle) ask(t *testing.T, c *ciliumCase) []ciliumVerdict {
	t.Helper()
	start := time.Now()
	if err := o.enc.Encode(c); err != nil {
		t.Fatalf("cilium-policy: %v: %s", err, o.stderr.String())
	}
	var resp struct {
		Verdicts []ciliumVerdict
		Error    string
	}
	if err := o.dec.Decode(&resp); err != nil {
		t.Fatalf("cilium-policy: %v: %s", err, o.stderr.String())
	}
	o.busy += time.Since(start)
	if resp.Error != "" {
		b, _ := json.MarshalIndent(c, "", "  ")
		t.Fatalf("cilium-policy refused a case: %s\n%s", resp.Error, b)
	}
	if len(resp.Verdicts) != len(c.Queries) {
		t.Fatalf("cilium-policy answered %d of %d queries", len(resp.Verdicts), len(c.Queries))
	}
	o.queries += len(c.Queries)
	return resp.Verdicts
}

// ciliumCaseOf is a cluster's namespaces and pods as the oracle reads them.
func ciliumCaseOf(c netpol.Cluster) *ciliumCase {
	cc := &ciliumCase{Namespaces: c.Namespaces}
	for _, p := range c.Pods {
		cp := ciliumPod{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels}
		for _, port := range p.Ports {
			cp.Ports = append(cp.Ports, map[string]any{"name": port.Name, "port": port.Port, "protocol": string(netpolProto(port))})
		}
		cc.Pods = append(cc.Pods, cp)
	}
	return cc
}

func netpolProto(p netpol.ContainerPort) string {
	if p.Protocol == "" {
		return "TCP"
	}
	return string(p.Protocol)
}

func ciliumEnd(p netpol.Peer) string {
	if i, ok := p.IsPod(); ok {
		return fmt.Sprintf("pod:%d", i)
	}
	return "ip:" + p.Addr().String()
}

// ciliumCases is how many connections each Cilium differential judges.
func ciliumCases() int {
	if testenv.CI() {
		return 100_000
	}
	return 20_000
}

// TestOracleCiliumNetworkPolicy compares Evaluate with Cilium v1.20.2's own
// policy code (hack/cilium-policy: pkg/k8s ParseNetworkPolicy into a
// pkg/policy Repository, each side's policy distilled into the endpoint's
// policy map and the flow looked up in it) on random clusters under plain
// NetworkPolicies: a third implementation, and the check that the oracle
// the Cilium-policy differential relies on reads Kubernetes semantics the
// way the other two do.
//
// Readings: Cilium never matches ipBlocks against pod addresses
// (cilium/cilium#14497), the engine's default; host-network pods are
// Cilium's host identity, left out here.
//
// Known Cilium deviation, removed from the input: rules of a direction
// policyTypes leave out (ciliumNetworkPolicy).
//
// Known Cilium behaviour, excluded narrowly: Cilium resolves an egress rule's
// named port through the destination's security identity, which pods with
// the same labels and namespace share, so a named port any of them declares
// counts for all (pkg/policy GetEgressNamedPorts over the ipcache's
// NamedPortMultiMap). Connections to a pod whose identity twin declares
// other ports are not compared.
func TestOracleCiliumNetworkPolicy(t *testing.T) {
	o := startCiliumOracle(t)
	r := rand.New(rand.NewPCG(20261207, 17))
	total, failures, allowed, excluded := 0, 0, 0, 0
	for total < ciliumCases() && failures == 0 {
		c := netpoltest.RandomCluster(r, netpoltest.RandomOptions{})
		e, err := netpol.New(c, netpol.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cc := ciliumCaseOf(c)
		for _, np := range c.Policies {
			cc.Policies = append(cc.Policies, ciliumNetworkPolicy(np))
		}
		var conns []connCase
		for range 200 {
			conn := randomConn(r, c)
			if namedPortTwin(c, conn) {
				excluded++
				continue
			}
			conns = append(conns, conn)
			cc.Queries = append(cc.Queries, ciliumQuery{Src: ciliumEnd(conn.src), Dst: ciliumEnd(conn.dst), Proto: string(conn.proto), Port: conn.port})
		}
		verdicts := o.ask(t, cc)
		for i, conn := range conns {
			total++
			v := e.Evaluate(conn.src, conn.dst, conn.proto, conn.port)
			if v.Allowed {
				allowed++
			}
			if v.Allowed != verdicts[i].Allowed {
				failures++
				if b, err := json.Marshal(cc); err == nil {
					t.Logf("the oracle's case (cilium-policy < this):\n%s", b)
				}
				t.Errorf("Cilium says allowed=%v (egress %s, ingress %s), engine %v\n%s", verdicts[i].Allowed,
					verdicts[i].Egress, verdicts[i].Ingress, v.Allowed, describeCase(c, conn, v))
				break
			}
		}
	}
	t.Logf("%d connections compared with Cilium (%d allowed, %d excluded for a named-port identity twin); the oracle answered %d queries in %v (%.0f per second)",
		total, allowed, excluded, o.queries, o.busy.Round(time.Millisecond), float64(o.queries)/o.busy.Seconds())
	if allowed < total/10 || allowed > total*9/10 {
		t.Errorf("generator is lopsided: %d of %d allowed", allowed, total)
	}
}

// ciliumNetworkPolicy is np as the oracle gets it: API-defaulted, and
// without the rules of a direction its policyTypes leave out. The API
// ignores those rules; Cilium v1.20.2 enforces them (pkg/k8s
// ParseNetworkPolicy converts spec.ingress whatever policyTypes say;
// cilium/cilium#48703, open, fix proposed in #48708), a known deviation
// this removes from the comparison without changing the policy's meaning.
func ciliumNetworkPolicy(np *networkingv1.NetworkPolicy) *networkingv1.NetworkPolicy {
	obj := apiDefaulted(np)
	obj.APIVersion, obj.Kind = "networking.k8s.io/v1", "NetworkPolicy"
	if !slices.Contains(obj.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		obj.Spec.Ingress = nil
	}
	if !slices.Contains(obj.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		obj.Spec.Egress = nil
	}
	return obj
}

// namedPortTwin reports whether the connection's destination pod shares
// its namespace and labels (its Cilium identity) with a pod that declares
// other ports, while some policy names a port.
func namedPortTwin(c netpol.Cluster, conn connCase) bool {
	di, ok := conn.dst.IsPod()
	if !ok || !usesNamedPorts(c.Policies) {
		return false
	}
	d := &c.Pods[di]
	for i := range c.Pods {
		p := &c.Pods[i]
		if i != di && p.Namespace == d.Namespace && maps.Equal(p.Labels, d.Labels) && !slices.Equal(p.Ports, d.Ports) {
			return true
		}
	}
	return false
}

func usesNamedPorts(nps []*networkingv1.NetworkPolicy) bool {
	for _, np := range nps {
		for _, r := range np.Spec.Egress {
			for _, p := range r.Ports {
				if p.Port != nil && p.Port.StrVal != "" {
					return true
				}
			}
		}
	}
	return false
}

// TestOracleCiliumPolicies compares `budnet reach -f` with Cilium's own
// policy code on random clusters under random CiliumNetworkPolicies and
// CiliumClusterwideNetworkPolicies (netpoltest.RandomCiliumPolicies) next
// to NetworkPolicies: every pod-to-pod and pod-to-address cell on the probe
// ports. One oracle process answers all cases (a case per cluster, all its
// queries in it).
//
// A case holding a rule reach lists under metadata.unjudged (the generator
// draws those rarely: kube-apiserver, health) is answered by the oracle but
// not compared. Every case has CiliumNetworkPolicies, two in three a
// CiliumClusterwideNetworkPolicy: the test runs until ciliumCases() cells
// of cases with each kind are compared.
func TestOracleCiliumPolicies(t *testing.T) {
	o := startCiliumOracle(t)
	r := rand.New(rand.NewPCG(20261207, 18))
	dir := t.TempDir()
	var unjudged, example string // example: the last unjudged rule seen, for the log
	cells, allowed, failures, compared, unjudgedCases := 0, 0, 0, 0, 0
	perKind := map[string]int{} // compared cells of cases holding a policy of the kind
	enough := func() bool {
		return perKind["CiliumNetworkPolicy"] >= ciliumCases() && perKind["CiliumClusterwideNetworkPolicy"] >= ciliumCases()
	}
	// The bound on judged cells stops a generator that draws only unjudged
	// cases; the check after the loop fails it.
	for !enough() && cells < 4*ciliumCases() && failures == 0 {
		unjudged = ""
		c := netpoltest.RandomCluster(r, netpoltest.RandomOptions{})
		var nsNames []string
		for _, ns := range c.Namespaces {
			nsNames = append(nsNames, ns.Name)
		}
		cnps := netpoltest.RandomCiliumPolicies(r, nsNames)
		cc := ciliumCaseOf(c)
		for _, np := range c.Policies {
			cc.Policies = append(cc.Policies, ciliumNetworkPolicy(np))
		}
		for _, p := range cnps {
			cc.Policies = append(cc.Policies, p)
		}
		var conns []connCase
		for si := range c.Pods {
			ends := []netpol.Peer{}
			for di := range c.Pods {
				if di != si {
					ends = append(ends, netpol.PodPeer(di))
				}
			}
			for _, a := range ciliumProbeAddrs() {
				ends = append(ends, netpol.AddressPeer(a))
			}
			for _, d := range ends {
				for _, proto := range netpoltest.Protocols() {
					port := netpoltest.Ports()[r.IntN(len(netpoltest.Ports()))]
					conn := connCase{src: netpol.PodPeer(si), dst: d, proto: proto, port: port}
					if namedPortTwin(c, conn) {
						continue
					}
					conns = append(conns, conn)
					cc.Queries = append(cc.Queries, ciliumQuery{Src: ciliumEnd(conn.src), Dst: ciliumEnd(conn.dst), Proto: string(conn.proto), Port: conn.port})
				}
			}
		}
		verdicts := o.ask(t, cc)
		var kinds []string
		for _, p := range cnps {
			if k := p["kind"].(string); !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
		file := filepath.Join(dir, fmt.Sprintf("case-%d.yaml", cells))
		writeCiliumCase(t, file, c, cnps)
		var res e2eMatrix
		var meta struct {
			Metadata struct {
				Unjudged []struct{ Kind, Object string }
			}
		}
		out := reachJSON(t, file, netpol.Options{})
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &meta); err != nil {
			t.Fatal(err)
		}
		for _, u := range meta.Metadata.Unjudged {
			if strings.HasPrefix(u.Kind, "Cilium") {
				unjudged = u.Kind + " " + u.Object
			}
		}
		if unjudged != "" {
			unjudgedCases++
			example = unjudged
		}
		names := map[string]string{}
		for i, conn := range conns {
			cells++
			if verdicts[i].Allowed {
				allowed++
			}
			if unjudged != "" {
				continue // this case holds a rule the engine lists instead of judging
			}
			compared++
			for _, k := range kinds {
				perKind[k]++
			}
			src := reachPodName(c, conn.src)
			dst := reachPodName(c, conn.dst)
			if _, ok := conn.dst.IsPod(); !ok {
				a := conn.dst.Addr().String()
				if _, seen := names[a]; !seen {
					names[a] = res.entityOf(conn.dst.Addr())
				}
				dst = names[a]
			}
			if got := res.allows(src, dst, conn.proto, conn.port); got != verdicts[i].Allowed {
				failures++
				t.Errorf("%s => %s %s/%d: reach says allowed=%v, Cilium %v (egress %s, ingress %s)\nmanifest %s:\n%s",
					src, dst, conn.proto, conn.port, got, verdicts[i].Allowed, verdicts[i].Egress, verdicts[i].Ingress, file, readFile(t, file))
				break
			}
		}
	}
	t.Logf("%d cells judged by Cilium, %d allowed, %d compared with reach (%d of cases with a CiliumNetworkPolicy, %d with a CiliumClusterwideNetworkPolicy; %d cases skipped: a rule reach lists under metadata.unjudged, e.g. %s); the oracle answered %d queries in %v (%.0f per second)",
		cells, allowed, compared, perKind["CiliumNetworkPolicy"], perKind["CiliumClusterwideNetworkPolicy"], unjudgedCases, example, o.queries, o.busy.Round(time.Millisecond), float64(o.queries)/o.busy.Seconds())
	if allowed < cells/20 || allowed > cells*19/20 {
		t.Errorf("generator is lopsided: %d of %d allowed", allowed, cells)
	}
	if failures == 0 && !enough() {
		t.Errorf("only %v of %d cells compared, want %d of each kind: too many cases hold a rule reach lists as unjudged (e.g. %s)", perKind, cells, ciliumCases(), example)
	}
}

// ciliumProbeAddrs are addresses of the generator's pool in private,
// public, IPv4 and IPv6 ranges.
func ciliumProbeAddrs() []netip.Addr {
	all := netpoltest.Addresses()
	return []netip.Addr{all[0], all[3], all[5], all[6], all[10]}
}

// reachPodName is reach's name for a pod WriteManifests wrote: a bare Pod.
func reachPodName(c netpol.Cluster, p netpol.Peer) string {
	i, ok := p.IsPod()
	if !ok {
		return p.Addr().String()
	}
	return c.Pods[i].Namespace + "/" + c.Pods[i].Name + "[Pod]"
}

func writeCiliumCase(t *testing.T, file string, c netpol.Cluster, cnps []map[string]any) {
	var buf bytes.Buffer
	if err := netpoltest.WriteManifests(&buf, c); err != nil {
		t.Fatal(err)
	}
	for _, o := range cnps {
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
