package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

// WriteReachText writes one line per connection, `src => dst : ports`, the form
// users of connectivity analyzers already read, then the intended-matrix
// comparison grouped by guide row when there is one.
func WriteReachText(w io.Writer, r ReachResult) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, "# %d workloads, %d pods, %d network policies; ipBlock %s\n",
		r.Meta.Workloads, r.Meta.Pods, r.Meta.Policies, ipBlockNote(r.Meta.IPBlockMatchesPods))
	if len(r.Meta.Tiers) > 0 {
		kinds := make([]string, 0, len(r.Meta.Tiers))
		for k, n := range r.Meta.Tiers {
			kinds = append(kinds, k+" "+strconv.Itoa(n))
		}
		sort.Strings(kinds)
		fmt.Fprintf(bw, "# also evaluated, each in its tier: %s\n", strings.Join(kinds, ", "))
	}
	for _, n := range r.Meta.Notes {
		fmt.Fprintf(bw, "# note: %s\n", n)
	}
	for _, u := range r.Meta.Unjudged {
		obj := u.Object
		if u.Field != "" {
			obj += " " + u.Field
		}
		fmt.Fprintf(bw, "# not judged: %s %s (%s): %s\n", u.Kind, obj, u.Source, u.Why)
	}
	var err error
	buf := make([]byte, 0, 256)
	if r.Connections != nil {
		r.Connections(func(c netpol.Connection) bool {
			buf = append(buf[:0], c.Src...)
			buf = append(buf, " => "...)
			buf = append(buf, c.Dst...)
			buf = append(buf, " : "...)
			buf = AppendPortsText(buf, c.Ports)
			if c.Partial() {
				buf = append(buf, " (partial: "...)
				buf = strconv.AppendInt(buf, int64(c.FullPairs), 10)
				buf = append(buf, " of "...)
				buf = strconv.AppendInt(buf, int64(c.PodPairs), 10)
				buf = append(buf, " pod pairs)"...)
			}
			buf = append(buf, '\n')
			_, err = bw.Write(buf)
			return err == nil
		})
	}
	if err != nil {
		return fmt.Errorf("writing connections: %w", err)
	}
	if r.Diff != nil {
		writeDiffText(bw, r.Diff)
	}
	return bw.Flush()
}

func ipBlockNote(matchesPods bool) string {
	if matchesPods {
		return "peers also match pod IPs (--ipblock-matches-pods)"
	}
	return "peers match only addresses outside the cluster (the API reference's intent; --ipblock-matches-pods to change)"
}

// AppendPortsText appends "TCP 80,8000-8080; UDP 53" or "All Connections".
func AppendPortsText(buf []byte, ports netpol.PortSet) []byte {
	if ports.All() {
		return append(buf, "All Connections"...)
	}
	var last string
	for _, r := range ports.Ranges() {
		proto := string(r.Protocol)
		if proto != last {
			if last != "" {
				buf = append(buf, "; "...)
			}
			buf = append(buf, proto...)
			buf = append(buf, ' ')
			last = proto
		} else {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, int64(r.Start), 10)
		if r.End != r.Start {
			buf = append(buf, '-')
			buf = strconv.AppendInt(buf, int64(r.End), 10)
		}
	}
	return buf
}

func writeDiffText(bw *bufio.Writer, d *reach.Diff) {
	fmt.Fprintf(bw, "\nOver-permissive (allowed but not intended): %d\n", len(d.OverPermissive))
	writeGroups(bw, d.OverPermissive, "allowed by")
	fmt.Fprintf(bw, "\nBroken (intended but blocked): %d\n", len(d.Broken))
	writeGroups(bw, d.Broken, "blocked by")
	if len(d.Unmatched) > 0 {
		fmt.Fprintf(bw, "\nModel workloads with no matching workload in the manifests (their flows were not judged): %s\n",
			strings.Join(d.Unmatched, ", "))
	}
}

func writeGroups(bw *bufio.Writer, ds []reach.Discrepancy, verb string) {
	groups := map[string][]reach.Discrepancy{}
	var keys []string
	for _, d := range ds {
		k := d.Guide
		if k == "" {
			k = "not in the intended matrix"
		}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], d)
	}
	sort.Strings(keys)
	buf := make([]byte, 0, 256)
	for _, k := range keys {
		fmt.Fprintf(bw, "  [%s]\n", k)
		for _, d := range groups[k] {
			buf = append(buf[:0], "    "...)
			buf = append(buf, d.Src...)
			buf = append(buf, " => "...)
			buf = append(buf, d.Dst...)
			buf = append(buf, " : "...)
			buf = AppendPortsText(buf, d.Ports)
			if d.Flow != "" {
				buf = append(buf, "  (flow "...)
				buf = append(buf, d.Flow...)
				buf = append(buf, ')')
			}
			if len(d.Policies) > 0 {
				buf = append(buf, "  "...)
				buf = append(buf, verb...)
				buf = append(buf, ": "...)
				buf = append(buf, strings.Join(d.Policies, ", ")...)
			}
			buf = append(buf, '\n')
			bw.Write(buf)
		}
	}
}
