package manifest

import (
	"testing"

	"k8s.io/apimachinery/pkg/labels"
)

func TestSelectedBy(t *testing.T) {
	sel := labels.SelectorFromSet(labels.Set{"app": "db"})
	for _, tc := range []struct {
		name string
		w    Workload
		want bool
	}{
		{name: "manifest template selected", w: Workload{Labels: map[string]string{"app": "db"}}, want: true},
		{name: "manifest template not selected", w: Workload{Labels: map[string]string{"app": "web"}}},
		{name: "live pod relabelled into the selector, template not", want: true,
			w: Workload{Labels: map[string]string{"app": "web"}, LivePods: []LivePod{{Name: "web-0", Labels: map[string]string{"app": "web"}}, {Name: "web-1", Labels: map[string]string{"app": "db"}}}}},
		{name: "every live pod relabelled out, template still matches", // the template no longer speaks for the pods
			w: Workload{Labels: map[string]string{"app": "db"}, LivePods: []LivePod{{Name: "db-0", Labels: map[string]string{"app": "x"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.w.SelectedBy(sel); got != tc.want {
				t.Errorf("SelectedBy = %v, want %v", got, tc.want)
			}
		})
	}
}
