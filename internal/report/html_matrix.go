package report

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

// externalZone holds the address entities (CIDR lists) of the matrix.
const externalZone = "(external)"

// htmlMatrix is the zone-to-zone heat map: zones are namespaces, a cell
// counts the workload pairs between two zones that are allowed, allowed but
// not intended (over-permissive) and intended but blocked (broken).
type htmlMatrix struct {
	Zones       []string
	Rows        []htmlRow
	HasDiff     bool
	Allowed     int
	Over        int
	Broken      int
	Connections int
}

type htmlRow struct {
	Zone  string
	Cells []htmlCell
}

type htmlCell struct {
	Key, Src, Dst, Class string
	Allowed, Over        int
	Broken, Intended     int
	Heat                 int // 0..5, log-scaled allowed count
}

// htmlZone is the per-zone workload view: an adjacency list, one row per
// workload, with connections inside the zone listed by name and connections
// to other zones aggregated per zone.
type htmlZone struct {
	Name      string
	Anchor    string
	Workloads []*htmlWorkload
	Omitted   int
	Over      int
	Broken    int

	byName map[string]*htmlWorkload
	total  int
}

type htmlWorkload struct {
	Name                string
	OutIntra, In        int
	Over, Broken        int
	Cross               []htmlZoneCount
	Edges               []htmlEdge
	EdgesOmitted        int
	EdgesTotal          int
	zone                *htmlZone
	cross               map[*htmlZone]int
	edgeCap, edgesTotal int
}

type htmlZoneCount struct {
	Zone  string
	Count int
}

type htmlEdge struct {
	Dst, Ports, Class string
}

func itoa(n int) string { return strconv.Itoa(n) }

// zoneOf is the namespace of a workload ("ns/name[Kind]"), or the external
// zone for address entities, whose names are comma-separated CIDRs.
func zoneOf(name string) string {
	// Workloads are named ns/name[Kind]; CIDRs never end in "]", and
	// skipping the parse keeps the hot path free of error allocations.
	if strings.HasSuffix(name, "]") {
		ns, _, _ := strings.Cut(name, "/")
		return ns
	}
	first, _, _ := strings.Cut(name, ",")
	if _, err := netip.ParsePrefix(strings.TrimSpace(first)); err == nil {
		return externalZone
	}
	if ns, _, ok := strings.Cut(name, "/"); ok {
		return ns
	}
	return "(cluster)"
}

type pairKey struct{ src, dst string }

type zonePair struct{ src, dst *htmlZone }

// aggregator streams the connections once, counting per zone pair and
// keeping bounded per-workload detail, so memory and output grow with zones
// and caps, not with the number of pairs.
type aggregator struct {
	opts      HTMLOptions
	m         *htmlMatrix
	cells     map[zonePair]*htmlCell
	zones     map[string]*htmlZone
	workloads map[string]*htmlWorkload
	over      map[pairKey]bool
}

func (a *aggregator) cell(s, d *htmlZone) *htmlCell {
	k := zonePair{s, d}
	c := a.cells[k]
	if c == nil {
		c = &htmlCell{Src: s.Name, Dst: d.Name}
		a.cells[k] = c
	}
	return c
}

func (a *aggregator) workload(name string) *htmlWorkload {
	if w := a.workloads[name]; w != nil {
		return w
	}
	zn := zoneOf(name)
	z := a.zones[zn]
	if z == nil {
		z = &htmlZone{Name: zn, byName: map[string]*htmlWorkload{}}
		a.zones[zn] = z
	}
	w := &htmlWorkload{Name: name, zone: z, cross: map[*htmlZone]int{}, edgeCap: a.opts.MaxEdgesPerWorkload}
	z.byName[name] = w
	a.workloads[name] = w
	return w
}

