// Package report renders results: one file per format, each a Write function
// that streams to an io.Writer.
package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

// ReachResult is what `budnet reach` prints. Connections streams the matrix so
// millions of pairs never sit in memory at once.
type ReachResult struct {
	Meta        reach.Meta
	Connections func(yield func(netpol.Connection) bool)
	// Diff is set with --intended.
	Diff *reach.Diff
}

// WriteReachJSON writes the documented JSON form (docs/reach.md):
// {"metadata": {...}, "connections": [{"src","dst","ports"}], "overPermissive": [...], "broken": [...]}.
func WriteReachJSON(w io.Writer, r ReachResult) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	meta, err := json.Marshal(r.Meta)
	if err != nil {
		return fmt.Errorf("encoding metadata: %w", err)
	}
	bw.WriteString(`{"metadata":`)
	bw.Write(meta)
	bw.WriteString(",\n\"connections\":[")
	buf := make([]byte, 0, 256)
	first := true
	// Consecutive connections mostly share a port set (a source's row repeats
	// the same few sets), so the last rendering is kept and reused.
	var lastPorts netpol.PortSet
	var lastJSON []byte
	if r.Connections != nil {
		r.Connections(func(c netpol.Connection) bool {
			buf = buf[:0]
			if !first {
				buf = append(buf, ',')
			}
			if first || !c.Ports.Equal(lastPorts) {
				lastPorts, lastJSON = c.Ports, AppendPortsJSON(lastJSON[:0], c.Ports)
			}
			first = false
			buf = append(buf, "\n{"...)
			buf = appendEndpoints(buf, c.Src, c.Dst)
			buf = append(buf, lastJSON...)
			if c.Partial() {
				// Only some pod pairs are allowed all of ports (netpol.Connection).
				buf = append(buf, `,"podPairs":`...)
				buf = strconv.AppendInt(buf, int64(c.PodPairs), 10)
				buf = append(buf, `,"fullPairs":`...)
				buf = strconv.AppendInt(buf, int64(c.FullPairs), 10)
			}
			buf = append(buf, '}')
			_, err = bw.Write(buf)
			return err == nil
		})
	}
	if err != nil {
		return fmt.Errorf("writing connections: %w", err)
	}
	bw.WriteString("\n]")
	if r.Diff != nil {
		writeDiscrepancies(bw, "overPermissive", r.Diff.OverPermissive)
		writeDiscrepancies(bw, "broken", r.Diff.Broken)
		unmatched, err := json.Marshal(nonNil(r.Diff.Unmatched))
		if err != nil {
			return err
		}
		bw.WriteString(",\n\"unmatchedModelWorkloads\":")
		bw.Write(unmatched)
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeDiscrepancies(bw *bufio.Writer, key string, ds []reach.Discrepancy) {
	bw.WriteString(",\n\"" + key + "\":[")
	for i, d := range ds {
		buf := make([]byte, 0, 256)
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, "\n{"...)
		buf = appendConnection(buf, d.Src, d.Dst, d.Ports)
		buf = append(buf, `,"flow":`...)
		buf = appendJSONString(buf, d.Flow)
		buf = append(buf, `,"guide":`...)
		buf = appendJSONString(buf, d.Guide)
		buf = append(buf, `,"policies":`...)
		p, _ := json.Marshal(nonNil(d.Policies))
		buf = append(buf, p...)
		buf = append(buf, `,"reason":`...)
		buf = appendJSONString(buf, d.Reason)
		buf = append(buf, '}')
		bw.Write(buf)
	}
	bw.WriteString("\n]")
}

// appendConnection appends `"src":..,"dst":..,"ports":[..]` without the braces.
func appendConnection(buf []byte, src, dst string, ports netpol.PortSet) []byte {
	return AppendPortsJSON(appendEndpoints(buf, src, dst), ports)
}

// appendEndpoints appends `"src":..,"dst":..,"ports":`.
func appendEndpoints(buf []byte, src, dst string) []byte {
	buf = append(buf, `"src":`...)
	buf = appendJSONString(buf, src)
	buf = append(buf, `,"dst":`...)
	buf = appendJSONString(buf, dst)
	return append(buf, `,"ports":`...)
}

// AppendPortsJSON appends ports as `[{"protocol":"TCP","port":5432,"endPort":5432}]`,
// or `[{"protocol":"all"}]` when every port of every protocol is allowed.
func AppendPortsJSON(buf []byte, ports netpol.PortSet) []byte {
	if ports.All() {
		return append(buf, `[{"protocol":"all"}]`...)
	}
	buf = append(buf, '[')
	for i, r := range ports.Ranges() {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"protocol":"`...)
		buf = append(buf, r.Protocol...)
		buf = append(buf, `","port":`...)
		buf = strconv.AppendInt(buf, int64(r.Start), 10)
		buf = append(buf, `,"endPort":`...)
		buf = strconv.AppendInt(buf, int64(r.End), 10)
		buf = append(buf, '}')
	}
	return append(buf, ']')
}

// appendJSONString quotes s for JSON. Workload names are plain ASCII in
// practice, so the fast path avoids encoding/json's allocation.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
