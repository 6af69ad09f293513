package generate_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"

	"github.com/budnet/budnet/internal/generate"
)

// tfModule is a Terraform JSON module decoded with HCL's JSON parser, the
// way Terraform's own loader reads .tf.json: top-level blocks by schema,
// resource bodies as attributes whose expressions HCL parses (templates
// with ${...} references included).
type tfModule struct {
	name      string
	variables map[string]bool
	providers map[string]hcl.Body
	resources map[string]map[string]hcl.Attribute // "type.name" -> attributes
	ranges    map[string]hcl.Range
	blocks    []*hcl.Block
}

func decodeModule(t *testing.T, name string, data []byte) *tfModule {
	t.Helper()
	f, diags := hcljson.Parse(data, name)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", name, diags)
	}
	content, diags := f.Body.Content(terraformRoot)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", name, diags)
	}
	m := &tfModule{name: name, variables: map[string]bool{}, providers: map[string]hcl.Body{},
		resources: map[string]map[string]hcl.Attribute{}, ranges: map[string]hcl.Range{}, blocks: content.Blocks}
	for _, b := range content.Blocks {
		switch b.Type {
		case "variable":
			m.variables[b.Labels[0]] = true
		case "provider":
			m.providers[b.Labels[0]] = b.Body
		case "resource":
			attrs, diags := b.Body.JustAttributes()
			if diags.HasErrors() {
				t.Errorf("%s: resource %v: %v", name, b.Labels, diags)
				continue
			}
			ra := map[string]hcl.Attribute{}
			for k, a := range attrs {
				ra[k] = *a
			}
			m.resources[b.Labels[0]+"."+b.Labels[1]] = ra
			m.ranges[b.Labels[0]+"."+b.Labels[1]] = b.DefRange
		}
	}
	return m
}

// references checks that every reference in every expression (resources,
// outputs, providers) names a declared variable or an existing resource.
func (m *tfModule) references(t *testing.T) int {
	t.Helper()
	n := 0
	check := func(where string, expr hcl.Expression) {
		for _, tr := range expr.Variables() {
			n++
			root := tr.RootName()
			switch root {
			case "var":
				attr, ok := tr[1].(hcl.TraverseAttr)
				if !ok || !m.variables[attr.Name] {
					t.Errorf("%s: %s refers to an undeclared variable", where, tr.SimpleSplit().Abs)
				}
			default:
				if len(tr) < 2 {
					t.Errorf("%s: reference %s", where, root)
					continue
				}
				attr, _ := tr[1].(hcl.TraverseAttr)
				if _, ok := m.resources[root+"."+attr.Name]; !ok {
					t.Errorf("%s: refers to %s.%s, which the module does not declare", where, root, attr.Name)
				}
			}
		}
	}
	for id, attrs := range m.resources {
		for k, a := range attrs {
			check(id+"."+k, a.Expr)
		}
	}
	for _, b := range m.blocks {
		if b.Type != "output" && b.Type != "provider" {
			continue
		}
		attrs, _ := b.Body.JustAttributes()
		for k, a := range attrs {
			check(b.Type+"."+b.Labels[0]+"."+k, a.Expr)
		}
	}
	return n
}

// static evaluates an attribute without variables: literals only.
func static(t *testing.T, where string, a hcl.Attribute) cty.Value {
	t.Helper()
	if len(a.Expr.Variables()) > 0 {
		return cty.UnknownVal(cty.DynamicPseudoType)
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		t.Errorf("%s: %v", where, diags)
		return cty.NilVal
	}
	return v
}

func strs(v cty.Value) []string {
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() {
		return nil
	}
	if v.Type() == cty.String {
		return []string{v.AsString()}
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	return out
}

// azureServiceTags are the tags generate uses as rule sources; Azure
// resolves them to both address families itself.
var azureServiceTags = []string{"Internet", "VirtualNetwork", "*"}

// TestAzureNSGRules decodes the Azure module and checks what Azure checks
// when it applies it: one address family per rule (Azure refuses mixed
// rules: SecurityRuleParameterContainsMixedIPVersions), port ranges Azure
// accepts, protocols Azure knows, priorities unique per NSG within
// 100-4096, every reference resolving, and the provider configured with the
// features block the azurerm provider will not start without.
func TestAzureNSGRules(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := loadModel(t, tc.platform)
			if p.Spec.Cloud.Subnets["app"] == "" {
				p.Spec.Cloud = loadModel(t, "").Spec.Cloud
			}
			files, err := generate.CloudPerimeter(p, generate.Options{Cloud: generate.CloudAzure})
			if err != nil {
				t.Fatal(err)
			}
			m := decodeModule(t, files[0].Name, files[0].Raw)
			checkAzure(t, m)
		})
	}
	// A model whose admin group has both families: the mixed rule of
	// defect 9 must become one rule per family.
	t.Run("dual-stack admin", func(t *testing.T) {
		p := loadModel(t, "")
		if g, ok := p.Group("admin"); !ok || !slices.ContainsFunc(g.CIDRs, func(s string) bool { return strings.Contains(s, ":") }) {
			t.Fatalf("the Bud model's admin group %v is not dual-stack", g)
		}
		files, err := generate.CloudPerimeter(p, generate.Options{Cloud: generate.CloudAzure})
		if err != nil {
			t.Fatal(err)
		}
		m := decodeModule(t, files[0].Name, files[0].Raw)
		checkAzure(t, m)
		var sources []string
		for id, attrs := range m.resources {
			if !strings.HasPrefix(id, "azurerm_network_security_rule.app_apiserver_admin") {
				continue
			}
			for _, k := range []string{"source_address_prefix", "source_address_prefixes"} {
				if a, ok := attrs[k]; ok {
					sources = append(sources, strs(static(t, id, a))...)
				}
			}
		}
		slices.Sort(sources)
		if want := []string{"2001:db8:a::/48", "203.0.113.0/24"}; !slices.Equal(sources, want) {
			t.Errorf("admin 6443 sources %v, want %v", sources, want)
		}
	})
}

