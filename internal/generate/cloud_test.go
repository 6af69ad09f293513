package generate_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2"
	hcljson "github.com/hashicorp/hcl/v2/json"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/platform"
)

// terraformRoot is the schema of a Terraform module's top level
// (https://developer.hashicorp.com/terraform/language/syntax/json): what
// Terraform's own loader decodes a .tf.json body with.
var terraformRoot = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "terraform"},
	{Type: "variable", LabelNames: []string{"name"}},
	{Type: "resource", LabelNames: []string{"type", "name"}},
	{Type: "output", LabelNames: []string{"name"}},
	{Type: "provider", LabelNames: []string{"name"}},
	{Type: "locals"},
}}

// parseTerraform parses Terraform JSON with HCL's JSON parser and decodes
// the top level with Terraform's root schema, returning the resources as
// "type.name".
func parseTerraform(t *testing.T, name string, data []byte) []string {
	t.Helper()
	f, diags := hcljson.Parse(data, name)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", name, diags)
	}
	content, diags := f.Body.Content(terraformRoot)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", name, diags)
	}
	var out []string
	for _, b := range content.Blocks {
		if b.Type == "resource" {
			if _, diags := b.Body.JustAttributes(); diags.HasErrors() {
				t.Errorf("%s: resource %v: %v", name, b.Labels, diags)
			}
			out = append(out, b.Labels[0]+"."+b.Labels[1])
		}
	}
	return out
}

type tfDoc struct {
	Resource map[string]map[string]map[string]any `json:"resource"`
}

func TestCloudPerimeter(t *testing.T) {
	admin := []string{"203.0.113.0/24", "2001:db8:a::/48"}
	tests := []struct {
		name  string
		cloud generate.Cloud
		file  string
		ddos  string
	}{
		{name: "aws", cloud: generate.CloudAWS, file: generate.FileCloudAWS, ddos: "aws_shield_protection.lb"},
		{name: "azure", cloud: generate.CloudAzure, file: generate.FileCloudAzure, ddos: "azurerm_network_ddos_protection_plan.bud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := generate.CloudPerimeter(loadModel(t, ""), generate.Options{Cloud: tt.cloud})
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 1 || files[0].Name != tt.file {
				t.Fatalf("files %v", files)
			}
			resources := parseTerraform(t, tt.file, files[0].Raw)
			if !slices.Contains(resources, tt.ddos) {
				t.Errorf("no %s among %v", tt.ddos, resources)
			}
			var doc tfDoc
			if err := json.Unmarshal(files[0].Raw, &doc); err != nil {
				t.Fatal(err)
			}
			got := sourcesOfPort(doc, 6443)
			if !slices.Equal(got, admin) {
				t.Errorf("6443 open to %v, want exactly the admin CIDRs %v", got, admin)
			}
			if got := sourcesOfPort(doc, 9090); !slices.Equal(got, []string{"198.51.100.0/24"}) {
				t.Errorf("9090 open to %v, want the monitoring CIDRs", got)
			}
		})
	}
}

// sourcesOfPort lists the sources of every inbound rule that opens port
// outside the data tier (whose only source is the app subnet, checked
// apart): CIDR sources, or "ALL via NAME" for an all-traffic rule that is not
// the nodes' reference to themselves.
func sourcesOfPort(doc tfDoc, port int) []string {
	var out []string
	for name, r := range doc.Resource["aws_vpc_security_group_ingress_rule"] {
		if r["security_group_id"] == "${aws_security_group.data.id}" {
			continue
		}
		from, _ := r["from_port"].(float64)
		to, _ := r["to_port"].(float64)
		ref, _ := r["referenced_security_group_id"].(string)
		switch {
		case r["ip_protocol"] == "-1" && ref != r["security_group_id"]:
			out = append(out, "ALL via "+name)
		case ref != "" || int(from) > port || port > int(to):
		default:
			for _, k := range []string{"cidr_ipv4", "cidr_ipv6"} {
				if s, ok := r[k].(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	for _, r := range doc.Resource["azurerm_network_security_rule"] {
		if r["network_security_group_name"] == "${azurerm_network_security_group.data.name}" || r["access"] != "Allow" {
			continue
		}
		if pr := r["destination_port_range"]; pr != fmt.Sprint(port) && pr != "*" {
			continue
		}
		if s, ok := r["source_address_prefix"].(string); ok {
			out = append(out, s)
		}
		for _, s := range asAny(r["source_address_prefixes"]) {
			out = append(out, s.(string))
		}
	}
	slices.SortFunc(out, cmpCIDR)
	return out
}

func cmpCIDR(a, b string) int {
	// IPv4 before IPv6, then lexical: matches the model's order here.
	v6a, v6b := len(a) > 0 && slices.Contains([]byte(a), ':'), len(b) > 0 && slices.Contains([]byte(b), ':')
	switch {
	case v6a != v6b && v6a:
		return 1
	case v6a != v6b:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func asAny(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestCloudNone: no provider in options or model, no file; a missing app
// subnet is an input error.
func TestCloudNone(t *testing.T) {
	p := loadModel(t, "")
	p.Spec.Cloud = platform.Cloud{}
	files, err := generate.CloudPerimeter(p, generate.Options{})
	if err != nil || len(files) != 0 {
		t.Errorf("got %v, %v; want nothing", files, err)
	}
	if _, err := generate.CloudPerimeter(p, generate.Options{Cloud: generate.CloudAWS}); err == nil {
		t.Error("no subnets accepted")
	}
}
