package report

import (
	"strings"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// SourceLine is a file and line a SARIF result can point at.
type SourceLine struct {
	File string
	Line int
}

// Locator finds where the objects a finding names are written: in the input
// files first, then in the platform model, then the first input file. GitHub
// code scanning rejects a whole upload when one result has no physical
// location (github/codeql-action#1738), and findings about connections or
// namespaces carry only logical names.
type Locator struct {
	objects map[string]SourceLine // "ns/name[Kind]" and "name[Kind]"
	inNS    map[string]SourceLine // the first object of each namespace
	models  map[string]SourceLine // model workload and zone names
	model   SourceLine            // the model document itself
	first   SourceLine            // the first input file read
}

// NewLocator indexes inv and p (either may be nil).
func NewLocator(inv *manifest.Inventory, p *platform.Platform) *Locator {
	l := &Locator{objects: map[string]SourceLine{}, inNS: map[string]SourceLine{}, models: map[string]SourceLine{}}
	if inv != nil {
		for _, o := range inv.Objects {
			src := SourceLine{File: o.Source.File, Line: max(o.Source.Line, 1)}
			if o.Source.Template != "" {
				src.Line = 1 // the rendered line is not the template's
			}
			if _, seen := l.objects[o.Ref()]; !seen {
				l.objects[o.Ref()] = src
			}
			if _, seen := l.inNS[o.Namespace]; !seen && o.Namespace != "" && linkable(src.File) {
				l.inNS[o.Namespace] = src
			}
			if l.first.File == "" && linkable(src.File) {
				l.first = SourceLine{File: src.File, Line: 1}
			}
		}
	}
	if p != nil {
		l.model = SourceLine{File: p.Source.File, Line: max(p.Source.Line, 1)}
		for _, z := range p.Spec.Zones {
			l.models["zone:"+z.Name] = SourceLine{File: z.Source.File, Line: max(z.Source.Line, 1)}
		}
		for _, w := range p.Spec.Workloads {
			l.models["workload:"+w.Name] = SourceLine{File: w.Source.File, Line: max(w.Source.Line, 1)}
		}
	}
	return l
}

// locate returns where a finding with these names is written, trying each
// name in turn against the inputs, then the model, then the first input.
func (l *Locator) locate(names []string) (SourceLine, bool) {
	if l == nil {
		return SourceLine{}, false
	}
	for _, n := range names {
		if s, ok := l.objects[n]; ok && linkable(s.File) {
			return s, true
		}
	}
	for _, n := range names {
		ns, name, kind := splitRef(n)
		if kind == "Namespace" || (kind == "" && ns == "" && name != "") {
			if s, ok := l.objects[name+"[Namespace]"]; ok && linkable(s.File) {
				return s, true
			}
			if s, ok := l.models["zone:"+name]; ok && linkable(s.File) {
				return s, true
			}
			if s, ok := l.inNS[name]; ok {
				return s, true // a namespace no file declares: where its objects start
			}
		}
		if s, ok := l.models["workload:"+name]; ok && name != "" && linkable(s.File) {
			return s, true
		}
		if ns != "" {
			if s, ok := l.objects[ns+"[Namespace]"]; ok && linkable(s.File) {
				return s, true
			}
			if s, ok := l.inNS[ns]; ok {
				return s, true
			}
		}
	}
	if linkable(l.model.File) {
		return l.model, true
	}
	if l.first.File != "" {
		return l.first, true
	}
	return SourceLine{}, false
}

// splitRef reads "ns/name[Kind]", "name[Kind]" or "ns/name".
func splitRef(ref string) (ns, name, kind string) {
	ref = strings.TrimSpace(ref)
	if i := strings.IndexByte(ref, '['); i >= 0 && strings.HasSuffix(ref, "]") {
		ref, kind = ref[:i], ref[i+1:len(ref)-1]
	}
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		return ref[:i], ref[i+1:], kind
	}
	return "", ref, kind
}

// findingNames lists the object names a finding mentions, most specific
// first: evidence objects, the destination then the source of evidence
// connections, then the subject read the same way.
func findingNames(subject string, ev []audit.Evidence) []string {
	var out []string
	add := func(conn string) {
		if conn == "" {
			return
		}
		conn, _, _ = strings.Cut(conn, " : ")
		if src, dst, ok := strings.Cut(conn, " => "); ok {
			out = append(out, strings.TrimSpace(dst), strings.TrimSpace(src))
			return
		}
		out = append(out, strings.TrimSpace(conn))
	}
	for _, e := range ev {
		if e.Object != "" {
			out = append(out, e.Object)
		}
		add(e.Connection)
	}
	add(subject)
	return out
}
