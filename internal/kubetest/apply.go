package kubetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// ObjectError is the failure to create one object. Apply joins one per object
// that failed, so a caller sees every rejected object, not only the first.
type ObjectError struct {
	Kind      string
	Namespace string
	Name      string
	Err       error
}

// Error names the object the way kubectl does: Kind namespace/name.
func (e *ObjectError) Error() string {
	if e.Namespace == "" {
		return fmt.Sprintf("create %s %s: %v", e.Kind, e.Name, e.Err)
	}
	return fmt.Sprintf("create %s %s/%s: %v", e.Kind, e.Namespace, e.Name, e.Err)
}

// Unwrap gives errors.Is/As and apierrors' predicates access to the cause.
func (e *ObjectError) Unwrap() error { return e.Err }

// ObjectErrors returns the per-object errors inside an error returned by Apply.
func ObjectErrors(err error) []*ObjectError {
	var out []*ObjectError
	var one *ObjectError
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if errors.As(e, &one) {
				out = append(out, one)
			}
		}
		return out
	}
	if errors.As(err, &one) {
		out = append(out, one)
	}
	return out
}

// ParseObjects decodes a stream of YAML or JSON documents into objects,
// skipping empty documents. It does no defaulting: what is written is what
// Apply sends.
func ParseObjects(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(m) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{Object: m}
		if obj.GetKind() == "" || obj.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d: apiVersion and kind are required", i)
		}
		out = append(out, obj)
	}
}

// Apply creates every object as the Env's admin, Namespaces first, then the
// rest in the order given. It is a real create, not a server-side dry run, so
// admission and CRD schema validation run exactly as in a cluster. Namespaces
// that namespaced objects name are created when missing; a namespaced object
// without a namespace goes to "default", as with kubectl. It returns nil or
// the errors.Join of one *ObjectError per object that failed.
func (e *Env) Apply(ctx context.Context, objs ...*unstructured.Unstructured) error {
	return applyObjects(ctx, e.Dynamic, e.Mapper, objs)
}

// ApplyAs is Apply with another client, e.g. one from UserConfig, so a test
// can show what a restricted identity may not create. Missing namespaces are
// still created with that client.
func (e *Env) ApplyAs(ctx context.Context, client dynamic.Interface, objs ...*unstructured.Unstructured) error {
	return applyObjects(ctx, client, e.Mapper, objs)
}

func applyObjects(ctx context.Context, client dynamic.Interface, mapper meta.ResettableRESTMapper, objs []*unstructured.Unstructured) error {
	var namespaces, others []*unstructured.Unstructured
	declared := map[string]bool{}
	for _, o := range objs {
		if o.GroupVersionKind() == corev1.SchemeGroupVersion.WithKind("Namespace") {
			namespaces = append(namespaces, o)
			declared[o.GetName()] = true
			continue
		}
		others = append(others, o)
	}

	var errs []error
	for _, o := range namespaces {
		if err := createObject(ctx, client, mapper, o); err != nil {
			errs = append(errs, err)
		}
	}
	ensured := map[string]error{}
	for _, o := range others {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("apply: %w", err))...)
		}
		obj := o
		mapping, err := restMapping(mapper, o.GroupVersionKind())
		if err != nil {
			errs = append(errs, objectError(o, err))
			continue
		}
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.GetNamespace() == "" {
				obj = o.DeepCopy()
				obj.SetNamespace(metav1.NamespaceDefault)
			}
			ns := obj.GetNamespace()
			if !declared[ns] {
				if _, done := ensured[ns]; !done {
					ensured[ns] = ensureNamespace(ctx, client, ns)
				}
				if err := ensured[ns]; err != nil {
					errs = append(errs, objectError(obj, err))
					continue
				}
			}
		}
		if err := create(ctx, client, mapping, obj); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func createObject(ctx context.Context, client dynamic.Interface, mapper meta.ResettableRESTMapper, obj *unstructured.Unstructured) error {
	mapping, err := restMapping(mapper, obj.GroupVersionKind())
	if err != nil {
		return objectError(obj, err)
	}
	return create(ctx, client, mapping, obj)
}

func create(ctx context.Context, client dynamic.Interface, mapping *meta.RESTMapping, obj *unstructured.Unstructured) error {
	var ri dynamic.ResourceInterface = client.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = client.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	if _, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict}); err != nil {
		return objectError(obj, err)
	}
	return nil
}

// restMapping resolves a kind, refreshing discovery once when it is unknown
// because a CRD may have been installed after the mapper cached discovery.
func restMapping(mapper meta.ResettableRESTMapper, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		mapper.Reset()
		mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve kind %s: %w", gvk, err)
	}
	return mapping, nil
}

func ensureNamespace(ctx context.Context, client dynamic.Interface, name string) error {
	ns := &unstructured.Unstructured{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	ns.SetName(name)
	_, err := client.Resource(corev1.SchemeGroupVersion.WithResource("namespaces")).Create(ctx, ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

func objectError(obj *unstructured.Unstructured, err error) *ObjectError {
	return &ObjectError{Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName(), Err: err}
}
