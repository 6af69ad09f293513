package platform

import "testing"

func TestDefaultIsValid(t *testing.T) {
	p, err := Default()
	if err != nil {
		for _, e := range Problems(err) {
			t.Error(e)
		}
		t.FailNow()
	}
	if len(p.Spec.Workloads) == 0 {
		t.Fatal("no workloads")
	}
}
