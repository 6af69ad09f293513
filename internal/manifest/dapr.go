package manifest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// What the Dapr sidecar injector adds to a pod, as upstream dapr/dapr does it:
//   - pkg/injector/service/handler.go: only pods whose annotation dapr.io/enabled
//     equals "true" (case-insensitive) are patched;
//   - pkg/injector/patcher/sidecar.go: annotation names and defaults
//     (dapr.io/grpc-port 50001, dapr.io/internal-grpc-port 50002,
//     dapr.io/metrics-port 9090, dapr.io/enable-metrics true, the HTTP port 3500
//     has no annotation), and GetAppID falling back to the pod's name;
//   - pkg/injector/patcher/sidecar_container.go: the daprd container declares
//     dapr-http, dapr-grpc, dapr-internal and dapr-metrics (always, even with
//     metrics disabled), plus dapr-debug when debugging is enabled;
//   - pkg/injector/patcher/sidecar_patcher.go: labels dapr.io/sidecar-injected,
//     dapr.io/app-id and dapr.io/metrics-enabled, no injection when a
//     container named daprd already exists, and daprd as a native sidecar
//     (init container, restartPolicy Always) with dapr.io/enable-native-sidecar;
//   - pkg/validation/validation.go: the app id must be a DNS-1123 label, or
//     the injector refuses the pod.
const (
	daprEnabledAnnotation      = "dapr.io/enabled"
	daprAppIDAnnotation        = "dapr.io/app-id"
	daprGRPCPortAnnotation     = "dapr.io/grpc-port"
	daprInternalPortAnnotation = "dapr.io/internal-grpc-port"
	daprMetricsPortAnnotation  = "dapr.io/metrics-port"
	daprEnableMetricsAnnot     = "dapr.io/enable-metrics"
	daprEnableDebugAnnotation  = "dapr.io/enable-debug"
	daprDebugPortAnnotation    = "dapr.io/debug-port"
	daprSidecarImageAnnotation = "dapr.io/sidecar-image"
	daprConfigAnnotation       = "dapr.io/config"
	daprNativeSidecarAnnot     = "dapr.io/enable-native-sidecar"

	// DaprContainerName is the name of the injected sidecar container.
	DaprContainerName = "daprd"
	// DaprInjectedLabel is the label the injector sets on injected pods.
	DaprInjectedLabel = "dapr.io/sidecar-injected"
	// DaprAppIDLabel is the label carrying the pod's Dapr app id.
	DaprAppIDLabel = "dapr.io/app-id"
	// DaprMetricsEnabledLabel is the label saying whether the sidecar serves metrics.
	DaprMetricsEnabledLabel = "dapr.io/metrics-enabled"

	daprReason = "Dapr sidecar injector (dapr/dapr pkg/injector/patcher/sidecar_patcher.go)"
)

// Dapr sidecar port names and defaults (dapr/dapr pkg/injector/patcher/consts.go and sidecar.go).
const (
	DaprHTTPPortName     = "dapr-http"
	DaprGRPCPortName     = "dapr-grpc"
	DaprInternalPortName = "dapr-internal"
	DaprMetricsPortName  = "dapr-metrics"
	DaprDebugPortName    = "dapr-debug"

	DaprHTTPPort     = 3500
	DaprGRPCPort     = 50001
	DaprInternalPort = 50002
	DaprMetricsPort  = 9090
	DaprDebugPort    = 40000
)

// DaprSidecar describes the injected daprd sidecar of a workload.
type DaprSidecar struct {
	AppID string
	// AppIDFromName is true when no dapr.io/app-id annotation was set and the
	// injector falls back to the pod name.
	AppIDFromName    bool
	HTTPPort         int32
	GRPCPort         int32
	InternalGRPCPort int32
	MetricsPort      int32
	MetricsEnabled   bool
	// DebugPort is 0 unless dapr.io/enable-debug is truthy.
	DebugPort int32
	// Config is the dapr.io/config annotation: the app Configuration to use.
	Config string
	// NativeSidecar is true when dapr.io/enable-native-sidecar asks for daprd
	// as an init container with restartPolicy Always (Kubernetes 1.28+).
	NativeSidecar bool
}

var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// fieldWarning is a warning about one field of a workload's object.
type fieldWarning struct {
	path, msg string
}

// annotationPath is the field path of a pod annotation in w's object.
func (w *Workload) annotationPath(key string) string {
	return strings.TrimSuffix(w.PodSpecPath, "spec") + "metadata.annotations[" + key + "]"
}

