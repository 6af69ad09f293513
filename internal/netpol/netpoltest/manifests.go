package netpoltest

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/netpol"
)

// WriteManifests writes c as multi-document YAML a user could apply:
// Namespaces, Pods and NetworkPolicies. A pod whose Workload names a
// controller ("ns/app[Deployment]") gets a controller ownerReference to it, so
// commands reading the manifests group pods into the same workloads.
func WriteManifests(w io.Writer, c netpol.Cluster) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	write := func(obj any) error {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return fmt.Errorf("encoding manifest: %w", err)
		}
		bw.WriteString("---\n")
		_, err = bw.Write(b)
		return err
	}
	for _, ns := range c.Namespaces {
		obj := corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns.Name, Labels: ns.Labels}}
		if err := write(obj); err != nil {
			return err
		}
	}
	for i := range c.Pods {
		if err := write(podObject(&c.Pods[i])); err != nil {
			return err
		}
	}
	for _, np := range c.Policies {
		obj := np.DeepCopy()
		obj.APIVersion, obj.Kind = "networking.k8s.io/v1", "NetworkPolicy"
		if err := write(obj); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func podObject(p *netpol.Pod) corev1.Pod {
	pod := corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels},
		Spec:       corev1.PodSpec{HostNetwork: p.HostNetwork}}
	if kind, name, ok := controllerOf(p); ok {
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: "generated", Controller: ptr(true)}}
	}
	c := corev1.Container{Name: "main", Image: "registry.example/app:1"}
	for _, cp := range p.Ports {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: cp.Name, ContainerPort: cp.Port, Protocol: cp.Protocol})
	}
	pod.Spec.Containers = []corev1.Container{c}
	for _, ip := range p.IPs {
		pod.Status.PodIPs = append(pod.Status.PodIPs, corev1.PodIP{IP: ip.String()})
	}
	if len(p.IPs) > 0 {
		pod.Status.PodIP = p.IPs[0].String()
	}
	return pod
}

// controllerOf parses "ns/name[Kind]" when Kind is not Pod.
func controllerOf(p *netpol.Pod) (kind, name string, ok bool) {
	w := p.Workload
	open := strings.LastIndexByte(w, '[')
	slash := strings.IndexByte(w, '/')
	if open < 0 || slash < 0 || !strings.HasSuffix(w, "]") {
		return "", "", false
	}
	kind, name = w[open+1:len(w)-1], w[slash+1:open]
	if kind == "Pod" {
		return "", "", false
	}
	return kind, name, true
}
