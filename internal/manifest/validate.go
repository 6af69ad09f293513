package manifest

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/yamlsrc"
)

// Field validation: the values the API server refuses where the analysis
// depends on them (names, namespaces, labels and selectors, ports, protocols,
// pod IPs, CIDRs). Each rule calls apimachinery's validation helpers, the
// same ones the API server's validation (k8s.io/kubernetes
// pkg/apis/core/validation, pkg/apis/networking/validation) calls; which
// helper applies to which field follows those files. Rules the analysis does
// not depend on (resources, probes, volumes) are left to the API server.

// validateObject returns the input errors of one object's values, each naming
// file, line and field path.
func validateObject(it item, meta *metav1.ObjectMeta, obj *Object, typed any) []error {
	kind, clusterScoped := obj.Kind, obj.Namespace == ""
	root := field.NewPath("metadata")
	if it.prefix != "" {
		root = prefixPath(it.prefix).Child("metadata")
	}
	m := *meta
	m.Namespace = obj.Namespace // defaulted, or dropped from a cluster-scoped kind, as the API server does
	errs := apivalidation.ValidateObjectMeta(&m, !clusterScoped, nameRule(kind, typed), root)
	spec := prefixPath(it.prefix)
	switch t := typed.(type) {
	case *corev1.Pod:
		errs = append(errs, validatePodSpec(&t.Spec, spec.Child("spec"))...)
		errs = append(errs, validatePodIPs(&t.Status, spec.Child("status"))...)
	case *corev1.ReplicationController:
		errs = append(errs, metav1validation.ValidateLabels(t.Spec.Selector, spec.Child("spec", "selector"))...)
		errs = append(errs, validateTemplate(t.Spec.Template, spec.Child("spec", "template"))...)
	case *appsv1.Deployment:
		errs = append(errs, validateSelector(t.Spec.Selector, spec.Child("spec", "selector"))...)
		errs = append(errs, validateTemplate(&t.Spec.Template, spec.Child("spec", "template"))...)
	case *appsv1.StatefulSet:
		errs = append(errs, validateSelector(t.Spec.Selector, spec.Child("spec", "selector"))...)
		errs = append(errs, validateTemplate(&t.Spec.Template, spec.Child("spec", "template"))...)
	case *appsv1.DaemonSet:
		errs = append(errs, validateSelector(t.Spec.Selector, spec.Child("spec", "selector"))...)
		errs = append(errs, validateTemplate(&t.Spec.Template, spec.Child("spec", "template"))...)
	case *appsv1.ReplicaSet:
		errs = append(errs, validateSelector(t.Spec.Selector, spec.Child("spec", "selector"))...)
		errs = append(errs, validateTemplate(&t.Spec.Template, spec.Child("spec", "template"))...)
	case *batchv1.Job:
		errs = append(errs, validateSelector(t.Spec.Selector, spec.Child("spec", "selector"))...)
		errs = append(errs, validateTemplate(&t.Spec.Template, spec.Child("spec", "template"))...)
	case *batchv1.CronJob:
		js := spec.Child("spec", "jobTemplate", "spec")
		errs = append(errs, validateSelector(t.Spec.JobTemplate.Spec.Selector, js.Child("selector"))...)
		errs = append(errs, validateTemplate(&t.Spec.JobTemplate.Spec.Template, js.Child("template"))...)
	case *corev1.Service:
		errs = append(errs, validateService(&t.Spec, spec.Child("spec"))...)
	case *networkingv1.NetworkPolicy:
		errs = append(errs, validateNetworkPolicy(&t.Spec, spec.Child("spec"))...)
	}
	return located(it, errs)
}

// prefixPath turns the loader's prefix ("items[3]") into a field path.
func prefixPath(prefix string) *field.Path {
	if prefix == "" {
		return nil
	}
	name, idx, ok := strings.Cut(prefix, "[")
	if !ok {
		return field.NewPath(prefix)
	}
	var i int
	fmt.Sscanf(idx, "%d]", &i)
	return field.NewPath(name).Index(i)
}

