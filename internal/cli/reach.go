package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
	"github.com/budnet/budnet/internal/report"
)

// reachOptions hold `budnet reach`'s flags and what Complete resolves from them.
type reachOptions struct {
	streams Streams
	source  sourceOptions

	Output             string
	From, To, Port     string
	Intended           bool
	FailOn             string
	PlatformFile       string
	IPBlockMatchesPods bool
	HostNetworkPods    string

	proto corev1.Protocol
	port  int32
}

func newReachCommand(streams Streams) *cobra.Command {
	o := &reachOptions{streams: streams}
	o.source.isTerminal = isTerminal
	cmd := &cobra.Command{
		Use:   "reach (-f FILE|DIR|- ... | --example | --chart DIR|TGZ | --cluster) [--intended] [--from NS/NAME --to NS/NAME --port PROTO/PORT]",
		Short: "Compute who can talk to whom under the NetworkPolicies in manifests",
		Long: `reach computes the connectivity matrix of the workloads in a set of manifests under
their NetworkPolicies (networking.k8s.io/v1 semantics, as the API reference defines them),
explains single connections, and compares the matrix with the platform model's intended
firewall matrix (guide section 4). docs/reach.md documents the output.`,
		Example: `  budnet reach --example
  budnet reach -f manifests/ -o json
  budnet reach --chart ./bud --values prod.yaml --intended
  budnet reach --cluster --context prod -o json
  budnet reach --example --from bud/budapp --to bud/bud-postgresql --port tcp/5432
  budnet reach -f manifests/ --intended --platform my-platform.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError(err)
			}
			return o.run(cmd.Context())
		},
	}
	o.source.addFlags(cmd.Flags(), "compute the connectivity of")
	fs := cmd.Flags()
	fs.StringVarP(&o.Output, "output", "o", "text", "output format: text, json or html")
	fs.StringVar(&o.From, "from", "", "explain one connection from this workload (ns/name[Kind]) or IP address")
	fs.StringVar(&o.To, "to", "", "explain one connection to this workload (ns/name[Kind]) or IP address")
	fs.StringVar(&o.Port, "port", "", "with --from/--to: tcp/5432, udp/53, sctp/9, or a number for TCP")
	fs.BoolVar(&o.Intended, "intended", false, "compare with the platform model's intended firewall matrix")
	fs.StringVar(&o.FailOn, "fail-on", "", "with --intended: exit 1 when the comparison finds over-permissive connections, broken flows, or any of the two (over-permissive, broken, any)")
	fs.StringVar(&o.PlatformFile, "platform", "", "platform model file (default: the embedded Bud AI Foundry model)")
	fs.BoolVar(&o.IPBlockMatchesPods, "ipblock-matches-pods", false, "let ipBlock peers match pod IPs too (CNIs differ; default: external addresses only)")
	fs.StringVar(&o.HostNetworkPods, "host-network-pods", hostNetworkNode, "how policies treat host-network pods (CNIs differ): node (their traffic is the node's; no policy isolates or selects them) or pod (policies apply to them as to any pod)")
	return cmd
}

func (o *reachOptions) validate() error {
	if err := o.source.validate("reach"); err != nil {
		return err
	}
	if o.Output != "text" && o.Output != "json" && o.Output != "html" {
		return fmt.Errorf("unknown output format %q for reach (want text, json or html)", o.Output)
	}
	if o.HostNetworkPods != hostNetworkNode && o.HostNetworkPods != hostNetworkPod {
		return fmt.Errorf("--host-network-pods %q: want node or pod", o.HostNetworkPods)
	}
	switch o.FailOn {
	case "", reachFailOverPermissive, reachFailBroken, reachFailAny:
	default:
		return fmt.Errorf("--fail-on %q: want over-permissive, broken or any", o.FailOn)
	}
	if o.FailOn != "" && !o.Intended {
		return errors.New("--fail-on needs --intended: it judges the comparison with the model")
	}
	if (o.From == "") != (o.To == "") {
		return errors.New("--from and --to go together")
	}
	if o.From != "" {
		if o.Intended {
			return errors.New("--intended cannot be combined with --from/--to")
		}
		if o.Output == "html" {
			return errors.New("-o html draws the whole matrix: use text or json with --from/--to")
		}
		if o.Port == "" {
			return errors.New("--from/--to need --port (tcp/5432, udp/53, sctp/9 or a number)")
		}
		proto, port, err := parsePort(o.Port)
		if err != nil {
			return err
		}
		o.proto, o.port = proto, port
	} else if o.Port != "" {
		return errors.New("--port needs --from and --to")
	}
	return nil
}

func parsePort(s string) (corev1.Protocol, int32, error) {
	proto, num := "tcp", s
	if p, n, ok := strings.Cut(s, "/"); ok {
		proto, num = p, n
	}
	var protocol corev1.Protocol
	switch strings.ToLower(proto) {
	case "tcp":
		protocol = corev1.ProtocolTCP
	case "udp":
		protocol = corev1.ProtocolUDP
	case "sctp":
		protocol = corev1.ProtocolSCTP
	default:
		return "", 0, fmt.Errorf("--port %q: protocol must be tcp, udp or sctp", s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("--port %q: port must be a number from 1 to 65535", s)
	}
	return protocol, int32(n), nil
}

func (o *reachOptions) run(ctx context.Context) error {
	inv, _, inputs, err := o.source.load(ctx, o.streams)
	if err != nil {
		return usageError(err)
	}
	in := reach.Build(inv, reach.BuildOptions{HostNetworkAsPods: o.HostNetworkPods == hostNetworkPod})
	if err := in.Err(); err != nil {
		return usageError(err)
	}
	eng, err := netpol.New(in.Cluster, netpol.Options{IPBlockMatchesPods: o.IPBlockMatchesPods})
	if err != nil {
		return usageError(err)
	}
	if o.From != "" {
		return o.explain(in, eng)
	}
	m := eng.Matrix()
	res := report.ReachResult{
		Meta: reach.Meta{Inputs: inputs, IPBlockMatchesPods: o.IPBlockMatchesPods, HostNetworkPods: o.HostNetworkPods,
			Workloads: len(in.Workloads), Pods: in.Pods(), Policies: len(in.Cluster.Policies),
			Unjudged: append(slices.Clip(in.Unjudged), in.EngineUnjudged(eng.Unjudged())...),
			Notes:    slices.Concat(in.Notes, eng.Warnings()), Tiers: in.TierCounts()},
		Connections: m.Each,
	}
	if o.Intended {
		model, err := loadPlatform(o.PlatformFile)
		if err != nil {
			return usageError(err)
		}
		diff, err := reach.Compare(in, eng, m, model)
		if err != nil {
			return usageError(err)
		}
		res.Diff = diff
		res.Meta.Platform = model.Metadata.Name
		res.Meta.Notes = append(res.Meta.Notes, diff.Notes...)
		if o.FailOn != "" && len(model.Spec.Workloads) > 0 && len(diff.Unmatched) == len(model.Spec.Workloads) {
			// Nothing was compared: a gate must not pass on it.
			return usageError(fmt.Errorf("no workload of the model %q matches a workload of the input: nothing to judge with --fail-on (wrong -f, or another model: --platform)", model.Metadata.Name))
		}
	}
	if err := o.write(res, m.Names()); err != nil {
		return err
	}
	if res.Diff != nil && reachFails(o.FailOn, res.Diff) {
		return &ExitError{Code: ExitFindings}
	}
	return nil
}

// write renders the result in the chosen format.
func (o *reachOptions) write(res report.ReachResult, names []string) error {
	switch o.Output {
	case "json":
		return report.WriteReachJSON(o.streams.Out, res)
	case "html":
		return report.WriteReachHTML(o.streams.Out, res, report.HTMLOptions{Version: BuildVersion().Version, Workloads: names})
	}
	return report.WriteReachText(o.streams.Out, res)
}

// The --host-network-pods readings.
const (
	hostNetworkNode = "node"
	hostNetworkPod  = "pod"
)

// The --fail-on values of `reach --intended`.
const (
	reachFailOverPermissive = "over-permissive"
	reachFailBroken         = "broken"
	reachFailAny            = "any"
)

// reachFails reports whether the comparison fails the gate failOn ("" never
// fails). Model drift and unmatched model workloads are reported, not failed:
// they say the model is out of date, not that traffic is open or cut.
func reachFails(failOn string, d *reach.Diff) bool {
	over, broken := len(d.OverPermissive) > 0, len(d.Broken) > 0
	switch failOn {
	case reachFailOverPermissive:
		return over
	case reachFailBroken:
		return broken
	case reachFailAny:
		return over || broken
	}
	return false
}

// explainResult is `reach --from --to -o json`.
type explainResult struct {
	Src     string           `json:"src"`
	Dst     string           `json:"dst"`
	Port    netpol.PortRange `json:"port"`
	Allowed bool             `json:"allowed"`
	Egress  explainSide      `json:"egress"`
	Ingress explainSide      `json:"ingress"`
	Text    string           `json:"explanation"`
	// PodPairs is set when a side's workload runs pods that policies tell
	// apart: one verdict per source and destination pod. Allowed is then true
	// when any pair is allowed, as the matrix (a union over pods) shows it,
	// and Partial says that not every pair is; Egress and Ingress explain the
	// first allowed pair (or the first pair when none is).
	PodPairs []podPair `json:"podPairs,omitempty"`
	Partial  bool      `json:"partial,omitempty"`
}

// podPair is one source pod to destination pod verdict of an explanation.
type podPair struct {
	Src     string `json:"src"`
	Dst     string `json:"dst"`
	Allowed bool   `json:"allowed"`
}

type explainSide struct {
	Allowed  bool `json:"allowed"`
	Isolated bool `json:"isolated"`
	// Tier decided the side: Admin, NetworkPolicy, Baseline or Default
	// (no policy decided); Rule and Action name the tiered rule that did.
	Tier     string   `json:"tier"`
	Rule     string   `json:"rule,omitempty"`
	Action   string   `json:"action,omitempty"`
	Passed   []string `json:"passedBy,omitempty"`
	Reason   string   `json:"reason"`
	Policies []string `json:"policies,omitempty"`
	Rules    []string `json:"rules,omitempty"`
}

func (o *reachOptions) explain(in *reach.Input, eng *netpol.Engine) error {
	src, srcName, err := peerOf(in, o.From, "--from")
	if err != nil {
		return usageError(err)
	}
	dst, dstName, err := peerOf(in, o.To, "--to")
	if err != nil {
		return usageError(err)
	}
	// Every pod of each side: pods of one workload that policies tell apart
	// get their own verdicts, so the explanation agrees with the matrix.
	var pairs []podPair
	var shown netpol.Verdict
	allowed, first := 0, true
	for _, s := range src {
		for _, d := range dst {
			v := eng.Evaluate(s.peer, d.peer, o.proto, o.port)
			pairs = append(pairs, podPair{Src: s.name, Dst: d.name, Allowed: v.Allowed})
			if v.Allowed {
				allowed++
			}
			if first || (v.Allowed && !shown.Allowed) {
				shown, first = v, false
			}
		}
	}
	res := explainResult{Src: srcName, Dst: dstName, Port: netpol.PortRange{Protocol: o.proto, Start: o.port, End: o.port},
		Allowed: allowed > 0, Egress: side(shown.Egress), Ingress: side(shown.Ingress), Text: shown.String()}
	if len(pairs) > 1 && allowed > 0 && allowed < len(pairs) {
		res.PodPairs, res.Partial = pairs, true
	}
	if o.Output == "json" {
		enc := json.NewEncoder(o.streams.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	word := "DENIED"
	switch {
	case res.Partial:
		word = fmt.Sprintf("ALLOWED for %d of %d pod pairs", allowed, len(pairs))
	case res.Allowed:
		word = "ALLOWED"
	}
	fmt.Fprintf(o.streams.Out, "%s => %s : %s/%d %s\n  %s\n  %s\n", srcName, dstName, o.proto, o.port, word, shown.Egress, shown.Ingress)
	for _, p := range res.PodPairs {
		mark := "denied "
		if p.Allowed {
			mark = "allowed"
		}
		fmt.Fprintf(o.streams.Out, "  %s %s => %s\n", mark, p.Src, p.Dst)
	}
	return nil
}

// explainPeer is one pod (or address) of an explained side, with the name
// its per-pod verdict shows.
type explainPeer struct {
	peer netpol.Peer
	name string
}

func side(s netpol.SideVerdict) explainSide {
	out := explainSide{Allowed: s.Allowed, Isolated: s.Isolated, Tier: s.Tier.String(), Reason: s.String()}
	if s.Rule != nil {
		out.Rule, out.Action = s.Rule.String(), s.Action.String()
	}
	for _, r := range s.Passed {
		out.Passed = append(out.Passed, r.String())
	}
	for _, p := range s.Isolating {
		out.Policies = append(out.Policies, p.String())
	}
	for _, r := range s.Allowing {
		out.Rules = append(out.Rules, r.String())
	}
	return out
}

// peerOf resolves --from/--to: a workload name, with or without [Kind], to
// every pod of the workload, or an address.
func peerOf(in *reach.Input, s, flag string) ([]explainPeer, string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return []explainPeer{{peer: netpol.AddressPeer(a), name: a.String()}}, a.String(), nil
	}
	w, ok := in.Workload(s)
	if !ok {
		return nil, "", fmt.Errorf("%s %q: no such workload (or ambiguous without [Kind]); workloads are named namespace/name[Kind], e.g. %s", flag, s, exampleName(in))
	}
	var out []explainPeer
	for _, i := range w.Pods {
		p := in.Cluster.Pods[i]
		out = append(out, explainPeer{peer: netpol.PodPeer(i), name: p.Namespace + "/" + p.Name})
	}
	return out, w.Name, nil
}

func exampleName(in *reach.Input) string {
	if len(in.Workloads) == 0 {
		return "ns/app[Deployment]"
	}
	return in.Workloads[0].Name
}
