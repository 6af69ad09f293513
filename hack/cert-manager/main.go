// Command cert-manager-controller is cert-manager's controller, built from the
// root module github.com/cert-manager/cert-manager so budnet's tests can run
// the component that issues the generated Certificates against the test API
// server (internal/kubetest). The upstream main and app packages live in the
// controller-binary module (cmd/controller/go.mod, which replaces the root
// module with ../../), and the Go module proxy does not serve that module; so
// this wrapper wires the controllers from the root module's packages itself,
// as cmd/controller/app/controller.go Run does (v1.21.1 tag, the newest tag
// of that file; the root module is v1.21.2):
//
//   - controller.NewContextFactory with the ContextOptions Run passes, filled
//     with the defaults of internal/apis/config/controller/v1alpha1
//     (defaults.go), which are internal and cannot be imported here;
//   - for every registered controller that --controllers enables,
//     controller.Known()[name](factory), then Run(workers, ctx);
//   - the shared informer factories started after the controllers built
//     their informers.
//
// Left out, because the tests run one controller on loopback: leader
// election, the metrics, healthz and profiler servers, the ACME, Vault and
// Venafi issuers and the ingress and gateway shims (their packages are not
// imported, so they cannot be enabled). The webhook is a separate binary and
// does not run: objects reach the controller as the API server's CRD schema
// admits them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager"
	"github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// Controllers register themselves with controller.Register in init.
	crapprover "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"

	// Issuer types the issuers and clusterissuers controllers set up
	// (issuer.RegisterIssuer in init), as cmd/controller/app/start.go imports them.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// defaultControllers are the controllers an internal CA and self-signed
// issuers need: the issuers' readiness, approval of CertificateRequests
// (no webhook or policy approver runs), signing, and the certificates
// controllers that turn a Certificate into a key, a request and a Secret.
var defaultControllers = []string{
	issuers.ControllerName,
	clusterissuers.ControllerName,
	crapprover.ControllerName,
	crca.CRControllerName,
	crselfsigned.CRControllerName,
	trigger.ControllerName,
	issuing.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
}

type options struct {
	kubeconfig               string
	clusterResourceNamespace string
	namespace                string
	controllers              []string
	workers                  int
}

func main() {
	klog.InitFlags(nil)
	var o options
	var controllers string
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the API server (required)")
	flag.StringVar(&o.clusterResourceNamespace, "cluster-resource-namespace", "cert-manager",
		"namespace holding the Secrets of ClusterIssuers (the Helm chart sets it to cert-manager's namespace)")
	flag.StringVar(&o.namespace, "namespace", "", "limit cert-manager to one namespace (ClusterIssuers are then off, as upstream)")
	flag.StringVar(&controllers, "controllers", strings.Join(defaultControllers, ","), "controllers to run, comma separated")
	flag.IntVar(&o.workers, "concurrent-workers", 5, "workers per controller (upstream default 5)")
	flag.Parse()
	o.controllers = strings.Split(controllers, ",")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log, "controller")
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager-controller:", err)
		logf.FlushLogs()
		os.Exit(1)
	}
	logf.FlushLogs()
}

func run(ctx context.Context, o options) error {
	if o.kubeconfig == "" {
		return errors.New("--kubeconfig is required")
	}
	known := controller.Known()
	for _, n := range o.controllers {
		if _, ok := known[n]; !ok {
			return fmt.Errorf("--controllers: unknown controller %q (built in: %s)", n, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
	}
	if o.namespace != "" && slices.Contains(o.controllers, clusterissuers.ControllerName) {
		return fmt.Errorf("--controllers: %s cannot run with --namespace (ClusterIssuers are cluster scoped)", clusterissuers.ControllerName)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)

	factory, err := controller.NewContextFactory(ctx, contextOptions(o))
	if err != nil {
		return err
	}
	base, err := factory.Build()
	if err != nil {
		return err
	}
	for _, n := range o.controllers {
		iface, err := known[n](factory)
		if err != nil {
			cancel()
			return errors.Join(fmt.Errorf("starting controller %s: %w", n, err), g.Wait())
		}
		g.Go(func() error { return iface.Run(o.workers, ctx) })
	}
	base.SharedInformerFactory.Start(ctx.Done())
	base.KubeSharedInformerFactory.Start(ctx.Done())
	base.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	err = g.Wait()
	base.HTTP01ResourceMetadataInformersFactory.Shutdown()
	base.KubeSharedInformerFactory.Shutdown()
	base.SharedInformerFactory.Shutdown()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// contextOptions are the ContextOptions cmd/controller/app/controller.go
// buildControllerContextFactory builds, with upstream's defaults
// (internal/apis/config/controller/v1alpha1/defaults.go, v1.21.2).
func contextOptions(o options) controller.ContextOptions {
	return controller.ContextOptions{
		Kubeconfig:         o.kubeconfig,
		KubernetesAPIQPS:   20,
		KubernetesAPIBurst: 50,
		Namespace:          o.namespace,
		ACMEOptions: controller.ACMEOptions{
			HTTP01SolverResourceRequestCPU:    resource.MustParse("10m"),
			HTTP01SolverResourceRequestMemory: resource.MustParse("64Mi"),
			HTTP01SolverResourceLimitsCPU:     resource.MustParse("100m"),
			HTTP01SolverResourceLimitsMemory:  resource.MustParse("64Mi"),
			ACMEHTTP01SolverRunAsNonRoot:      true,
			DNS01CheckRetryPeriod:             10 * time.Second,
			DNS01CheckAuthoritative:           true,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: 60},
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace: o.clusterResourceNamespace,
			// Ambient credentials only matter to ACME DNS-01 and Vault,
			// which are not built in; upstream's defaults regardless.
			ClusterIssuerAmbientCredentials: true,
		},
		IngressShimOptions: controller.IngressShimOptions{
			DefaultIssuerKind:                 "Issuer",
			DefaultIssuerGroup:                cmapi.GroupName,
			DefaultAutoCertificateAnnotations: []string{"kubernetes.io/tls-acme"},
		},
		CertificateOptions: controller.CertificateOptions{
			CopiedAnnotationPrefixes:                 []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"},
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
	}
}