// located turns field errors into input errors at the line of their field.
func located(it item, errs field.ErrorList) []error {
	if len(errs) == 0 {
		return nil
	}
	out := make([]error, 0, len(errs)) // each a *diag.InputError
	for _, e := range errs {
		p := strings.TrimPrefix(e.Field, it.prefix)
		p = strings.TrimPrefix(p, ".")
		out = append(out, diag.Errorf(it.doc.File, yamlsrc.LineOf(it.node, p), e.Field, "%s", e.ErrorBody()))
	}
	// In the order of the file, as a reader fixes them.
	slices.SortStableFunc(out, func(a, b error) int { return a.(*diag.InputError).Line - b.(*diag.InputError).Line })
	return out
}

// nameRule is the name validation of a kind, as its API registration sets it.
func nameRule(kind string, typed any) apivalidation.ValidateNameFunc {
	switch typed.(type) {
	case *corev1.Namespace:
		return apivalidation.ValidateNamespaceName
	case *corev1.Service:
		return apivalidation.NameIsDNS1035Label // ValidateServiceName
	case nil:
	default:
		return apivalidation.NameIsDNSSubdomain
	}
	switch kind {
	case "ConfigMap", "Secret", "ServiceAccount", "Ingress", "IngressClass":
		return apivalidation.NameIsDNSSubdomain
	}
	// Other kinds differ (RBAC names may hold colons: system:controller:x);
	// every kind needs a valid path segment, which is all budnet asserts.
	return func(name string, prefix bool) []string {
		return content.IsPathSegmentName(name)
	}
}

func validateSelector(s *metav1.LabelSelector, fld *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	return metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, fld)
}

