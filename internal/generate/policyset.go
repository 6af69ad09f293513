package generate

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// policySet collects the policies of several flows. Flows often imply the
// same policy (the model's "egress-via-gateway" flow and the gateway routing
// of an egress flow), and the API server refuses a second object of the same
// name, so identical policies are merged (their model rows joined) and
// different policies that want the same name are told apart by the flow.
type policySet struct {
	byKey map[string]*entry
}

type entry struct {
	obj  *unstructured.Unstructured
	file string
}

func newPolicySet() *policySet { return &policySet{byKey: map[string]*entry{}} }

func key(u *unstructured.Unstructured) string {
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// add adds u to file. alt disambiguates the name when another policy of the
// same name but a different spec exists (usually the flow name).
func (s *policySet) add(file string, u *unstructured.Unstructured, alt string) {
	for attempt := 0; ; attempt++ {
		prev, ok := s.byKey[key(u)]
		if !ok {
			s.byKey[key(u)] = &entry{obj: u, file: file}
			return
		}
		if reflect.DeepEqual(prev.obj.Object["spec"], u.Object["spec"]) {
			mergeAnnotation(prev.obj, u, AnnotationModelRow)
			mergeAnnotation(prev.obj, u, AnnotationGuide)
			return
		}
		switch attempt {
		case 0:
			u.SetName(objectName(u.GetName(), alt))
		default:
			u.SetName(objectName(u.GetName(), specHash(u)))
		}
	}
}

// mergeAnnotation appends u's value of annotation k to prev's, once.
func mergeAnnotation(prev, u *unstructured.Unstructured, k string) {
	add := u.GetAnnotations()[k]
	if add == "" {
		return
	}
	ann := prev.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	if slices.Contains(strings.Split(ann[k], "; "), add) {
		return
	}
	if ann[k] == "" {
		ann[k] = add
	} else {
		ann[k] += "; " + add
	}
	prev.SetAnnotations(ann)
}

func specHash(u *unstructured.Unstructured) string {
	data, err := json.Marshal(u.Object["spec"])
	if err != nil {
		// A spec built from maps, slices, strings and numbers always
		// marshals; fall back to the name so the loop still ends.
		data = []byte(u.GetName())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:8]
}

// objects returns the policies of file sorted by kind, namespace and name.
func (s *policySet) objects(file string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, e := range s.byKey {
		if e.file == file {
			out = append(out, e.obj)
		}
	}
	slices.SortFunc(out, func(a, b *unstructured.Unstructured) int {
		return cmp.Or(strings.Compare(a.GetKind(), b.GetKind()),
			strings.Compare(a.GetNamespace(), b.GetNamespace()),
			strings.Compare(a.GetName(), b.GetName()))
	})
	return out
}
