package manifest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/yamlsrc"
)

// addFile parses one file's documents and adds their objects; it returns
// how many documents the file held.
func (l *loader) addFile(name string, data []byte) int {
	docs, err := yamlsrc.Parse(name, data)
	if err != nil {
		l.errs = append(l.errs, err)
		return 0
	}
	for _, doc := range docs {
		l.addDocument(doc)
	}
	return len(docs)
}

// item locates one object inside a document.
type item struct {
	doc    yamlsrc.Document
	node   *yaml.Node
	index  int    // position in a List's items, -1 for the document itself
	prefix string // field path prefix for errors ("items[3]")
	// defaults for typed lists (PodList), whose items may omit apiVersion and kind
	apiVersion, kind string
}

func (l *loader) addDocument(doc yamlsrc.Document) {
	root := doc.Root
	if root.Kind != yaml.MappingNode {
		l.errs = append(l.errs, diag.Errorf(doc.File, doc.Line, "", "expected a Kubernetes object (a mapping with apiVersion and kind), got %s", nodeKind(root)))
		return
	}
	switch n, tooDeep := expandedSize(root, l.opts.maxNodes()); {
	case tooDeep:
		l.errs = append(l.errs, diag.Errorf(doc.File, doc.Line, "", "document nests deeper than %d levels", maxNesting))
		return
	case n > l.opts.maxNodes():
		l.errs = append(l.errs, diag.Errorf(doc.File, doc.Line, "", "document expands to more than %d YAML nodes once aliases are followed", l.opts.maxNodes()))
		return
	}
	it := item{doc: doc, node: root, index: -1}
	apiVersion, kind, err := typeMeta(it)
	if err != nil {
		l.errs = append(l.errs, err)
		return
	}
	items := mapValue(root, "items")
	if items != nil && isListKind(kind) {
		l.addList(doc, items, apiVersion, kind)
		return
	}
	if items == nil && kind == "List" {
		return // a v1 List without items is empty, as kubectl reads it
	}
	l.addObject(it)
}

// isListKind reports whether kind names a list: v1 List, or a typed list
// such as PodList or DeploymentList as `kubectl get -o yaml` prints them.
func isListKind(kind string) bool {
	return kind == "List" || (strings.HasSuffix(kind, "List") && len(kind) > len("List"))
}

func (l *loader) addList(doc yamlsrc.Document, items *yaml.Node, apiVersion, kind string) {
	if items.Kind != yaml.SequenceNode {
		if items.Tag == "!!null" {
			return // "items: null" is an empty list
		}
		l.errs = append(l.errs, diag.Errorf(doc.File, items.Line, "items", "expected a list, got %s", nodeKind(items)))
		return
	}
	var defVersion, defKind string
	if kind != "List" {
		defVersion, defKind = apiVersion, strings.TrimSuffix(kind, "List")
	}
	for i, n := range items.Content {
		n = resolveAlias(n)
		it := item{doc: doc, node: n, index: i, prefix: fmt.Sprintf("items[%d]", i), apiVersion: defVersion, kind: defKind}
		if n.Kind != yaml.MappingNode {
			l.errs = append(l.errs, diag.Errorf(doc.File, n.Line, it.prefix, "expected a Kubernetes object (a mapping), got %s", nodeKind(n)))
			continue
		}
		if _, k, err := typeMeta(it); err == nil && isListKind(k) && mapValue(n, "items") != nil {
			l.errs = append(l.errs, diag.Errorf(doc.File, n.Line, it.prefix, "a List inside a List is not supported"))
			continue
		}
		l.addObject(it)
	}
}

// typeMeta reads apiVersion and kind, which every object must have.
func typeMeta(it item) (apiVersion, kind string, err error) {
	apiVersion, err = scalarField(it, "apiVersion", it.apiVersion)
	if err != nil {
		return "", "", err
	}
	kind, err = scalarField(it, "kind", it.kind)
	return apiVersion, kind, err
}

