package admission

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/budnet/budnet/internal/controller"
	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/testenv"
)

var harness = kubetest.NewHarness(kubetest.Options{})

func TestMain(m *testing.M) { os.Exit(harness.Run(m)) }

// writeCert writes a self-signed serving certificate for 127.0.0.1 into dir
// as a kubernetes.io/tls Secret mounts it, and returns its PEM.
func writeCert(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "budnet-admission-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPEM
}

type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.seen
	w.seen = nil
	return out
}

// waitFor waits for cond through testenv.WaitFor.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 90*time.Second, what, cond)
}

// serveGuard serves the guard over the controller's caches on a loopback
// TLS server (enforce mode) until the test ends, and returns the handler,
// its URL and the CA bundle a webhook configuration needs.
func serveGuard(t *testing.T, c *controller.Controller) (*Handler, string, []byte) {
	t.Helper()
	dir := t.TempDir()
	caPEM := writeCert(t, dir)
	h, err := NewHandler(c.Current, ModeEnforce, 8*time.Second, false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{GetCertificate: (&CertReloader{Dir: dir}).GetCertificate}, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return h, "https://" + ln.Addr().String() + "/validate", caPEM
}

// warningClient is a client whose warning handler collects what the API
// server relays from webhooks.
func warningClient(t *testing.T, cfg *rest.Config) (kubernetes.Interface, *warnings) {
	t.Helper()
	warn := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = warn
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client, warn
}

func webPolicy(name, ns string, egress bool, to string) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}}
	if egress {
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": to}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		}}}}
	}
	return np
}

// TestWebhookThroughAPIServer registers the guard with a real API server
// (ValidatingWebhookConfiguration, caBundle of the test's loopback TLS
// server) and makes real client calls: a NetworkPolicy that breaks the model
// flow is denied, a harmless one admitted, and in warn mode the client's
// warning handler receives the guard's warning.
func TestWebhookThroughAPIServer(t *testing.T) {
	env := harness.Env(t)
	ctx := t.Context()
	objs, _ := fixture(t)
	var apply []*unstructured.Unstructured
	for _, o := range objs {
		// web's egress starts open: isolating it is what breaks the flow.
		if o.GetKind() == "NetworkPolicy" && o.GetNamespace() == "app" {
			continue
		}
		if o.GetKind() == "Namespace" {
			l := o.GetLabels()
			l["budnet-guard"] = "on"
			o.SetLabels(l)
		}
		apply = append(apply, o)
	}
	// Under -count=N the API server outlives a run: the fixture is then
	// already there, as the cleanup below left it.
	if err := env.Apply(ctx, apply...); err != nil && !allAlreadyExist(err) {
		t.Fatal(err)
	}

	c, err := controller.New(controller.Options{Config: env.Config, PlatformFile: filepath.Join("testdata", "platform.yaml"), Debounce: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = c.Run(cctx) }()
	waitFor(t, "controller ready", c.Ready)

	h, url, caPEM := serveGuard(t, c)
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(10)
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "budnet-admission-test"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "networkpolicies.guard.budnet.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			TimeoutSeconds:          &timeout,
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"budnet-guard": "on"}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{"networking.k8s.io"}, APIVersions: []string{"v1"}, Resources: []string{"networkpolicies"}},
			}},
		}},
	}
	if _, err := env.Clientset.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The API server outlives the test under -count=N: leave it as found,
	// the webhook first so the deletes below are not sent to a stopped guard.
	t.Cleanup(func() {
		bg := context.Background()
		_ = env.Clientset.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(bg, vwc.Name, metav1.DeleteOptions{})
		_ = env.Clientset.NetworkingV1().NetworkPolicies("app").Delete(bg, "web-to-db", metav1.DeleteOptions{})
		_ = env.Clientset.NetworkingV1().NetworkPolicies("data").Delete(bg, "db-metrics", metav1.DeleteOptions{})
	})

	client, warn := warningClient(t, env.Config)
	nps := client.NetworkingV1().NetworkPolicies("app")
	lockdown := webPolicy("web-lockdown", "app", false, "")

	// Dry-run creates until the API server calls the webhook (its
	// configuration is loaded asynchronously); dry run keeps the cluster as is.
	var denial error
	waitFor(t, "the API server calls the guard", func() bool {
		_, denial = nps.Create(ctx, lockdown, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return denial != nil
	})
	if !apierrors.IsForbidden(denial) || !strings.Contains(denial.Error(), "breaks app/web[Deployment] => data/db[StatefulSet] : TCP/5432 (flow web-to-db") {
		t.Fatalf("dry-run denial %v does not name the broken flow", denial)
	}
	if _, err := nps.Create(ctx, lockdown, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a create that breaks web-to-db: %v, want denied", err)
	}
	if _, err := nps.Get(ctx, "web-lockdown", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the denied policy exists: %v", err)
	}
	warn.take()
	if _, err := nps.Create(ctx, webPolicy("web-to-db", "app", true, "data"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a harmless create was refused: %v", err)
	}
	if w := warn.take(); len(w) > 0 {
		t.Errorf("a harmless create got warnings %q", w)
	}

	// Warn mode: a change opening db to every namespace is admitted, and the
	// client is told. The guard reads the controller's cache, which must
	// first hold web-to-db.
	waitFor(t, "web-to-db in the controller's cache", func() bool {
		objs, _, err := c.Current()
		if err != nil {
			return false
		}
		for _, o := range objs {
			if o.GetKind() == "NetworkPolicy" && o.GetName() == "web-to-db" {
				return true
			}
		}
		return false
	})
	h.SetMode(ModeWarn)
	port := intstrPort(9187)
	opener := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "db-metrics", Namespace: "data"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}}}}
	if _, err := client.NetworkingV1().NetworkPolicies("data").Create(ctx, opener, metav1.CreateOptions{}); err != nil {
		t.Fatalf("warn mode refused: %v", err)
	}
	w := warn.take()
	if !strings.Contains(strings.Join(w, "\n"), "opens lab/scratch[Deployment] => data/db[StatefulSet] : TCP/9187") {
		t.Errorf("warn mode: the client got warnings %q", w)
	}
}

func intstrPort(p int) intstr.IntOrString { return intstr.FromInt(p) }

// allAlreadyExist reports whether every error joined in err says its object
// already exists.
func allAlreadyExist(err error) bool {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return apierrors.IsAlreadyExists(err)
	}
	for _, e := range joined.Unwrap() {
		if !allAlreadyExist(e) {
			return false
		}
	}
	return true
}
