package platform

import (
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/yamlsrc"
)

// maxFileSize bounds what Load reads: a platform file is a few hundred lines,
// and a multi-megabyte input is a mistake (or an attack on the parser).
const maxFileSize = 8 << 20

// Load reads, decodes, defaults and validates the platform file at path.
// Every problem with the file is an *diag.InputError naming file, line and
// field; validation problems are all returned at once, joined.
func Load(path string) (*Platform, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, &diag.InputError{File: path, Msg: "cannot read platform file", Err: unwrapPath(err)}
	}
	if info.IsDir() {
		return nil, diag.Errorf(path, 0, "", "is a directory, expected a platform YAML file")
	}
	if info.Size() > maxFileSize {
		return nil, diag.Errorf(path, 0, "", "file is %d bytes, larger than the %d bytes a platform file may have", info.Size(), maxFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &diag.InputError{File: path, Msg: "cannot read platform file", Err: unwrapPath(err)}
	}
	return Parse(path, data)
}

// unwrapPath drops the *fs.PathError wrapper, whose text repeats the path
// the InputError already names.
func unwrapPath(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}
	return err
}

// Parse decodes data (the contents of file) as a platform: exactly one YAML
// document, strictly decoded, then defaulted and validated.
func Parse(file string, data []byte) (*Platform, error) {
	p, err := decode(file, data)
	if err != nil {
		return nil, err
	}
	p.Default()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// decode parses and strictly decodes data without defaulting or validating.
func decode(file string, data []byte) (*Platform, error) {
	docs, err := yamlsrc.Parse(file, data)
	if err != nil {
		return nil, err
	}
	switch {
	case len(docs) == 0:
		return nil, diag.Errorf(file, 1, "", "file is empty, expected a document with apiVersion %s and kind %s", APIVersion, Kind)
	case len(docs) > 1:
		return nil, diag.Errorf(file, docs[1].Line, "", "file holds %d YAML documents, a platform file holds exactly one", len(docs))
	}
	root := docs[0].Root
	if err := checkHeader(file, root); err != nil {
		return nil, err
	}
	var p Platform
	if err := yamlsrc.Decode(file, root, &p, yamlsrc.DecodeOptions{Strict: true}); err != nil {
		return nil, err
	}
	p.node = root
	p.Source = Source{File: file, Line: root.Line}
	p.fillSources()
	return &p, nil
}

// checkHeader looks at apiVersion and kind before the strict decode, so a
// file of another kind (a Deployment, say) gets one clear error instead of a
// complaint about its first unknown field.
func checkHeader(file string, root *yaml.Node) error {
	if root.Kind != yaml.MappingNode {
		return diag.Errorf(file, root.Line, "", "expected a mapping with apiVersion %s and kind %s", APIVersion, Kind)
	}
	for _, f := range []struct{ key, want string }{{"apiVersion", APIVersion}, {"kind", Kind}} {
		v := scalarValue(root, f.key)
		if v == nil {
			return diag.Errorf(file, root.Line, f.key, "missing, expected %q", f.want)
		}
		if v.Value != f.want {
			return diag.Errorf(file, v.Line, f.key, "is %q, expected %q", v.Value, f.want)
		}
	}
	return nil
}

func scalarValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// fillSources records the line of every zone, workload and flow, so that
// later commands can point at the model element behind their findings.
func (p *Platform) fillSources() {
	src := func(path string) Source { return Source{File: p.Source.File, Line: p.line(path)} }
	for i := range p.Spec.Zones {
		p.Spec.Zones[i].Source = src(fmt.Sprintf("spec.zones[%d]", i))
	}
	for i := range p.Spec.Workloads {
		p.Spec.Workloads[i].Source = src(fmt.Sprintf("spec.workloads[%d]", i))
	}
	for i := range p.Spec.Flows.Internal {
		p.Spec.Flows.Internal[i].Source = src(fmt.Sprintf("spec.flows.internal[%d]", i))
	}
	for i := range p.Spec.Flows.Ingress {
		p.Spec.Flows.Ingress[i].Source = src(fmt.Sprintf("spec.flows.ingress[%d]", i))
	}
	for i := range p.Spec.Flows.Egress {
		p.Spec.Flows.Egress[i].Source = src(fmt.Sprintf("spec.flows.egress[%d]", i))
	}
}

// line returns the line of the field at path, or of its nearest existing
// ancestor; 0 for models built in code.
func (p *Platform) line(path string) int {
	if p.node == nil {
		return 0
	}
	return yamlsrc.LineOf(p.node, path)
}

// Problems flattens err (as returned by Load, Parse or Validate) into its
// individual problems, in order, so a command can print one per line.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	return []error{err}
}