// validateTemplate checks a pod template's labels, annotations and spec, as
// ValidatePodTemplateSpec does for what connectivity depends on.
func validateTemplate(t *corev1.PodTemplateSpec, fld *field.Path) field.ErrorList {
	if t == nil {
		return nil
	}
	errs := metav1validation.ValidateLabels(t.Labels, fld.Child("metadata", "labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, fld.Child("metadata", "annotations"))...)
	return append(errs, validatePodSpec(&t.Spec, fld.Child("spec"))...)
}

var protocols = sets.New(string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP))

func validateProtocol(p corev1.Protocol, fld *field.Path) field.ErrorList {
	if p == "" || protocols.Has(string(p)) {
		return nil
	}
	return field.ErrorList{field.NotSupported(fld, p, sets.List(protocols))}
}

func fromMessages(fld *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, m := range msgs {
		errs = append(errs, field.Invalid(fld, value, m))
	}
	return errs
}

// validatePodSpec checks container names and ports (validateContainers and
// validateContainerPorts in pkg/apis/core/validation).
func validatePodSpec(s *corev1.PodSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(cs []corev1.Container, f *field.Path) {
		for i, c := range cs {
			cf := f.Index(i)
			errs = append(errs, fromMessages(cf.Child("name"), c.Name, validation.IsDNS1123Label(c.Name))...)
			for j, p := range c.Ports {
				pf := cf.Child("ports").Index(j)
				if p.Name != "" {
					errs = append(errs, fromMessages(pf.Child("name"), p.Name, validation.IsValidPortName(p.Name))...)
				}
				errs = append(errs, fromMessages(pf.Child("containerPort"), p.ContainerPort, validation.IsValidPortNum(int(p.ContainerPort)))...)
				if p.HostPort != 0 {
					errs = append(errs, fromMessages(pf.Child("hostPort"), p.HostPort, validation.IsValidPortNum(int(p.HostPort)))...)
				}
				errs = append(errs, validateProtocol(p.Protocol, pf.Child("protocol"))...)
				if p.HostIP != "" {
					errs = append(errs, validIP(pf.Child("hostIP"), p.HostIP)...)
				}
			}
		}
	}
	check(s.Containers, fld.Child("containers"))
	check(s.InitContainers, fld.Child("initContainers"))
	return errs
}

func validatePodIPs(s *corev1.PodStatus, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.PodIP != "" {
		errs = append(errs, validIP(fld.Child("podIP"), s.PodIP)...)
	}
	for i, ip := range s.PodIPs {
		errs = append(errs, validIP(fld.Child("podIPs").Index(i).Child("ip"), ip.IP)...)
	}
	if s.HostIP != "" {
		errs = append(errs, validIP(fld.Child("hostIP"), s.HostIP)...)
	}
	return errs
}

// validateService checks what ValidateService checks of selector, ports,
// type and source ranges.
func validateService(s *corev1.ServiceSpec, fld *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabels(s.Selector, fld.Child("selector"))
	switch s.Type {
	case "", corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName:
	default:
		errs = append(errs, field.NotSupported(fld.Child("type"), s.Type, []string{"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"}))
	}
	for i, p := range s.Ports {
		pf := fld.Child("ports").Index(i)
		if p.Name != "" {
			errs = append(errs, fromMessages(pf.Child("name"), p.Name, validation.IsDNS1123Label(p.Name))...)
		}
		errs = append(errs, fromMessages(pf.Child("port"), p.Port, validation.IsValidPortNum(int(p.Port)))...)
		if p.NodePort != 0 {
			errs = append(errs, fromMessages(pf.Child("nodePort"), p.NodePort, validation.IsValidPortNum(int(p.NodePort)))...)
		}
		errs = append(errs, validateProtocol(p.Protocol, pf.Child("protocol"))...)
		errs = append(errs, validatePortRef(p.TargetPort, pf.Child("targetPort"), true)...)
	}
	for i, r := range s.LoadBalancerSourceRanges {
		// The API server trims spaces before parsing (ValidateService).
		errs = append(errs, validCIDR(fld.Child("loadBalancerSourceRanges").Index(i), strings.TrimSpace(r))...)
	}
	for i, ip := range s.ExternalIPs {
		errs = append(errs, validIP(fld.Child("externalIPs").Index(i), ip)...)
	}
	return errs
}

// validatePortRef checks a port given by number or name; zero is allowed
// where the field is optional (a Service's targetPort defaults to its port).
func validatePortRef(p intstr.IntOrString, fld *field.Path, zeroOK bool) field.ErrorList {
	if p.Type == intstr.String {
		return fromMessages(fld, p.StrVal, validation.IsValidPortName(p.StrVal))
	}
	if p.IntVal == 0 && zeroOK {
		return nil
	}
	return fromMessages(fld, p.IntVal, validation.IsValidPortNum(int(p.IntVal)))
}

// validateNetworkPolicy follows ValidateNetworkPolicySpec
// (pkg/apis/networking/validation) for selectors, peers, ports and ipBlocks.
func validateNetworkPolicy(s *networkingv1.NetworkPolicySpec, fld *field.Path) field.ErrorList {
	errs := validateSelector(&s.PodSelector, fld.Child("podSelector"))
	for i, r := range s.Ingress {
		rf := fld.Child("ingress").Index(i)
		errs = append(errs, validatePolicyPorts(r.Ports, rf.Child("ports"))...)
		errs = append(errs, validatePeers(r.From, rf.Child("from"))...)
	}
	for i, r := range s.Egress {
		rf := fld.Child("egress").Index(i)
		errs = append(errs, validatePolicyPorts(r.Ports, rf.Child("ports"))...)
		errs = append(errs, validatePeers(r.To, rf.Child("to"))...)
	}
	allowed := []string{string(networkingv1.PolicyTypeIngress), string(networkingv1.PolicyTypeEgress)}
	for i, t := range s.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(fld.Child("policyTypes").Index(i), t, allowed))
		}
	}
	if len(s.PolicyTypes) > len(allowed) {
		errs = append(errs, field.Invalid(fld.Child("policyTypes"), s.PolicyTypes, "may not specify more than two policyTypes"))
	}
	return errs
}