// inferDapr applies the injector's patch to w. It returns warnings for pods
// the injector would refuse or annotations it would ignore.
func inferDapr(w *Workload) []fieldWarning {
	if !strings.EqualFold(w.Annotations[daprEnabledAnnotation], "true") {
		return nil
	}
	for _, c := range append(w.Containers, w.InitContainers...) {
		if c.Name == DaprContainerName {
			return nil // already carries a sidecar: the injector leaves it alone
		}
	}
	var warnings []fieldWarning
	ann := w.Annotations
	d := &DaprSidecar{
		AppID:            ann[daprAppIDAnnotation],
		HTTPPort:         DaprHTTPPort,
		MetricsEnabled:   true,
		Config:           ann[daprConfigAnnotation],
		GRPCPort:         w.portAnnotation(daprGRPCPortAnnotation, DaprGRPCPort, &warnings),
		InternalGRPCPort: w.portAnnotation(daprInternalPortAnnotation, DaprInternalPort, &warnings),
		MetricsPort:      w.portAnnotation(daprMetricsPortAnnotation, DaprMetricsPort, &warnings),
	}
	if v, ok := ann[daprEnableMetricsAnnot]; ok {
		d.MetricsEnabled = isTruthy(v)
	}
	// The Helm value dapr_sidecar_injector.nativeSidecar can make native
	// sidecars the default; manifests cannot show it, so only the annotation counts.
	d.NativeSidecar = isTruthy(ann[daprNativeSidecarAnnot])
	if isTruthy(ann[daprEnableDebugAnnotation]) {
		d.DebugPort = w.portAnnotation(daprDebugPortAnnotation, DaprDebugPort, &warnings)
	}
	if d.AppID == "" {
		if w.Kind != "Pod" || w.Object.Unstructured.GetName() == "" {
			return append(warnings, fieldWarning{w.annotationPath(daprEnabledAnnotation), fmt.Sprintf(
				"%s: annotated %s=true without %s: the injector falls back to the pod name, which is empty when a controller creates the pod, so it refuses the pod; no sidecar inferred",
				w.Ref(), daprEnabledAnnotation, daprAppIDAnnotation)})
		}
		d.AppID, d.AppIDFromName = w.Name, true
	}
	if len(d.AppID) > 63 || !dns1123Label.MatchString(d.AppID) {
		return append(warnings, fieldWarning{w.annotationPath(daprAppIDAnnotation), fmt.Sprintf(
			"%s: Dapr app id %q is not a DNS-1123 label, so the injector refuses the pod; no sidecar inferred", w.Ref(), d.AppID)})
	}
	w.Dapr = d
	sidecar := daprContainer(d, ann[daprSidecarImageAnnotation])
	where := "containers"
	if d.NativeSidecar {
		sidecar.Init, sidecar.Sidecar, where = true, true, "initContainers"
		w.InitContainers = append(w.InitContainers, sidecar)
	} else {
		w.Containers = append(w.Containers, sidecar)
	}
	w.setLabel(DaprInjectedLabel, "true", daprReason)
	w.setLabel(DaprAppIDLabel, d.AppID, daprReason+"; app id from "+appIDSource(d))
	w.setLabel(DaprMetricsEnabledLabel, strconv.FormatBool(d.MetricsEnabled), daprReason)
	for _, p := range sidecar.Ports {
		w.Inferred = append(w.Inferred, Inference{
			Field:  fmt.Sprintf("%s.%s[name=%s].ports[name=%s]", w.PodSpecPath, where, DaprContainerName, p.Name),
			Value:  strconv.Itoa(int(p.ContainerPort)),
			Reason: "Dapr sidecar injector (dapr/dapr pkg/injector/patcher/sidecar_container.go)",
		})
	}
	return warnings
}

func appIDSource(d *DaprSidecar) string {
	if d.AppIDFromName {
		return "the pod name (no " + daprAppIDAnnotation + " annotation)"
	}
	return "annotation " + daprAppIDAnnotation
}

func daprContainer(d *DaprSidecar, image string) Container {
	ports := []corev1.ContainerPort{
		{Name: DaprHTTPPortName, ContainerPort: d.HTTPPort, Protocol: corev1.ProtocolTCP},
		{Name: DaprGRPCPortName, ContainerPort: d.GRPCPort, Protocol: corev1.ProtocolTCP},
		{Name: DaprInternalPortName, ContainerPort: d.InternalGRPCPort, Protocol: corev1.ProtocolTCP},
		{Name: DaprMetricsPortName, ContainerPort: d.MetricsPort, Protocol: corev1.ProtocolTCP},
	}
	if d.DebugPort != 0 {
		ports = append(ports, corev1.ContainerPort{Name: DaprDebugPortName, ContainerPort: d.DebugPort, Protocol: corev1.ProtocolTCP})
	}
	return Container{Name: DaprContainerName, Image: image, Ports: ports, Inferred: true}
}

func (w *Workload) setLabel(key, value, reason string) {
	w.Labels[key] = value
	w.Inferred = append(w.Inferred, Inference{Field: "metadata.labels[" + key + "]", Value: value, Reason: reason})
}

// portAnnotation reads a port annotation; like the injector, a value that is
// not an integer is ignored (the default stays).
func (w *Workload) portAnnotation(key string, def int32, warnings *[]fieldWarning) int32 {
	v, ok := w.Annotations[key]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil || n < 1 || n > 65535 {
		*warnings = append(*warnings, fieldWarning{w.annotationPath(key), fmt.Sprintf(
			"%s: annotation %s=%q is not a port number; the injector ignores it and uses %d", w.Ref(), key, v, def)})
		return def
	}
	return int32(n)
}

// isTruthy mirrors github.com/dapr/kit/strings.IsTruthy, which the injector
// uses for boolean annotations.
func isTruthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "y", "yes", "true", "t", "on", "1":
		return true
	}
	return false
}
