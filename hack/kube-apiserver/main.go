// Command kube-apiserver is the upstream kube-apiserver, built from the
// k8s.io/kubernetes module so the test harness (internal/kubetest) can run a
// real API server without downloading a release binary. This module is kept
// apart from budnet's go.mod on purpose: k8s.io/kubernetes drags in hundreds of
// modules and needs replace directives for its staging repositories.
//
// It mirrors cmd/kube-apiserver/apiserver.go of the same release.
package main

import (
	"os"
	_ "time/tzdata" // for timeZone support in CronJob, as upstream does

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
