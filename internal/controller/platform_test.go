package controller

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPlatformConfigMap: the model is read from a ConfigMap and an edit to
// it is picked up like any other change; without the ConfigMap the
// controller is not ready (no evaluation against a model it does not have).
func TestPlatformConfigMap(t *testing.T) {
	env := harness.Env(t)
	ctx := t.Context()
	data, err := os.ReadFile(filepath.Join("testdata", "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Clientset.CoreV1().Namespaces().Create(ctx, nsObject("platform-cm"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Config: env.Config, PlatformConfigMap: "platform-cm/model", Debounce: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "an evaluation failure for the missing ConfigMap", func() bool {
		return metricSum(t, c.Gatherer(), "budnet_evaluations_total") > 0
	})
	if c.Ready() {
		t.Fatal("ready without a platform model")
	}

	cms := env.Clientset.CoreV1().ConfigMaps("platform-cm")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "model"}, Data: map[string]string{PlatformKey: string(data)}}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready with the ConfigMap's model", func() bool {
		st := c.State()
		return c.Ready() && st != nil && st.Report.Platform == "mini"
	})
	cm.Data[PlatformKey] = strings.Replace(string(data), "name: mini", "name: mini-edited", 1)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edited model", func() bool { return c.State().Report.Platform == "mini-edited" })
}