func scalarField(it item, key, def string) (string, error) {
	field := join(it.prefix, key)
	v := mapValue(it.node, key)
	if v == nil || (v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
		if def != "" {
			return def, nil
		}
		return "", diag.Errorf(it.doc.File, it.node.Line, field, "missing %s: every Kubernetes object needs apiVersion and kind", key)
	}
	if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value == "" {
		return "", diag.Errorf(it.doc.File, v.Line, field, "expected a non-empty string, got %s", nodeKind(v))
	}
	return v.Value, nil
}

func (l *loader) addObject(it item) {
	file := it.doc.File
	apiVersion, kind, err := typeMeta(it)
	if err != nil {
		l.errs = append(l.errs, err)
		return
	}
	group := groupOf(apiVersion)
	target := typedTarget(group, kind)
	content, err := l.unstructuredOf(file, it)
	if err != nil {
		l.errs = append(l.errs, err)
		return
	}
	var meta metav1.ObjectMeta
	if m := mapValue(it.node, "metadata"); m != nil {
		opts := yamlsrc.DecodeOptions{FieldPrefix: join(it.prefix, "metadata"), AllowDuplicates: true}
		if target == nil {
			// Typed kinds report unknown metadata fields in their own decode.
			opts.OnUnknown = l.onUnknown(file)
		}
		if err := yamlsrc.Decode(file, m, &meta, opts); err != nil {
			l.errs = append(l.errs, err)
			return
		}
	}
	name := meta.Name
	if name == "" {
		name = meta.GenerateName
	}
	if name == "" {
		l.errs = append(l.errs, diag.Errorf(file, it.node.Line, join(it.prefix, "metadata.name"), "missing metadata.name for %s", kind))
		return
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	obj := &Object{
		APIVersion:   apiVersion,
		Kind:         kind,
		Name:         name,
		Node:         it.node,
		Unstructured: u,
		Source:       Source{File: file, Line: it.node.Line, Index: it.doc.Index, Item: it.index},
	}
	if it.index < 0 {
		obj.Source.Line = it.doc.Line
	}
	if IsClusterScoped(apiVersion, kind) {
		// The API server drops a namespace written on a cluster-scoped object.
		u.SetNamespace("")
	} else {
		obj.Namespace = meta.Namespace
		if obj.Namespace == "" {
			obj.Namespace = l.opts.defaultNamespace()
			obj.NamespaceDefaulted = true
			u.SetNamespace(obj.Namespace)
		}
	}
	if target == nil && !l.live {
		if err := pruneCustomResource(it, apiVersion, kind, content, l.onUnknown(file)); err != nil {
			l.errs = append(l.errs, err)
			return
		}
	}
	if target != nil {
		opts := yamlsrc.DecodeOptions{FieldPrefix: it.prefix, AllowDuplicates: true, OnUnknown: l.onUnknown(file)}
		if err := yamlsrc.Decode(file, it.node, target, opts); err != nil {
			l.errs = append(l.errs, err)
			return
		}
		obj.typed = target
	}
	if !l.live && !l.opts.AcceptInvalidValues {
		// Objects read from a cluster were validated by its API server, by
		// its version's rules; files are validated here as it would.
		if errs := validateObject(it, &meta, obj, target); len(errs) > 0 {
			l.errs = append(l.errs, errs...)
			return
		}
	}
	l.objects = append(l.objects, obj)
}

// onUnknown is what an unknown field of a typed kind becomes under
// Options.Validation: an error, a warning, or nothing.
func (l *loader) onUnknown(file string) func(*diag.InputError) {
	switch {
	case l.live || l.opts.Validation == ValidateIgnore:
		return nil
	case l.opts.Validation == ValidateWarn:
		return func(e *diag.InputError) {
			l.warnings = append(l.warnings, Warning{Source: Source{File: file, Line: e.Line, Item: -1},
				Msg: fmt.Sprintf("unknown field %q", e.Field)})
		}
	}
	return func(e *diag.InputError) { l.errs = append(l.errs, e) }
}

var lineInError = regexp.MustCompile(`^line (\d+): (.*)$`)

// unstructuredOf converts an object's node to its unstructured content. A
// field given twice is an error, a warning or nothing under
// Options.Validation; the later value wins, as in the API server's decoder.
func (l *loader) unstructuredOf(file string, it item) (map[string]any, error) {
	n := it.node
	var opts yamlsrc.JSONOptions
	switch {
	case l.live || l.opts.Validation == ValidateIgnore:
		opts.OnDuplicate = func(int, string) {}
	case l.opts.Validation == ValidateWarn:
		opts.OnDuplicate = func(line int, field string) {
			l.warnings = append(l.warnings, Warning{Source: Source{File: file, Line: line, Item: -1},
				Msg: fmt.Sprintf("duplicate field %q", join(it.prefix, field))})
		}
	default:
		opts.OnDuplicate = func(line int, field string) {
			l.errs = append(l.errs, diag.Errorf(file, line, join(it.prefix, field), "duplicate field: the key appears twice in its mapping"))
		}
	}
	data, err := yamlsrc.ToJSONWith(n, opts)
	if err != nil {
		line, msg := n.Line, err.Error()
		if m := lineInError.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		return nil, diag.Errorf(file, line, "", "%s", msg)
	}
	var content map[string]any
	// apimachinery's json keeps integers as int64, as unstructured helpers expect.
	if err := utiljson.Unmarshal(data, &content); err != nil {
		return nil, &diag.InputError{File: file, Line: n.Line, Msg: "cannot decode", Err: err}
	}
	return content, nil
}

// typedTarget returns a new value of the k8s.io/api type of the kinds budnet
// reasons about, or nil for other kinds. Decoding into it reports wrong types
// and unknown fields with file, line and field. The legacy extensions group
// is read with the current types, whose fields are a superset.
func typedTarget(group, kind string) any {
	switch {
	case group == "" && kind == "Pod":
		return &corev1.Pod{}
	case group == "" && kind == "Service":
		return &corev1.Service{}
	case group == "" && kind == "Namespace":
		return &corev1.Namespace{}
	case group == "" && kind == "ReplicationController":
		return &corev1.ReplicationController{}
	case (group == "apps" || group == "extensions") && kind == "Deployment":
		return &appsv1.Deployment{}
	case (group == "apps" || group == "extensions") && kind == "DaemonSet":
		return &appsv1.DaemonSet{}
	case (group == "apps" || group == "extensions") && kind == "ReplicaSet":
		return &appsv1.ReplicaSet{}
	case group == "apps" && kind == "StatefulSet":
		return &appsv1.StatefulSet{}
	case group == "batch" && kind == "Job":
		return &batchv1.Job{}
	case group == "batch" && kind == "CronJob":
		return &batchv1.CronJob{}
	case (group == "networking.k8s.io" || group == "extensions") && kind == "NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	}
	return nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolveAlias(n.Content[i]).Value == key {
			return resolveAlias(n.Content[i+1])
		}
	}
	return nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// maxNesting bounds how deep documents may nest, aliases followed; yamlsrc
// refuses deeper documents too, this keeps the size count's recursion bounded.
const maxNesting = 200

// expandedSize counts the nodes n expands to when aliases are followed,
// stopping once the count passes limit; tooDeep reports nesting beyond
// maxNesting. Sizes of aliased nodes are memoised, so the count itself stays
// linear in the document.
func expandedSize(n *yaml.Node, limit int) (size int, tooDeep bool) {
	memo := map[*yaml.Node]int{}
	var count func(n *yaml.Node, depth int) int
	count = func(n *yaml.Node, depth int) int {
		if depth > maxNesting {
			tooDeep = true
			return limit + 1
		}
		if n == nil {
			return 0
		}
		if n.Kind == yaml.AliasNode {
			return count(n.Alias, depth)
		}
		if s, ok := memo[n]; ok {
			return s
		}
		memo[n] = limit + 1 // a node reached again while being counted is a cycle
		total := 1
		for _, c := range n.Content {
			total += count(c, depth+1)
			if total > limit {
				break
			}
		}
		memo[n] = total
		return total
	}
	return count(n, 0), tooDeep
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!str":
		return strconv.Quote(truncate(n.Value))
	}
	return "the " + strings.TrimPrefix(n.Tag, "!!") + " " + truncate(n.Value)
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}
