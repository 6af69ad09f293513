// Command cilium-policy answers "is this flow allowed?" with Cilium's own
// policy code, for budnet's differential tests (internal/netpol/oracle). It
// is a test harness, not part of budnet: it lives in its own module so that
// budnet's go.mod stays free of Cilium's dependency tree.
//
// Input on stdin is a stream of JSON cases, output on stdout one JSON answer
// per case, in order, so that one process answers many cases:
//
//	{"namespaces": [{"name": "a", "labels": {...}}],
//	 "pods": [{"namespace": "a", "name": "p0", "labels": {...}, "serviceAccount": "default",
//	           "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}],
//	 "policies": [<NetworkPolicy, CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy as JSON>],
//	 "queries": [{"src": "pod:0", "dst": "ip:8.8.8.8", "proto": "TCP", "port": 443}]}
//
//	{"verdicts": [{"egress": "allowed", "ingress": "allowed", "allowed": true}], "error": ""}
//
// A query end is "pod:<index>", "ip:<address>" (an address outside the
// cluster: a CIDR identity, as Cilium's ipcache gives it) or
// "entity:<host|remote-node|kube-apiserver|world|health|ingress>" (a reserved
// identity).
//
// How the verdict is computed is Cilium's own test path (pkg/policy
// lookup.go LookupFlow, used by pkg/k8s/network_policy_test.go): a
// policy.Repository fed with the rules that pkg/k8s ParseNetworkPolicy and
// CiliumNetworkPolicy.Parse produce, identities made from the pods' labels
// by pkg/k8s/utils SanitizePodLabels (the labels the agent gives an
// endpoint), the selector policy of each side distilled into the endpoint's
// policy map (MapState), and the flow's key looked up in it, egress on the
// source and ingress on the destination.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/netip"
	"os"
	"strconv"
	"strings"

	cmtypes "github.com/cilium/cilium/pkg/clustermesh/types"
	"github.com/cilium/cilium/pkg/endpoint/regeneration"
	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/identity/identitymanager"
	"github.com/cilium/cilium/pkg/k8s"
	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	slim_networkingv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/api/networking/v1"
	k8sutils "github.com/cilium/cilium/pkg/k8s/utils"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/option"
	"github.com/cilium/cilium/pkg/policy"
	policyapi "github.com/cilium/cilium/pkg/policy/api"
	policytypes "github.com/cilium/cilium/pkg/policy/types"
	"github.com/cilium/cilium/pkg/policy/utils"
	testidentity "github.com/cilium/cilium/pkg/testutils/identity"
	testpolicy "github.com/cilium/cilium/pkg/testutils/policy"
	pkgtypes "github.com/cilium/cilium/pkg/types"
	"github.com/cilium/cilium/pkg/u8proto"
)

// clusterName is the cluster label every pod identity carries (the agent's
// default --cluster-name).
const clusterName = "default"

// policyCluster is the cluster the parsers anchor selectors to: the local
// one, as the agent's default policy-default-local-cluster=true says
// (pkg/clustermesh/types LocalClusterNameForPolicies). It keeps a peer such
// as a namespaceSelector with only DoesNotExist terms from matching
// identities outside the cluster (world, CIDRs), which carry no
// namespace labels.
var policyCluster = cmtypes.LocalClusterNameForPolicies(cmtypes.DefaultPolicyConfig, clusterName)

type namespace struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

func (n namespace) GetName() string              { return n.Name }
func (n namespace) GetLabels() map[string]string { return n.Labels }

type containerPort struct {
	Name     string `json:"name"`
	Port     uint16 `json:"port"`
	Protocol string `json:"protocol"`
}

type pod struct {
	Namespace      string            `json:"namespace"`
	Name           string            `json:"name"`
	Labels         map[string]string `json:"labels"`
	ServiceAccount string            `json:"serviceAccount"`
	Ports          []containerPort   `json:"ports"`
}

type query struct {
	Src   string `json:"src"`
	Dst   string `json:"dst"`
	Proto string `json:"proto"`
	Port  uint16 `json:"port"`
}

type request struct {
	Namespaces []namespace       `json:"namespaces"`
	Pods       []pod             `json:"pods"`
	Policies   []json.RawMessage `json:"policies"`
	Queries    []query           `json:"queries"`
}

type verdict struct {
	Egress  string `json:"egress"`
	Ingress string `json:"ingress"`
	Allowed bool   `json:"allowed"`
}

