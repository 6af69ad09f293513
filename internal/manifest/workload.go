package manifest

import (
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// workloadOf returns the workload an object describes, or nil when it runs no pods.
func workloadOf(o *Object) *Workload {
	w := &Workload{Object: o, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
	var tmpl *corev1.PodTemplateSpec
	switch t := o.typed.(type) {
	case *corev1.Pod:
		w.PodSpecPath = "spec"
		w.Replicas = ptr(int32(1))
		w.Owner = controllerOf(t.OwnerReferences)
		w.PodIPs = podIPs(t.Status)
		tmpl = &corev1.PodTemplateSpec{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
	case *appsv1.Deployment:
		tmpl, w.Selector, w.Replicas = &t.Spec.Template, t.Spec.Selector, orOne(t.Spec.Replicas)
	case *appsv1.StatefulSet:
		tmpl, w.Selector, w.Replicas = &t.Spec.Template, t.Spec.Selector, orOne(t.Spec.Replicas)
	case *appsv1.ReplicaSet:
		tmpl, w.Selector, w.Replicas = &t.Spec.Template, t.Spec.Selector, orOne(t.Spec.Replicas)
	case *appsv1.DaemonSet:
		tmpl, w.Selector = &t.Spec.Template, t.Spec.Selector
	case *batchv1.Job:
		tmpl, w.Selector, w.Replicas = &t.Spec.Template, t.Spec.Selector, orOne(t.Spec.Parallelism)
	case *batchv1.CronJob:
		tmpl, w.Replicas = &t.Spec.JobTemplate.Spec.Template, orOne(t.Spec.JobTemplate.Spec.Parallelism)
		w.PodSpecPath = "spec.jobTemplate.spec.template.spec"
	case *corev1.ReplicationController:
		tmpl, w.Replicas = t.Spec.Template, orOne(t.Spec.Replicas)
		if tmpl == nil {
			tmpl = &corev1.PodTemplateSpec{}
		}
		if t.Spec.Selector != nil {
			w.Selector = &metav1.LabelSelector{MatchLabels: t.Spec.Selector}
		}
	default:
		return nil
	}
	if w.PodSpecPath == "" {
		w.PodSpecPath = "spec.template.spec"
	}
	w.Labels = maps.Clone(tmpl.Labels)
	if w.Labels == nil {
		w.Labels = map[string]string{}
	}
	w.Annotations = maps.Clone(tmpl.Annotations)
	if w.Annotations == nil {
		w.Annotations = map[string]string{}
	}
	spec := tmpl.Spec
	w.PodSpec = &spec
	w.HostNetwork = spec.HostNetwork
	w.ServiceAccount = spec.ServiceAccountName
	if w.ServiceAccount == "" {
		w.ServiceAccount = spec.DeprecatedServiceAccount // serviceAccount, still honoured by the API server
	}
	if w.ServiceAccount == "" {
		w.ServiceAccount = "default" // the ServiceAccount admission plugin's default
	}
	w.InitContainers = containers(spec.InitContainers, w.PodSpecPath+".initContainers", true)
	w.Containers = containers(spec.Containers, w.PodSpecPath+".containers", false)
	return w
}

func containers(in []corev1.Container, path string, init bool) []Container {
	out := make([]Container, 0, len(in))
	for i, c := range in {
		ports := make([]corev1.ContainerPort, len(c.Ports))
		for j, p := range c.Ports {
			if p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
			ports[j] = p
		}
		out = append(out, Container{
			Name: c.Name, Image: c.Image, Ports: ports, Env: c.Env, EnvFrom: c.EnvFrom,
			Init: init, Path: fmt.Sprintf("%s[%d]", path, i),
			Sidecar: init && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways,
		})
	}
	return out
}

func controllerOf(refs []metav1.OwnerReference) *OwnerRef {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return &OwnerRef{APIVersion: r.APIVersion, Kind: r.Kind, Name: r.Name}
		}
	}
	return nil
}

func podIPs(st corev1.PodStatus) []string {
	var ips []string
	seen := map[string]bool{}
	add := func(ip string) {
		if ip != "" && !seen[ip] {
			seen[ip] = true
			ips = append(ips, ip)
		}
	}
	add(st.PodIP)
	for _, ip := range st.PodIPs {
		add(ip.IP)
	}
	return ips
}

func orOne(p *int32) *int32 {
	if p == nil {
		return ptr(int32(1))
	}
	return ptr(*p)
}

func ptr[T any](v T) *T { return &v }

// serviceOf applies the API server's Service defaults that connectivity
// depends on: type ClusterIP, protocol TCP, targetPort equal to port.
func serviceOf(o *Object) *Service {
	t, ok := o.typed.(*corev1.Service)
	if !ok {
		return nil
	}
	s := &Service{
		Object: o, Namespace: o.Namespace, Name: o.Name,
		Type: t.Spec.Type, Selector: t.Spec.Selector,
		LoadBalancerSourceRanges: t.Spec.LoadBalancerSourceRanges,
		Spec:                     &t.Spec,
	}
	if s.Type == "" {
		s.Type = corev1.ServiceTypeClusterIP
	}
	for _, p := range t.Spec.Ports {
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
		s.Ports = append(s.Ports, p)
	}
	return s
}
