package manifest

import "k8s.io/apimachinery/pkg/labels"

// SelectedBy reports whether sel selects any pod of the workload: each live
// Pod by its own labels when a live read listed any (a relabelled Pod no
// longer carries its template's labels), else the template's labels, which
// stand for every pod of a manifest. One home for "does this selector reach
// the workload's pods", so audit's checks read a live cluster as reach does.
func (w *Workload) SelectedBy(sel labels.Selector) bool {
	if len(w.LivePods) > 0 {
		for _, p := range w.LivePods {
			if sel.Matches(labels.Set(p.Labels)) {
				return true
			}
		}
		return false
	}
	return sel.Matches(labels.Set(w.Labels))
}