type response struct {
	Verdicts []verdict `json:"verdicts"`
	Error    string    `json:"error,omitempty"`
}

func main() {
	// Both families, as budnet's clusters are dual-stack: addresses get the
	// world-ipv4/world-ipv6 labels, as in a dual-stack agent.
	option.Config.EnableIPv4 = true
	option.Config.EnableIPv6 = true
	// The cluster entity's selectors (host, remote-node, init, ingress,
	// health, unmanaged, kube-apiserver, the cluster's pods by their
	// io.cilium.k8s.policy.cluster label) are filled in at run time; until
	// then pkg/policy/api EntitySelectorMapping holds an empty slice for it,
	// and toEntities: [cluster] selects nothing, so a rule of it with
	// toPorts reads as a port-only rule for every peer. The agent calls
	// InitEntities before it builds its policy repository (pkg/policy/cell
	// cell.go newPolicyRepo); so does the oracle.
	policyapi.InitEntities(clusterName)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	if err := serve(logger, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cilium-policy:", err)
		os.Exit(1)
	}
}

// serve answers each case of in on out; a case Cilium refuses (a policy
// that does not parse) is answered with its error, the stream goes on.
func serve(logger *slog.Logger, in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReaderSize(in, 1<<20))
	bw := bufio.NewWriterSize(out, 1<<16)
	enc := json.NewEncoder(bw)
	for {
		var req request
		if err := dec.Decode(&req); errors.Is(err, io.EOF) {
			return bw.Flush()
		} else if err != nil {
			return fmt.Errorf("reading a case: %w", err)
		}
		verdicts, err := answer(logger, &req)
		resp := response{Verdicts: verdicts}
		if err != nil {
			resp = response{Error: err.Error()}
		}
		if err := enc.Encode(resp); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil { // one answer per case, as the reader waits for it
			return err
		}
	}
}

// world holds one case's identities and repository.
type world struct {
	logger  *slog.Logger
	ids     map[string]*identity.Identity // query end -> identity
	byLabel map[string]*identity.Identity // sorted label string -> identity (pods with equal labels share one, as in Cilium)
	idmap   identity.IdentityMap
	// ports are each pod's own named ports, by query end ("pod:<index>"):
	// an endpoint resolves an ingress rule's named port on its own pod
	// (pkg/endpoint policy.go GetIngressNamedPort, "Ingress only needs the
	// ports of the POD itself"), even where pods share an identity.
	ports  map[string]pkgtypes.NamedPortMap
	nextID identity.NumericIdentity
	npm    namedPorts
	repo   *policy.Repository
	idmgr  identitymanager.IDManager
	cache  map[cacheKey]policy.SelectorPolicy
}

type cacheKey struct {
	id identity.NumericIdentity
}

// namedPorts is the egress named-port map Cilium's ipcache keeps: every
// pod's named ports by identity.
type namedPorts struct{ m pkgtypes.NamedPortMultiMap }

func (n namedPorts) GetNamedPorts() pkgtypes.NamedPortMultiMap { return n.m }

