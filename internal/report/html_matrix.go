package report

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"budnet/internal/netpol"
	"budnet/internal/reach"
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
	cross               map[string]int
	crossOrder          []string
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

// aggregate streams the connections once, counting per zone pair and keeping
// bounded per-workload detail, so memory and output grow with zones and caps,
// not with the number of pairs.
func aggregate(conns func(func(netpol.Connection) bool), diff *reach.Diff, opts HTMLOptions) (*htmlMatrix, []*htmlZone) {
	m := &htmlMatrix{HasDiff: diff != nil}
	cells := map[pairKey]*htmlCell{}
	zones := map[string]*htmlZone{}
	cell := func(s, d string) *htmlCell {
		k := pairKey{s, d}
		c := cells[k]
		if c == nil {
			c = &htmlCell{Src: s, Dst: d}
			cells[k] = c
		}
		return c
	}
	wl := func(name string) *htmlWorkload {
		z := zones[zoneOf(name)]
		if z == nil {
			z = &htmlZone{Name: zoneOf(name), byName: map[string]*htmlWorkload{}}
			zones[z.Name] = z
		}
		w := z.byName[name]
		if w == nil {
			w = &htmlWorkload{Name: name, cross: map[string]int{}, edgeCap: opts.MaxEdgesPerWorkload}
			z.byName[name] = w
		}
		return w
	}
	for _, n := range opts.Workloads {
		wl(n)
	}
	over := map[pairKey]bool{}
	if diff != nil {
		for _, d := range diff.OverPermissive {
			over[pairKey{d.Src, d.Dst}] = true
			cell(zoneOf(d.Src), zoneOf(d.Dst)).Over++
			wl(d.Src).Over++
			zones[zoneOf(d.Src)].Over++
		}
		for _, d := range diff.Broken {
			cell(zoneOf(d.Src), zoneOf(d.Dst)).Broken++
			w := wl(d.Src)
			w.Broken++
			zones[zoneOf(d.Src)].Broken++
			w.addEdge(htmlEdge{Dst: d.Dst, Ports: string(AppendPortsText(nil, d.Ports)), Class: "broken"})
		}
		m.Over, m.Broken = len(diff.OverPermissive), len(diff.Broken)
	}
	if conns != nil {
		var buf []byte
		conns(func(c netpol.Connection) bool {
			sz, dz := zoneOf(c.Src), zoneOf(c.Dst)
			cell(sz, dz).Allowed++
			m.Allowed++
			src, dst := wl(c.Src), wl(c.Dst)
			dst.In++
			if sz == dz {
				src.OutIntra++
			} else {
				if src.cross[dz] == 0 {
					src.crossOrder = append(src.crossOrder, dz)
				}
				src.cross[dz]++
			}
			class := "allowed"
			if diff != nil {
				class = "ok"
				if over[pairKey{c.Src, c.Dst}] {
					class = "over"
				}
			}
			// Port text is rendered only for edges that are kept.
			if src.edgesTotal < src.edgeCap {
				buf = AppendPortsText(buf[:0], c.Ports)
				src.addEdge(htmlEdge{Dst: c.Dst, Ports: string(buf), Class: class})
			} else {
				src.addEdge(htmlEdge{})
			}
			return true
		})
	}
	return finishMatrix(m, cells, zones), finishZones(zones, opts.MaxWorkloadsPerZone)
}

// addEdge keeps the first edgeCap edges and counts the rest.
func (w *htmlWorkload) addEdge(e htmlEdge) {
	w.edgesTotal++
	if len(w.Edges) < w.edgeCap {
		w.Edges = append(w.Edges, e)
		return
	}
	w.EdgesOmitted++
}

func finishMatrix(m *htmlMatrix, cells map[pairKey]*htmlCell, zones map[string]*htmlZone) *htmlMatrix {
	for z := range zones {
		m.Zones = append(m.Zones, z)
	}
	for k := range cells {
		if zones[k.src] == nil {
			m.Zones = append(m.Zones, k.src)
			zones[k.src] = &htmlZone{Name: k.src, byName: map[string]*htmlWorkload{}}
		}
	}
	slices.Sort(m.Zones)
	m.Zones = slices.Compact(m.Zones)
	for _, s := range m.Zones {
		row := htmlRow{Zone: s}
		for _, d := range m.Zones {
			c, ok := cells[pairKey{s, d}]
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
			slices.Sort(w.crossOrder)
			for _, cz := range w.crossOrder {
				w.Cross = append(w.Cross, htmlZoneCount{Zone: cz, Count: w.cross[cz]})
			}
			z.Workloads = append(z.Workloads, w)
		}
		z.Anchor = "zone-" + z.Name
		out = append(out, z)
	}
	slices.SortFunc(out, func(a, b *htmlZone) int { return strings.Compare(a.Name, b.Name) })
	return out
}
