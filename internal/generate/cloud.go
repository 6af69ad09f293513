package generate

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/platform"
)

// Cloud perimeter files: Terraform JSON configuration
// (https://developer.hashicorp.com/terraform/language/syntax/json), one
// module directory per provider.
const (
	FileCloudAWS   = "cloud/aws/budnet.tf.json"
	FileCloudAzure = "cloud/azure/budnet.tf.json"
	monitoringCIDR = "monitoring"
	portAPIServer  = 6443
	portPrometheus = 9090
)

// CloudPerimeter implements guide 4.1 and 11.3 at the cloud edge (--cloud
// or spec.cloud.provider): 443 and 80 from anywhere to the load balancer,
// 6443 only from the admin group, 9090 only from the monitoring group, the
// data subnet reachable only from the app subnet, and optionally DDoS
// protection. The files are Terraform JSON, written raw and not listed in
// kustomization.yaml.
func CloudPerimeter(p *platform.Platform, o Options) ([]File, error) {
	provider := o.Cloud
	if provider == CloudNone {
		provider = Cloud(p.Spec.Cloud.Provider)
	}
	if provider == CloudNone {
		return nil, nil
	}
	in, err := cloudInputs(p)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	name := FileCloudAWS
	switch provider {
	case CloudAWS:
		doc = awsPerimeter(in)
	case CloudAzure:
		doc, name = azurePerimeter(in), FileCloudAzure
	default:
		return nil, fmt.Errorf("unknown cloud %q, expected aws or azure", provider)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	return []File{{Name: name, Concern: fmt.Sprintf("%s perimeter firewall rules (Terraform JSON, guide 4.1, 11.3)", provider),
		Raw: append(data, '\n')}}, nil
}

// cloudInputs are the address ranges the rules use.
type cloudIn struct {
	name              string
	app, data         string
	appPrefix         netip.Prefix
	admin, monitoring []netip.Prefix
	ddos              bool
}

func cloudInputs(p *platform.Platform) (cloudIn, error) {
	c := p.Spec.Cloud
	in := cloudIn{name: sanitize(p.Metadata.Name), app: c.Subnets["app"], data: c.Subnets["data"], ddos: c.DDoSProtection}
	for _, tier := range []string{"app", "data"} {
		if c.Subnets[tier] == "" {
			return in, &diag.InputError{File: p.Source.File, Field: "spec.cloud.subnets." + tier,
				Msg: "missing, expected the " + tier + " subnet's CIDR for the cloud perimeter rules"}
		}
	}
	var err error
	if in.appPrefix, err = netip.ParsePrefix(in.app); err != nil {
		return in, &diag.InputError{File: p.Source.File, Field: "spec.cloud.subnets.app", Msg: fmt.Sprintf("%q is not a CIDR", in.app)}
	}
	in.appPrefix = in.appPrefix.Masked()
	in.app = in.appPrefix.String()
	if in.admin, err = groupPrefixes(p, adminGroup); err != nil {
		return in, err
	}
	if in.monitoring, err = groupPrefixes(p, monitoringCIDR); err != nil {
		return in, err
	}
	return in, nil
}

// groupPrefixes are a source group's CIDRs; a missing group yields none,
// so its port stays closed.
func groupPrefixes(p *platform.Platform, name string) ([]netip.Prefix, error) {
	g, ok := p.Group(name)
	if !ok {
		return nil, nil
	}
	var out []netip.Prefix
	for _, s := range g.CIDRs {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, &diag.InputError{File: p.Source.File, Field: "spec.sourceGroups", Msg: fmt.Sprintf("group %s: %q is not a CIDR", name, s)}
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}

// tfID makes a Terraform resource name: letters, digits and underscores.
func tfID(parts ...string) string {
	return strings.ReplaceAll(objectName(parts...), "-", "_")
}

// awsPerimeter uses one aws_vpc_security_group_ingress_rule or _egress_rule
// resource per rule, as the AWS provider recommends over inline blocks
// (https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/security_group),
// plus a network ACL that makes the data subnet reachable only from the app
// subnet whatever security groups its instances get.
func awsPerimeter(in cloudIn) map[string]any {
	sg := map[string]any{}
	ingress := map[string]any{}
	egress := map[string]any{}
	group := func(id, desc string) string {
		sg[id] = map[string]any{"name": in.name + "-" + strings.ReplaceAll(id, "_", "-"), "description": desc,
			"vpc_id": "${var.vpc_id}", "tags": map[string]any{"managed-by": ManagedBy}}
		return "${aws_security_group." + id + ".id}"
	}
	lb, app, data := group("lb", "Load balancer: HTTPS and HTTP from anywhere"),
		group("app", "Cluster nodes: API server from admins, Prometheus from monitoring"),
		group("data", "Data tier: reachable only from the app subnet")
	cidrRule := func(m map[string]any, id, sgRef string, pfx netip.Prefix, from, to int, desc string) {
		r := map[string]any{"security_group_id": sgRef, "ip_protocol": "tcp", "from_port": from, "to_port": to, "description": desc}
		if pfx.Addr().Is4() {
			r["cidr_ipv4"] = pfx.String()
		} else {
			r["cidr_ipv6"] = pfx.String()
		}
		m[tfID(id, pfx.String())] = r
	}
	for _, any4 := range []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")} {
		cidrRule(ingress, "lb-https", lb, any4, 443, 443, "HTTPS from anywhere (guide 4.1)")
		cidrRule(ingress, "lb-http", lb, any4, 80, 80, "HTTP from anywhere, redirected to HTTPS (guide 4.1)")
	}
	for _, pfx := range in.admin {
		cidrRule(ingress, "app-apiserver-admin", app, pfx, portAPIServer, portAPIServer, "Kubernetes API from admin addresses only (guide 4.1, 11.3)")
	}
	for _, pfx := range in.monitoring {
		cidrRule(ingress, "app-prometheus-monitoring", app, pfx, portPrometheus, portPrometheus, "Prometheus federation from the monitoring system (guide 4.1)")
	}
	ingress["app_from_lb"] = map[string]any{"security_group_id": app, "referenced_security_group_id": lb,
		"ip_protocol": "tcp", "from_port": 0, "to_port": 65535, "description": "Load balancer to the ingress controller"}
	ingress["app_from_app"] = map[string]any{"security_group_id": app, "referenced_security_group_id": app,
		"ip_protocol": "-1", "description": "Nodes to nodes (pod network, kubelet)"}
	app4 := in.appPrefix
	cidrRule(egress, "lb-to-app", lb, app4, 0, 65535, "Load balancer to the app subnet only")
	egress["app_all"] = map[string]any{"security_group_id": app, "ip_protocol": "-1", "cidr_ipv4": "0.0.0.0/0",
		"description": "Nodes to anywhere: external hosts are narrowed in the cluster (egress gateway, FQDN policy)"}
	cidrRule(ingress, "data-from-app", data, app4, 0, 65535, "Data tier from the app subnet only (guide 3)")
	cidrRule(egress, "data-to-app", data, app4, 0, 65535, "Data tier answers the app subnet only")

	resources := map[string]any{
		"aws_security_group":                  sg,
		"aws_vpc_security_group_ingress_rule": ingress,
		"aws_vpc_security_group_egress_rule":  egress,
		"aws_network_acl": map[string]any{"data": map[string]any{
			"vpc_id": "${var.vpc_id}", "subnet_ids": "${var.data_subnet_ids}", "tags": map[string]any{"managed-by": ManagedBy}}},
		"aws_network_acl_rule": map[string]any{
			"data_in_from_app": naclRule(100, false, in.app),
			"data_out_to_app":  naclRule(100, true, in.app),
		},
	}
	variables := map[string]any{
		"vpc_id":          map[string]any{"type": "string", "description": "VPC of the platform (" + in.app + " and " + in.data + " inside it)"},
		"data_subnet_ids": map[string]any{"type": "list(string)", "description": "Subnets of the data tier (" + in.data + ")"},
	}
	if in.ddos {
		variables["load_balancer_arn"] = map[string]any{"type": "string", "description": "ARN of the load balancer in front of the ingress controller"}
		resources["aws_shield_protection"] = map[string]any{"lb": map[string]any{
			"name": in.name + "-lb", "resource_arn": "${var.load_balancer_arn}", "tags": map[string]any{"managed-by": ManagedBy}}}
	}
	return map[string]any{
		"//":        "Generated by budnet generate. Shield Advanced protection needs an active Shield Advanced subscription on the account.",
		"terraform": map[string]any{"required_providers": map[string]any{"aws": map[string]any{"source": "hashicorp/aws", "version": ">= 5.0"}}},
		"variable":  variables,
		"resource":  resources,
	}
}

// naclRule allows TCP between the data subnet and the app subnet. Network
// ACLs are stateless, so both directions are listed; everything else meets
// the ACL's final deny.
func naclRule(number int, egress bool, cidr string) map[string]any {
	return map[string]any{"network_acl_id": "${aws_network_acl.data.id}", "rule_number": number, "egress": egress,
		"protocol": "tcp", "rule_action": "allow", "cidr_block": cidr, "from_port": 0, "to_port": 65535}
}

// azurePerimeter uses azurerm_network_security_rule resources. Azure's
// default rules allow all traffic inside the virtual network, so the data
// NSG denies VirtualNetwork explicitly below its app-subnet allow.
func azurePerimeter(in cloudIn) map[string]any {
	nsgs := map[string]any{}
	rules := map[string]any{}
	nsg := func(id string) string {
		nsgs[id] = map[string]any{"name": in.name + "-" + id, "location": "${var.location}",
			"resource_group_name": "${var.resource_group_name}", "tags": map[string]any{"managed-by": ManagedBy}}
		return "${azurerm_network_security_group." + id + ".name}"
	}
	lb, app, data := nsg("lb"), nsg("app"), nsg("data")
	prio := map[string]int{}
	add := func(id, group, access string, sources []string, port string) {
		prio[group] += 10
		r := map[string]any{"name": strings.ReplaceAll(id, "_", "-"), "priority": 90 + prio[group], "direction": "Inbound", "access": access,
			"protocol": "Tcp", "source_port_range": "*", "destination_port_range": port, "destination_address_prefix": "*",
			"resource_group_name": "${var.resource_group_name}", "network_security_group_name": group}
		if access == "Deny" {
			r["priority"] = 4000
			r["protocol"] = "*"
		}
		if len(sources) == 1 {
			r["source_address_prefix"] = sources[0]
		} else {
			r["source_address_prefixes"] = toAny(sources)
		}
		rules[id] = r
	}
	add("lb_https", lb, "Allow", []string{"Internet"}, "443")
	add("lb_http", lb, "Allow", []string{"Internet"}, "80")
	// Azure refuses a rule whose prefixes mix IPv4 and IPv6
	// (terraform-provider-azurerm#12534: "SecurityRuleParameterContainsMixedIPVersions"),
	// so a group with both families becomes one rule per family.
	for _, r := range []struct {
		id   string
		pfxs []netip.Prefix
		port int
	}{
		{"app_apiserver_admin", in.admin, portAPIServer},
		{"app_prometheus_monitoring", in.monitoring, portPrometheus},
	} {
		v4, v6 := splitFamilies(r.pfxs)
		switch {
		case len(v4) > 0 && len(v6) > 0:
			add(r.id+"_ipv4", app, "Allow", prefixStrings(v4), fmt.Sprint(r.port))
			add(r.id+"_ipv6", app, "Allow", prefixStrings(v6), fmt.Sprint(r.port))
		case len(r.pfxs) > 0:
			add(r.id, app, "Allow", prefixStrings(r.pfxs), fmt.Sprint(r.port))
		}
	}
	add("data_from_app", data, "Allow", []string{in.app}, "*")
	add("data_deny_vnet", data, "Deny", []string{"VirtualNetwork"}, "*")
	resources := map[string]any{
		"azurerm_network_security_group": nsgs,
		"azurerm_network_security_rule":  rules,
		"azurerm_subnet_network_security_group_association": map[string]any{
			"public": map[string]any{"subnet_id": "${var.public_subnet_id}", "network_security_group_id": "${azurerm_network_security_group.lb.id}"},
			"app":    map[string]any{"subnet_id": "${var.app_subnet_id}", "network_security_group_id": "${azurerm_network_security_group.app.id}"},
			"data":   map[string]any{"subnet_id": "${var.data_subnet_id}", "network_security_group_id": "${azurerm_network_security_group.data.id}"},
		},
	}
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	variables := map[string]any{
		"resource_group_name": str("Resource group of the platform's network"),
		"location":            str("Azure region"),
		"public_subnet_id":    str("Subnet of the load balancer"),
		"app_subnet_id":       str("Subnet of the cluster nodes (" + in.app + ")"),
		"data_subnet_id":      str("Subnet of the data tier (" + in.data + ")"),
	}
	// The azurerm provider refuses to start without a features block, and
	// from v4.0 without a subscription ID
	// (https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs#argument-reference),
	// so the module configures it: `terraform plan` runs as written.
	variables["subscription_id"] = str("Azure subscription of the platform")
	doc := map[string]any{
		"//":        "Generated by budnet generate.",
		"terraform": map[string]any{"required_providers": map[string]any{"azurerm": map[string]any{"source": "hashicorp/azurerm", "version": ">= 3.0"}}},
		"provider": map[string]any{"azurerm": map[string]any{
			"features":        map[string]any{},
			"subscription_id": "${var.subscription_id}",
		}},
		"variable": variables,
		"resource": resources,
	}
	if in.ddos {
		resources["azurerm_network_ddos_protection_plan"] = map[string]any{"bud": map[string]any{
			"name": in.name + "-ddos", "location": "${var.location}", "resource_group_name": "${var.resource_group_name}"}}
		doc["output"] = map[string]any{"ddos_protection_plan_id": map[string]any{
			"value":       "${azurerm_network_ddos_protection_plan.bud.id}",
			"description": "Set as ddos_protection_plan.id (enable = true) on the platform's virtual network",
		}}
	}
	return doc
}

// splitFamilies separates IPv4 from IPv6 prefixes, keeping their order.
func splitFamilies(ps []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return v4, v6
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