func answer(logger *slog.Logger, req *request) ([]verdict, error) {
	w := &world{logger: logger, ids: map[string]*identity.Identity{}, byLabel: map[string]*identity.Identity{},
		idmap: identity.IdentityMap{}, ports: map[string]pkgtypes.NamedPortMap{},
		nextID: identity.GetMinimalAllocationIdentity(0), cache: map[cacheKey]policy.SelectorPolicy{}}
	if err := w.identities(req); err != nil {
		return nil, err
	}
	w.idmgr = identitymanager.NewIDManager(logger)
	w.repo = policy.NewPolicyRepository(logger, w.idmap, nil, nil, w.idmgr, testpolicy.NewPolicyMetricsNoop())
	w.repo.GetSelectorCache().SetLocalIdentityNotifier(testidentity.NewDummyIdentityNotifier())
	w.idmgr.Subscribe(testpolicy.SelectorCacheObserver{Cache: w.repo.GetSubjectSelectorCache()})
	w.repo.SetNamedPortsGetter(w.npm)
	for _, id := range w.idmap {
		_ = id
	}
	for nid, lbls := range w.idmap {
		w.idmgr.Add(identity.NewIdentityFromLabelArray(nid, lbls))
	}
	for i, raw := range req.Policies {
		entries, err := parsePolicy(logger, raw)
		if err != nil {
			return nil, fmt.Errorf("policies[%d]: %w", i, err)
		}
		w.repo.MustAddPolicyEntries(entries)
	}
	out := make([]verdict, 0, len(req.Queries))
	for i, q := range req.Queries {
		v, err := w.lookup(q)
		if err != nil {
			return nil, fmt.Errorf("queries[%d]: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// identities allocates an identity per distinct pod label set (as Cilium's
// allocator does), per queried address and per reserved entity.
func (w *world) identities(req *request) error {
	nsByName := map[string]namespace{}
	for _, ns := range req.Namespaces {
		nsByName[ns.Name] = ns
	}
	npm := pkgtypes.NewNamedPortMultiMap()
	w.npm = namedPorts{npm}
	for i, p := range req.Pods {
		ns, ok := nsByName[p.Namespace]
		if !ok {
			ns = namespace{Name: p.Namespace, Labels: map[string]string{"kubernetes.io/metadata.name": p.Namespace}}
		}
		sa := p.ServiceAccount
		if sa == "" {
			sa = "default"
		}
		k8sLabels := k8sutils.SanitizePodLabels(maps.Clone(p.Labels), ns, sa, clusterName)
		lbls := labels.Map2Labels(k8sLabels, labels.LabelSourceK8s)
		key := lbls.SortedList()
		id, ok := w.byLabel[string(key)]
		if !ok {
			id = identity.NewIdentity(w.nextID, lbls)
			w.nextID++
			w.byLabel[string(key)] = id
			w.idmap[id.ID] = id.LabelArray
		}
		w.ids["pod:"+strconv.Itoa(i)] = id
		named := pkgtypes.NamedPortMap{}
		for _, cp := range p.Ports {
			if cp.Name == "" {
				continue
			}
			proto, err := protocol(cp.Protocol)
			if err != nil {
				return fmt.Errorf("pods[%d] port %s: %w", i, cp.Name, err)
			}
			named[cp.Name] = pkgtypes.PortProto{Proto: proto, Port: cp.Port}
		}
		npm.Update(id.ID, nil, named)
		w.ports["pod:"+strconv.Itoa(i)] = named
	}
	for _, q := range req.Queries {
		for _, end := range []string{q.Src, q.Dst} {
			if err := w.endIdentity(end); err != nil {
				return err
			}
		}
	}
	return nil
}

var entities = map[string]identity.NumericIdentity{
	"host": identity.ReservedIdentityHost, "remote-node": identity.ReservedIdentityRemoteNode,
	"kube-apiserver": identity.ReservedIdentityKubeAPIServer, "world": identity.ReservedIdentityWorld,
	"health": identity.ReservedIdentityHealth, "ingress": identity.ReservedIdentityIngress,
}

func (w *world) endIdentity(end string) error {
	if _, ok := w.ids[end]; ok {
		return nil
	}
	kind, val, _ := strings.Cut(end, ":")
	switch kind {
	case "ip":
		a, err := netip.ParseAddr(val)
		if err != nil {
			return fmt.Errorf("query end %q: %w", end, err)
		}
		lbls := labels.GetCIDRLabels(netip.PrefixFrom(a, a.BitLen()))
		id := identity.NewIdentity(w.nextID|identity.IdentityScopeLocal, lbls)
		w.nextID++
		w.ids[end] = id
		w.idmap[id.ID] = id.LabelArray
	case "entity":
		nid, ok := entities[val]
		if !ok {
			return fmt.Errorf("query end %q: unknown entity", end)
		}
		id := identity.LookupReservedIdentity(nid)
		if id == nil {
			return fmt.Errorf("query end %q: no reserved identity", end)
		}
		w.ids[end] = id
		w.idmap[id.ID] = id.LabelArray
	default:
		return fmt.Errorf("query end %q: want pod:<index>, ip:<address> or entity:<name>", end)
	}
	return nil
}

func protocol(s string) (u8proto.U8proto, error) {
	if s == "" {
		return u8proto.TCP, nil
	}
	return u8proto.ParseProtocol(s)
}

// parsePolicy turns one object into Cilium's policy entries, through the
// agent's own parsers.
func parsePolicy(logger *slog.Logger, raw json.RawMessage) (policytypes.PolicyEntries, error) {
	var meta struct{ Kind string }
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, err
	}
	switch meta.Kind {
	case "NetworkPolicy":
		var np slim_networkingv1.NetworkPolicy
		if err := json.Unmarshal(raw, &np); err != nil {
			return nil, err
		}
		if np.Namespace == "" {
			np.Namespace = "default"
		}
		return k8s.ParseNetworkPolicy(logger, policyCluster, &np)
	case "CiliumNetworkPolicy":
		var cnp ciliumv2.CiliumNetworkPolicy
		if err := json.Unmarshal(raw, &cnp); err != nil {
			return nil, err
		}
		if cnp.Namespace == "" {
			cnp.Namespace = "default"
		}
		rules, err := cnp.Parse(logger, policyCluster)
		if err != nil {
			return nil, err
		}
		return utils.RulesToPolicyEntries(rules), nil
	case "CiliumClusterwideNetworkPolicy":
		var ccnp ciliumv2.CiliumClusterwideNetworkPolicy
		if err := json.Unmarshal(raw, &ccnp); err != nil {
			return nil, err
		}
		rules, err := ccnp.Parse(logger, policyCluster)
		if err != nil {
			return nil, err
		}
		return utils.RulesToPolicyEntries(rules), nil
	}
	return nil, fmt.Errorf("kind %q: want NetworkPolicy, CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy", meta.Kind)
}

// lookup is pkg/policy LookupFlow, with the named ports of each side given
// to the side's endpoint (LookupFlow gives both endpoints the flow's map)
// and the distilled policies cached per identity, which a case's queries
// share.
func (w *world) lookup(q query) (verdict, error) {
	from, to := w.ids[q.Src], w.ids[q.Dst]
	proto, err := protocol(q.Proto)
	if err != nil {
		return verdict{}, err
	}
	if q.Port == 0 {
		return verdict{}, errors.New("port 0")
	}
	v := verdict{Egress: "allowed", Ingress: "allowed"}
	// Only endpoints (pods) enforce policy; a reserved or CIDR end does not.
	if strings.HasPrefix(q.Src, "pod:") {
		allowed, err := w.decide(from, w.ports[q.Src], policy.EgressKey().WithIdentity(to.ID).WithPortProto(proto, q.Port))
		if err != nil {
			return verdict{}, err
		}
		if !allowed {
			v.Egress = "denied"
		}
	}
	if strings.HasPrefix(q.Dst, "pod:") {
		allowed, err := w.decide(to, w.ports[q.Dst], policy.IngressKey().WithIdentity(from.ID).WithPortProto(proto, q.Port))
		if err != nil {
			return verdict{}, err
		}
		if !allowed {
			v.Ingress = "denied"
		}
	}
	v.Allowed = v.Egress == "allowed" && v.Ingress == "allowed"
	return v, nil
}

// decide distills id's selector policy into an endpoint policy and looks
// key up in its map state, as LookupFlow does.
func (w *world) decide(id *identity.Identity, named pkgtypes.NamedPortMap, key policy.Key) (bool, error) {
	sp, ok := w.cache[cacheKey{id.ID}]
	if !ok {
		var err error
		sp, _, err = w.repo.ComputeSelectorPolicy(id)
		if err != nil {
			return false, fmt.Errorf("computing the policy of identity %d: %w", id.ID, err)
		}
		w.cache[cacheKey{id.ID}] = sp
	}
	owner := &endpoint{id: uint64(id.ID), named: named}
	epp := sp.DistillPolicy(w.logger, owner, map[string]uint16{policy.FallbackRedirectID: math.MaxUint16})
	epp.Ready()
	defer epp.Detach(w.logger)
	entry, _, _ := epp.Lookup(key)
	return !entry.IsDeny(), nil
}

// endpoint is the PolicyOwner DistillPolicy asks for the endpoint's own
// named ports (ingress rules on a named port).
type endpoint struct {
	id    uint64
	named pkgtypes.NamedPortMap
}

var _ policy.PolicyOwner = (*endpoint)(nil)

func (e *endpoint) GetID() uint64 { return e.id }
func (e *endpoint) GetIngressNamedPort(name string, proto u8proto.U8proto) uint16 {
	if pp, ok := e.named[name]; ok && pp.Proto == proto {
		return pp.Port
	}
	return 0
}
func (e *endpoint) PolicyDebug(string, ...any)                  {}
func (e *endpoint) IsHost() bool                                { return false }
func (e *endpoint) PreviousMapStateSizes() policy.MapStateSizes { return policy.MapStateSizes{} }
func (e *endpoint) RegenerateIfAlive(*regeneration.ExternalRegenerationMetadata) <-chan bool {
	ch := make(chan bool)
	close(ch)
	return ch
}
