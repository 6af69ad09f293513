package manifest

import "testing"

func TestSourceAndKeyStrings(t *testing.T) {
	cases := []struct {
		name string
		got  string
		want string
	}{
		{name: "file and line", got: Source{File: "a.yaml", Line: 3}.String(), want: "a.yaml:3"},
		{name: "no line", got: Source{File: "big.yaml"}.String(), want: "big.yaml"},
		{name: "helm template wins over the rendered file", got: Source{File: "manifest", Template: "bud/templates/budapp.yaml", Line: 12}.String(), want: "bud/templates/budapp.yaml:12"},
		{name: "core group key", got: ObjectKey{Kind: "ConfigMap", Namespace: "bud", Name: "x"}.String(), want: "ConfigMap bud/x"},
		{name: "grouped cluster-scoped key", got: ObjectKey{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "r"}.String(), want: "ClusterRole.rbac.authorization.k8s.io/r"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %q, want %q", c.got, c.want)
			}
		})
	}
}

func TestObjectAt(t *testing.T) {
	inv := mustLoad(t, []string{fixture("good", "workloads.yaml")}, Options{})
	o := findObject(inv, "Service", "api")
	if o == nil {
		t.Fatal("service api missing")
	}
	if got, want := o.At("spec.ports[1].port"), fixture("good", "workloads.yaml")+":202"; got != want {
		t.Errorf("At = %q, want %q", got, want)
	}
	if got := o.Ref(); got != "shop/api[Service]" {
		t.Errorf("Ref = %q", got)
	}
}
