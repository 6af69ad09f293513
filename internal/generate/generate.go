package generate

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/platform"
)

// FileKustomization lists the generated manifests for `kubectl apply -k`.
const FileKustomization = "kustomization.yaml"

// concerns are the generators Generate runs. Each owns its files' names; the
// order here does not matter, since files are sorted by name.
func concerns() []Concern {
	return []Concern{
		Namespaces,
		NetworkPolicies,
		Mesh,
		Certs,
		Edge,
		Alerts,
		Clusters,
		CloudPerimeter,
	}
}

// Generate runs every concern on a validated model and returns their files
// sorted by name, followed by kustomization.yaml listing the manifests. The
// output depends only on the model and the options: two runs give the same
// bytes. A model generate cannot implement fails with a *diag.InputError
// naming the model file, line and field.
func Generate(p *platform.Platform, o Options) ([]File, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, err
	}
	if err := check(p); err != nil {
		return nil, err
	}
	var files []File
	for _, c := range concerns() {
		fs, err := c(p, o)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(files); i++ {
		if files[i].Name == files[i-1].Name {
			return nil, fmt.Errorf("two concerns write %s", files[i].Name)
		}
	}
	for _, f := range files {
		if f.Name == FileKustomization {
			return nil, fmt.Errorf("a concern writes %s, which generate writes itself", f.Name)
		}
	}
	return append(files, kustomization(p, files)), nil
}

// normalized applies the default CNI and checks the option values.
func (o Options) normalized() (Options, error) {
	if o.CNI == "" {
		o.CNI = CNIKubernetes
	}
	if o.CNI != CNIKubernetes && o.CNI != CNICilium {
		return o, fmt.Errorf("unknown CNI %q, expected kubernetes or cilium", o.CNI)
	}
	switch o.Edge {
	case "", platform.EdgeGatewayAPI, platform.EdgeTraefik, platform.EdgeNginx:
	default:
		return o, fmt.Errorf("unknown edge %q, expected gateway-api, traefik or nginx", o.Edge)
	}
	switch o.Cloud {
	case CloudNone, CloudAWS, CloudAzure:
	default:
		return o, fmt.Errorf("unknown cloud %q, expected aws or azure", o.Cloud)
	}
	if o.CiliumVersion == "" {
		o.CiliumVersion = DefaultCiliumVersion
	}
	if _, err := ciliumMinor(o.CiliumVersion); err != nil {
		return o, err
	}
	return o, nil
}

// check finds what Validate lets through but generate cannot implement: a
// flow that selects no workload on a side, or a named port a destination
// lacks (both possible in models built in code, which skip Validate).
func check(p *platform.Platform) error {
	var errs []error
	bad := func(src platform.Source, field, format string, args ...any) {
		errs = append(errs, diag.Errorf(orFile(src.File, p.Source.File), src.Line, field, format, args...))
	}
	sel := func(src platform.Source, field string, s platform.Selector) []*platform.Workload {
		ws := p.Select(s)
		if len(ws) == 0 {
			bad(src, field, "selects no workload (%s): generate would emit a policy for nothing", s)
		}
		return ws
	}
	ports := func(src platform.Source, field string, pts []platform.Port, dst []*platform.Workload) {
		for j, pt := range pts {
			if pt.Name == "" {
				continue
			}
			for _, w := range dst {
				if _, ok := w.Port(pt.Name); !ok {
					bad(src, fmt.Sprintf("%s[%d].name", field, j), "workload %s has no port named %q", w.Name, pt.Name)
				}
			}
		}
	}
	for i, f := range p.Spec.Flows.Internal {
		path := fmt.Sprintf("spec.flows.internal[%d]", i)
		sel(f.Source, path+".from", f.From)
		ports(f.Source, path+".ports", f.Ports, sel(f.Source, path+".to", f.To))
	}
	for i, f := range p.Spec.Flows.Ingress {
		path := fmt.Sprintf("spec.flows.ingress[%d]", i)
		ports(f.Source, path+".ports", f.Ports, sel(f.Source, path+".to", f.To))
	}
	for i, f := range p.Spec.Flows.Egress {
		path := fmt.Sprintf("spec.flows.egress[%d]", i)
		sel(f.Source, path+".from", f.From)
		ports(f.Source, path+".ports", f.Ports, nil)
		for j, pt := range f.Ports {
			if pt.Name != "" {
				bad(f.Source, fmt.Sprintf("%s.ports[%d].name", path, j), "named port %q cannot be resolved outside the cluster", pt.Name)
			}
		}
	}
	return diag.Join(errs...)
}

func orFile(file, def string) string {
	if file != "" {
		return file
	}
	return def
}

// kustomization lists the YAML manifests (not raw files such as Terraform)
// for `kubectl apply -k`. It is written raw so that it is not itself one of
// the objects applied; metadata.name lets manifest readers load it.
func kustomization(p *platform.Platform, files []File) File {
	var b bytes.Buffer
	b.WriteString(header("kustomize entry point for the platform model " + p.Metadata.Name))
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata:\n  name: budnet\nresources:\n")
	for _, f := range files {
		if len(f.Objects) > 0 {
			fmt.Fprintf(&b, "  - %s\n", f.Name)
		}
	}
	return File{Name: FileKustomization, Concern: "kustomize entry point listing the manifests", Raw: b.Bytes()}
}

// header is the comment at the top of every generated YAML file; WriteDir
// recognises files it may replace by it.
func header(concern string) string {
	return fmt.Sprintf("%s: %s. Regenerate instead of editing.\n", headerPrefix, concern)
}

const headerPrefix = "# Generated by budnet generate"

// Render returns the file's bytes: its objects as a multi-document YAML
// stream (keys sorted, so the output is stable), or Raw.
func (f File) Render() ([]byte, error) {
	if len(f.Objects) == 0 {
		return f.Raw, nil
	}
	var b bytes.Buffer
	b.WriteString(header(f.Concern))
	for i, u := range f.Objects {
		if i > 0 {
			b.WriteString("---\n")
		}
		data, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, fmt.Errorf("rendering %s %s/%s in %s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), f.Name, err)
		}
		b.Write(data)
	}
	return b.Bytes(), nil
}

// ErrNotEmpty is returned by WriteDir for a directory that holds files
// budnet did not generate, or any files without force.
var ErrNotEmpty = errors.New("output directory is not empty")