func checkAzure(t *testing.T, m *tfModule) {
	t.Helper()
	if prov, ok := m.providers["azurerm"]; !ok {
		t.Error(`no provider "azurerm" block: the provider will not start without features {}`)
	} else {
		pc, diags := prov.Content(&hcl.BodySchema{
			Blocks:     []hcl.BlockHeaderSchema{{Type: "features"}},
			Attributes: []hcl.AttributeSchema{{Name: "subscription_id"}},
		})
		if diags.HasErrors() || len(pc.Blocks) != 1 {
			t.Errorf("provider azurerm: %v, %d features blocks", diags, len(pc.Blocks))
		}
	}
	if n := m.references(t); n == 0 {
		t.Error("no references checked")
	}
	prio := map[string]map[int64]string{}
	rules := 0
	for id, attrs := range m.resources {
		if !strings.HasPrefix(id, "azurerm_network_security_rule.") {
			continue
		}
		rules++
		get := func(k string) cty.Value {
			a, ok := attrs[k]
			if !ok {
				return cty.NilVal
			}
			return static(t, id+"."+k, a)
		}
		var sources []string
		for _, k := range []string{"source_address_prefix", "source_address_prefixes"} {
			sources = append(sources, strs(get(k))...)
		}
		if len(sources) == 0 {
			t.Errorf("%s: no source", id)
		}
		families := map[string]bool{}
		for _, s := range sources {
			if slices.Contains(azureServiceTags, s) {
				continue
			}
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				t.Errorf("%s: source %q is neither a prefix nor a service tag", id, s)
				continue
			}
			families[map[bool]string{true: "IPv4", false: "IPv6"}[pfx.Addr().Is4()]] = true
		}
		if len(families) > 1 {
			t.Errorf("%s: sources %v mix IPv4 and IPv6, which Azure refuses", id, sources)
		}
		for _, k := range []string{"destination_port_range", "source_port_range"} {
			for _, pr := range strs(get(k)) {
				if err := azurePortRange(pr); err != nil {
					t.Errorf("%s.%s: %v", id, k, err)
				}
			}
		}
		if proto := strs(get("protocol")); len(proto) != 1 || !slices.Contains([]string{"Tcp", "Udp", "Icmp", "Esp", "Ah", "*"}, proto[0]) {
			t.Errorf("%s: protocol %v", id, proto)
		}
		if d := strs(get("direction")); len(d) != 1 || (d[0] != "Inbound" && d[0] != "Outbound") {
			t.Errorf("%s: direction %v", id, d)
		}
		if a := strs(get("access")); len(a) != 1 || (a[0] != "Allow" && a[0] != "Deny") {
			t.Errorf("%s: access %v", id, a)
		}
		nsg := fmt.Sprint(attrs["network_security_group_name"].Expr.Variables()[0].SimpleSplit().Rel)
		pv := get("priority")
		if pv == cty.NilVal || pv.Type() != cty.Number {
			t.Errorf("%s: priority %v", id, pv)
			continue
		}
		pn, _ := pv.AsBigFloat().Int64()
		if pn < 100 || pn > 4096 {
			t.Errorf("%s: priority %d outside 100-4096", id, pn)
		}
		if prio[nsg] == nil {
			prio[nsg] = map[int64]string{}
		}
		if other, dup := prio[nsg][pn]; dup {
			t.Errorf("%s and %s share priority %d in one NSG", id, other, pn)
		}
		prio[nsg][pn] = id
	}
	if rules == 0 {
		t.Error("no NSG rules")
	}
}

// azurePortRange is Azure's port syntax: *, a port, or low-high.
func azurePortRange(s string) error {
	if s == "*" {
		return nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 0 || b > 65535 || a > b {
		return fmt.Errorf("port range %q", s)
	}
	return nil
}

// TestAWSModuleReferences: every reference in the AWS module resolves and
// each security group rule names exactly one address family.
func TestAWSModuleReferences(t *testing.T) {
	files, err := generate.CloudPerimeter(loadModel(t, ""), generate.Options{Cloud: generate.CloudAWS})
	if err != nil {
		t.Fatal(err)
	}
	m := decodeModule(t, files[0].Name, files[0].Raw)
	if n := m.references(t); n == 0 {
		t.Error("no references checked")
	}
	for id, attrs := range m.resources {
		if !strings.HasPrefix(id, "aws_vpc_security_group_") {
			continue
		}
		_, v4 := attrs["cidr_ipv4"]
		_, v6 := attrs["cidr_ipv6"]
		if v4 && v6 {
			t.Errorf("%s: both cidr_ipv4 and cidr_ipv6", id)
		}
	}
}