func aggregate(conns func(func(netpol.Connection) bool), diff *reach.Diff, opts HTMLOptions) (*htmlMatrix, []*htmlZone) {
	a := &aggregator{opts: opts, m: &htmlMatrix{HasDiff: diff != nil}, cells: map[zonePair]*htmlCell{},
		zones: map[string]*htmlZone{}, workloads: map[string]*htmlWorkload{}, over: map[pairKey]bool{}}
	for _, n := range opts.Workloads {
		a.workload(n)
	}
	if diff != nil {
		a.addDiff(diff)
	}
	if conns != nil {
		var buf []byte
		var src *htmlWorkload
		conns(func(c netpol.Connection) bool {
			// Each yields a source's row together: look the source up once.
			if src == nil || src.Name != c.Src {
				src = a.workload(c.Src)
			}
			dst := a.workload(c.Dst)
			a.cell(src.zone, dst.zone).Allowed++
			a.m.Allowed++
			dst.In++
			if src.zone == dst.zone {
				src.OutIntra++
			} else {
				src.cross[dst.zone]++
			}
			if src.edgesTotal >= src.edgeCap {
				src.addEdge(htmlEdge{})
				return true
			}
			class := "allowed"
			if diff != nil {
				class = "ok"
				if a.over[pairKey{c.Src, c.Dst}] {
					class = "over"
				}
			}
			buf = AppendPortsText(buf[:0], c.Ports)
			src.addEdge(htmlEdge{Dst: c.Dst, Ports: string(buf), Class: class})
			return true
		})
	}
	return finishMatrix(a.m, a.cells, a.zones), finishZones(a.zones, opts.MaxWorkloadsPerZone)
}

func (a *aggregator) addDiff(diff *reach.Diff) {
	for _, d := range diff.OverPermissive {
		a.over[pairKey{d.Src, d.Dst}] = true
		src := a.workload(d.Src)
		a.cell(src.zone, a.workload(d.Dst).zone).Over++
		src.Over++
		src.zone.Over++
	}
	for _, d := range diff.Broken {
		src := a.workload(d.Src)
		a.cell(src.zone, a.workload(d.Dst).zone).Broken++
		src.Broken++
		src.zone.Broken++
		src.addEdge(htmlEdge{Dst: d.Dst, Ports: string(AppendPortsText(nil, d.Ports)), Class: "broken"})
	}
	a.m.Over, a.m.Broken = len(diff.OverPermissive), len(diff.Broken)
}

// addEdge keeps the first edgeCap edges and counts the rest.
func (w *htmlWorkload) addEdge(e htmlEdge) {
	w.edgesTotal++
	w.EdgesTotal = w.edgesTotal
	if len(w.Edges) < w.edgeCap {
		w.Edges = append(w.Edges, e)
		return
	}
	w.EdgesOmitted++
}

func finishMatrix(m *htmlMatrix, cells map[zonePair]*htmlCell, zones map[string]*htmlZone) *htmlMatrix {
	for z := range zones {
		m.Zones = append(m.Zones, z)
	}
	slices.Sort(m.Zones)
	for _, s := range m.Zones {
		row := htmlRow{Zone: s}
		for _, d := range m.Zones {
			c, ok := cells[zonePair{zones[s], zones[d]}]
			if !ok {
				row.Cells = append(row.Cells, htmlCell{Src: s, Dst: d, Class: "empty"})
				continue
			}
			m.Connections++
			c.Key = s + " => " + d
			c.Intended = max(c.Allowed-c.Over, 0)
			c.Heat = heat(c.Allowed)
			switch {
			case c.Broken > 0 && c.Over > 0:
				c.Class = "mixed"
			case c.Broken > 0:
				c.Class = "broken"
			case c.Over > 0:
				c.Class = "over"
			case m.HasDiff:
				c.Class = "ok"
			default:
				c.Class = "allowed"
			}
			row.Cells = append(row.Cells, *c)
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}

// heat buckets a count on a log scale: 1, 2-4, 5-16, 17-64, 65-256, more.
func heat(n int) int {
	h := 0
	for t := 1; n >= t && h < 5; t *= 4 {
		h++
	}
	return h
}

func finishZones(zones map[string]*htmlZone, limit int) []*htmlZone {
	out := make([]*htmlZone, 0, len(zones))
	for _, z := range zones {
		names := make([]string, 0, len(z.byName))
		for n := range z.byName {
			names = append(names, n)
		}
		slices.Sort(names)
		z.total = len(names)
		for i, n := range names {
			if i == limit {
				z.Omitted = len(names) - i
				break
			}
			w := z.byName[n]
			for cz, count := range w.cross {
				w.Cross = append(w.Cross, htmlZoneCount{Zone: cz.Name, Count: count})
			}
			slices.SortFunc(w.Cross, func(a, b htmlZoneCount) int { return strings.Compare(a.Zone, b.Zone) })
			z.Workloads = append(z.Workloads, w)
		}
		z.Anchor = "zone-" + z.Name
		out = append(out, z)
	}
	slices.SortFunc(out, func(a, b *htmlZone) int { return strings.Compare(a.Name, b.Name) })
	return out
}