func validatePolicyPorts(ports []networkingv1.NetworkPolicyPort, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, p := range ports {
		pf := fld.Index(i)
		if p.Protocol != nil {
			errs = append(errs, validateProtocol(*p.Protocol, pf.Child("protocol"))...)
		}
		if p.Port != nil {
			errs = append(errs, validatePortRef(*p.Port, pf.Child("port"), false)...)
		}
		if p.EndPort == nil {
			continue
		}
		switch {
		case p.Port == nil:
			errs = append(errs, field.Required(pf.Child("port"), "when endPort is specified"))
		case p.Port.Type == intstr.String:
			errs = append(errs, field.Forbidden(pf.Child("endPort"), "may not be specified when port is non-numeric"))
		case *p.EndPort < p.Port.IntVal:
			errs = append(errs, field.Invalid(pf.Child("endPort"), *p.EndPort, "must be greater than or equal to `port`"))
		default:
			errs = append(errs, fromMessages(pf.Child("endPort"), *p.EndPort, validation.IsValidPortNum(int(*p.EndPort)))...)
		}
	}
	return errs
}

func validatePeers(peers []networkingv1.NetworkPolicyPeer, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, peer := range peers {
		pf := fld.Index(i)
		n := 0
		if peer.PodSelector != nil || peer.NamespaceSelector != nil {
			n++
		}
		if peer.IPBlock != nil {
			n++
		}
		switch n {
		case 0:
			errs = append(errs, field.Required(pf, "must specify a peer"))
		case 2:
			errs = append(errs, field.Forbidden(pf, "may not specify more than 1 peer"))
		}
		errs = append(errs, validateSelector(peer.PodSelector, pf.Child("podSelector"))...)
		errs = append(errs, validateSelector(peer.NamespaceSelector, pf.Child("namespaceSelector"))...)
		if peer.IPBlock != nil {
			errs = append(errs, validateIPBlock(peer.IPBlock, pf.Child("ipBlock"))...)
		}
	}
	return errs
}

// validIP and validCIDR validate the IPs and CIDRs of fields that predate
// Kubernetes' strict IP parsing (pod IPs, ipBlocks, source ranges): the API
// server checks them with the legacy-field helpers, strict only behind the
// StrictIPCIDRValidation feature gate, so non-canonical forms
// ("10.0.0.1/8") are accepted as it accepts them.
func validIP(fld *field.Path, value string) field.ErrorList {
	return validation.IsValidIPForLegacyField(fld, value, false, nil)
}

func validCIDR(fld *field.Path, value string) field.ErrorList {
	return validation.IsValidCIDRForLegacyField(fld, value, false, nil)
}

// validateIPBlock: cidr must be a CIDR and each except a CIDR strictly
// inside it (ValidateIPBlock).
func validateIPBlock(b *networkingv1.IPBlock, fld *field.Path) field.ErrorList {
	if b.CIDR == "" {
		return field.ErrorList{field.Required(fld.Child("cidr"), "")}
	}
	errs := validCIDR(fld.Child("cidr"), b.CIDR)
	if len(errs) > 0 {
		return errs
	}
	cidr, cidrErr := netip.ParsePrefix(b.CIDR)
	if cidrErr != nil || cidr.Addr().Is4In6() {
		// Legal for the API server's legacy parsing (leading zeros, IPv4-mapped
		// IPv6), but the policy engine does not read them: say so here, with
		// the line, rather than fail later without it.
		errs = append(errs, field.Invalid(fld.Child("cidr"), b.CIDR, "a legacy form (leading zeros or IPv4-mapped IPv6) budnet does not read; write the plain CIDR"))
	}
	for i, x := range b.Except {
		xf := fld.Child("except").Index(i)
		if xerrs := validCIDR(xf, x); len(xerrs) > 0 {
			errs = append(errs, xerrs...)
			continue
		}
		ex, err := netip.ParsePrefix(x)
		if cidrErr != nil || err != nil {
			continue // legacy forms netip does not read (leading zeros): the API's check is all we have
		}
		c, e := cidr.Masked(), ex.Masked()
		if c.Addr().Is4() != e.Addr().Is4() || e.Bits() <= c.Bits() || !c.Contains(e.Addr()) {
			errs = append(errs, field.Invalid(xf, x, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}
