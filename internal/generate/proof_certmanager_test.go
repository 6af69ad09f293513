package generate_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/testenv"
)

// cert-manager v1.21.2, the version of the pinned CRDs (internal/crds/VERSIONS.md)
// and of the controller hack/ci-cert-manager.sh builds.
const (
	certManagerDir = "cert-manager-v1.21.2"
	certManagerBin = "cert-manager"
)

var certificatesGVR = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}

// issuedCert is one generated Certificate as cert-manager left it: the
// generated object, its status after issuance and the Secret's contents.
type issuedCert struct {
	spec   *unstructured.Unstructured // as generated
	status *unstructured.Unstructured // as read back from the API server
	leaf   *x509.Certificate
	ca     []byte // ca.crt
	secret *corev1.Secret
}

// TestCertManagerIssuesGeneratedCertificates is the cert-manager proof
// (issue 12): cert-manager's own controller (v1.21.2, hack/cert-manager)
// runs against a real API server holding the generated namespaces and
// cert-manager objects of the Bud model, and must issue every Certificate
// whose issuer runs in the cluster: the internal CA (self-signed bootstrap
// issuer, CA Certificate, CA ClusterIssuer) and every data store's server
// certificate; with the air-gapped issuer (spec.tls.issuer.kind ca) the edge
// hosts' certificates too. The Secrets are then read as a client would use
// them: the names a client dials are in the SANs, the key is the generated
// algorithm and size, the leaf verifies for those names against the CA
// Secret's ca.crt (x509.Verify), and a manual renewal (what `cmctl renew`
// does) issues a new certificate and key. The ACME issuer needs an ACME
// server and HTTP-01 through the edge, which is not run here (docs/generate.md).
func TestCertManagerIssuesGeneratedCertificates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane and cert-manager")
	}
	bin := harnessBinary(t, "BUDNET_CERT_MANAGER", certManagerDir, certManagerBin)
	t.Run("bud model, ACME edge", func(t *testing.T) {
		p := loadModel(t, "")
		if p.Spec.TLS.Issuer.Kind != "acme" {
			t.Fatalf("the Bud model's issuer is %q; this case is about the ACME edge next to the internal CA", p.Spec.TLS.Issuer.Kind)
		}
		env, certs := issueGenerated(t, bin, p)
		checkIssued(t, p, certs)
		renewManually(t, env, certs, "postgresql-tls")
	})
	t.Run("bud model, air-gapped issuer", func(t *testing.T) {
		p := loadModel(t, "")
		p.Spec.TLS.Issuer = platform.Issuer{Kind: "ca"}
		_, certs := issueGenerated(t, bin, p)
		for key, c := range certs {
			if c.leaf == nil {
				t.Errorf("%s: not issued by the internal CA", key)
			}
		}
		checkIssued(t, p, certs)
	})
}

// issueGenerated starts a control plane with cert-manager's CRDs, creates
// the generated namespaces and cert-manager objects for p, runs the
// cert-manager controller against it and waits until every Certificate of
// an in-cluster issuer (CA or self-signed) is Ready. Certificates of other
// issuers (ACME) are returned too, without status, so callers see them.
func issueGenerated(t *testing.T, bin string, p *platform.Platform) (*kubetest.Env, map[string]*issuedCert) {
	t.Helper()
	files, err := generate.Generate(p, generate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	objs = append(objs, fileNamed(t, files, generate.FileNamespaces).Objects...)
	objs = append(objs, fileNamed(t, files, generate.FileCerts).Objects...)

	env := kubetest.ForTest(t, kubetest.Options{Projects: []string{"cert-manager"}})
	if err := env.Apply(t.Context(), objs...); err != nil {
		t.Fatalf("the API server refused generated objects: %v", err)
	}
	cm, ok := p.Workload("cert-manager")
	if !ok {
		t.Fatal("the model has no cert-manager workload")
	}
	startCertManager(t, bin, env, cm.Zone)

	inCluster := map[string]bool{} // ClusterIssuer name -> signs in the cluster
	certs := map[string]*issuedCert{}
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterIssuer":
			_, ca, _ := unstructured.NestedMap(o.Object, "spec", "ca")
			_, ss, _ := unstructured.NestedMap(o.Object, "spec", "selfSigned")
			inCluster[o.GetName()] = ca || ss
		case "Certificate":
			certs[o.GetNamespace()+"/"+o.GetName()] = &issuedCert{spec: o}
		}
	}
	var want []string
	for key, c := range certs {
		issuer, _, _ := unstructured.NestedString(c.spec.Object, "spec", "issuerRef", "name")
		if kind, _, _ := unstructured.NestedString(c.spec.Object, "spec", "issuerRef", "kind"); kind != "ClusterIssuer" {
			t.Errorf("%s: issuerRef.kind %q, want ClusterIssuer", key, kind)
		}
		if inCluster[issuer] {
			want = append(want, key)
		} else {
			t.Logf("%s: issued by %s, which needs an ACME server: not run here", key, issuer)
		}
	}
	slices.Sort(want)
	if len(want) == 0 {
		t.Fatal("no generated Certificate is issued in the cluster: nothing to prove")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	for _, key := range want {
		ns, name, _ := strings.Cut(key, "/")
		st, err := waitReady(ctx, env, ns, name, nil)
		if err != nil {
			t.Fatalf("Certificate %s: %v", key, err)
		}
		c := certs[key]
		c.status = st
		c.secret, c.leaf, c.ca = readTLSSecret(t, env, ns, secretNameOf(t, c.spec))
	}
	t.Logf("cert-manager issued %d Certificates: %s", len(want), strings.Join(want, ", "))
	return env, certs
}

// startCertManager runs the controller with a kubeconfig for env, leader
// election off (the wrapper has none), ClusterIssuer Secrets read from ns as
// the Helm chart configures it (--cluster-resource-namespace is the
// namespace cert-manager is installed in). It is stopped with SIGTERM when
// the test ends, before the control plane stops; its log is printed when
// the test failed.
func startCertManager(t *testing.T, bin string, env *kubetest.Env, ns string) {
	t.Helper()
	kc, err := kubetest.Kubeconfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kcPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcPath, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "cert-manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--kubeconfig", kcPath, "--cluster-resource-namespace", ns, "-v", "2")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("cert-manager log (last 8 KiB):\n%s", tail(b, 8<<10))
			}
		}
	})
	// A controller that exits at start (bad flag, unknown controller) is a
	// failure now, not a five-minute wait later.
	select {
	case err := <-exited:
		exited <- err
		b, _ := os.ReadFile(logPath)
		t.Fatalf("cert-manager exited at start: %v\n%s", err, tail(b, 4<<10))
	case <-time.After(time.Second):
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitReady polls a Certificate until cert-manager reports it Ready for its
// current generation and, when done is given, done accepts its status. On
// ctx's end it returns the conditions it last saw.
func waitReady(ctx context.Context, env *kubetest.Env, ns, name string, done func(*unstructured.Unstructured) bool) (*unstructured.Unstructured, error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := "not found"
	for {
		u, err := env.Dynamic.Resource(certificatesGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			last = fmt.Sprint(conds)
			if isReady(u) && (done == nil || done(u)) {
				return u, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("not Ready: %w; last conditions: %s", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// isReady: condition Ready True for the object's current generation.
func isReady(u *unstructured.Unstructured) bool {
	c := condition(u, "Ready")
	if c == nil || c["status"] != "True" {
		return false
	}
	og, _, _ := unstructured.NestedInt64(c, "observedGeneration")
	return og == u.GetGeneration()
}

func condition(u *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

func secretNameOf(t *testing.T, u *unstructured.Unstructured) string {
	t.Helper()
	s, _, _ := unstructured.NestedString(u.Object, "spec", "secretName")
	if s == "" {
		t.Fatalf("Certificate %s/%s has no secretName", u.GetNamespace(), u.GetName())
	}
	return s
}

// readTLSSecret reads the Secret cert-manager wrote and parses its leaf.
func readTLSSecret(t *testing.T, env *kubetest.Env, ns, name string) (*corev1.Secret, *x509.Certificate, []byte) {
	t.Helper()
	s, err := env.Clientset.CoreV1().Secrets(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Secret %s/%s: %v", ns, name, err)
	}
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret %s/%s: type %q, want %q", ns, name, s.Type, corev1.SecretTypeTLS)
	}
	leaf, err := parseFirstCert(s.Data[corev1.TLSCertKey])
	if err != nil {
		t.Fatalf("Secret %s/%s tls.crt: %v", ns, name, err)
	}
	if _, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]); err != nil {
		t.Errorf("Secret %s/%s: tls.key does not match tls.crt: %v", ns, name, err)
	}
	if len(s.Data["ca.crt"]) == 0 {
		t.Errorf("Secret %s/%s: no ca.crt", ns, name)
	}
	return s, leaf, s.Data["ca.crt"]
}

func parseFirstCert(data []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(b.Bytes)
}

// checkIssued checks what cert-manager issued against the generated objects
// and, for the names, against the model read independently of generate:
// a data store with a TLS port is dialled by its Service's short, namespaced
// and cluster names (sslmode=verify-full, rediss://, ClickHouse over TLS);
// an edge host by its own name.
func checkIssued(t *testing.T, p *platform.Platform, certs map[string]*issuedCert) {
	t.Helper()
	var caCert *issuedCert
	for _, c := range certs {
		if isCA, _, _ := unstructured.NestedBool(c.spec.Object, "spec", "isCA"); isCA {
			if caCert != nil {
				t.Fatalf("two CA Certificates: %s and %s", caCert.spec.GetName(), c.spec.GetName())
			}
			caCert = c
		}
	}
	if caCert == nil || caCert.leaf == nil {
		t.Fatal("no issued CA Certificate among the generated objects")
	}
	caPEM := caCert.secret.Data[corev1.TLSCertKey]

	want := map[string][]string{} // namespace/name -> SANs a client dials
	for i := range p.Spec.Workloads {
		w := &p.Spec.Workloads[i]
		if w.Role != platform.RoleDatastore || !slices.ContainsFunc(w.Ports, func(np platform.NamedPort) bool { return np.TLS }) {
			continue
		}
		s := w.Service
		want[w.Zone+"/"+w.Name+"-tls"] = []string{s, s + "." + w.Zone, s + "." + w.Zone + ".svc", s + "." + w.Zone + ".svc.cluster.local"}
	}
	if len(want) == 0 {
		t.Fatal("the model has no data store with a TLS port")
	}

	t.Run("CA", func(t *testing.T) {
		ca := caCert.leaf
		if !ca.IsCA || !ca.BasicConstraintsValid || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
			t.Errorf("CA certificate: IsCA %v, basic constraints %v, key usage %b: not a CA", ca.IsCA, ca.BasicConstraintsValid, ca.KeyUsage)
		}
		if err := ca.CheckSignatureFrom(ca); err != nil {
			t.Errorf("CA certificate is not self-signed (the bootstrap issuer is selfSigned): %v", err)
		}
		if !bytes.Equal(caCert.ca, caPEM) {
			t.Error("the CA Secret's ca.crt is not its own certificate")
		}
		checkSpec(t, caCert)
	})
	for key, sans := range want {
		t.Run(key, func(t *testing.T) {
			c := certs[key]
			if c == nil || c.leaf == nil {
				t.Fatalf("no issued Certificate %s for the data store (generated: %v)", key, slices.Sorted(maps.Keys(certs)))
			}
			checkLeaf(t, c, caPEM, sans)
		})
	}
	for key, c := range certs {
		if c == caCert || want[key] != nil {
			continue
		}
		if c.leaf == nil {
			// Issued by ACME, which needs an ACME server (logged by
			// issueGenerated); the air-gapped case issues these hosts.
			if p.Spec.TLS.Issuer.Kind != "acme" {
				t.Errorf("%s was not issued although the model's issuer is %q", key, p.Spec.TLS.Issuer.Kind)
			}
			continue
		}
		t.Run(key, func(t *testing.T) {
			// Edge hosts: the host name alone.
			hosts, _, _ := unstructured.NestedStringSlice(c.spec.Object, "spec", "dnsNames")
			if len(hosts) != 1 || !slices.ContainsFunc(p.Spec.Edge.Hosts, func(h platform.EdgeHost) bool { return h.Name == hosts[0] }) {
				t.Fatalf("%s: dnsNames %v is not one edge host of the model", key, hosts)
			}
			checkLeaf(t, c, caPEM, hosts)
		})
	}
}

// checkLeaf: the leaf names exactly sans, verifies for each of them as a
// TLS server certificate against the Secret's ca.crt, which is the CA
// Secret's certificate, and matches the generated spec.
func checkLeaf(t *testing.T, c *issuedCert, caPEM []byte, sans []string) {
	t.Helper()
	got := slices.Sorted(slices.Values(c.leaf.DNSNames))
	if w := slices.Sorted(slices.Values(sans)); !slices.Equal(got, w) {
		t.Errorf("DNS SANs %v, want %v", got, w)
	}
	if !bytes.Equal(bytes.TrimSpace(c.ca), bytes.TrimSpace(caPEM)) {
		t.Error("ca.crt is not the internal CA's certificate")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(c.ca) {
		t.Fatal("ca.crt holds no certificate")
	}
	for _, name := range sans {
		if _, err := c.leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("x509.Verify for %s against ca.crt: %v", name, err)
		}
	}
	// Not for another name: the check above can fail.
	if _, err := c.leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "not-" + sans[0]}); err == nil {
		t.Errorf("the leaf verified for not-%s", sans[0])
	}
	opensslVerify(t, c, sans)
	checkSpec(t, c)
}

// opensslVerify verifies the leaf with OpenSSL, the library PostgreSQL's
// libpq, Valkey's and ClickHouse's clients verify with: the chain to
// ca.crt, each name (-verify_hostname, as sslmode=verify-full does) and the
// TLS server purpose, which also judges the key usages. It must refuse a
// name the leaf does not carry.
func opensslVerify(t *testing.T, c *issuedCert, sans []string) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		testenv.Missing(t, "openssl not found: apt-get install -y openssl")
		return
	}
	dir := t.TempDir()
	caFile, leafFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "tls.crt")
	if err := os.WriteFile(caFile, c.ca, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leafFile, c.secret.Data[corev1.TLSCertKey], 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(name string) error {
		out, err := exec.CommandContext(t.Context(), bin, "verify", "-CAfile", caFile, "-purpose", "sslserver",
			"-verify_hostname", name, leafFile).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
		}
		return nil
	}
	for _, name := range sans {
		if err := verify(name); err != nil {
			t.Errorf("openssl verify for %s: %v", name, err)
		}
	}
	if err := verify("not-" + sans[0]); err == nil {
		t.Errorf("openssl verified the leaf for not-%s", sans[0])
	}
}

// checkSpec: key algorithm and size, common name, duration, key usages and
// renewal time as the generated Certificate asks.
func checkSpec(t *testing.T, c *issuedCert) {
	t.Helper()
	spec := c.spec.Object
	algo, _, _ := unstructured.NestedString(spec, "spec", "privateKey", "algorithm")
	size, _, _ := unstructured.NestedInt64(spec, "spec", "privateKey", "size")
	switch k := c.leaf.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if algo != "ECDSA" || int64(k.Curve.Params().BitSize) != size {
			t.Errorf("key ECDSA %s, generated %s %d", k.Curve.Params().Name, algo, size)
		}
	case *rsa.PublicKey:
		if algo != "RSA" || int64(k.N.BitLen()) != size {
			t.Errorf("key RSA %d, generated %s %d", k.N.BitLen(), algo, size)
		}
	case ed25519.PublicKey:
		if algo != "Ed25519" {
			t.Errorf("key Ed25519, generated %s", algo)
		}
	default:
		t.Errorf("key type %T", k)
	}
	if cn, _, _ := unstructured.NestedString(spec, "spec", "commonName"); c.leaf.Subject.CommonName != cn {
		t.Errorf("common name %q, generated %q", c.leaf.Subject.CommonName, cn)
	}
	if d, ok, _ := unstructured.NestedString(spec, "spec", "duration"); ok {
		want, err := time.ParseDuration(d)
		if err != nil {
			t.Fatalf("generated duration %q: %v", d, err)
		}
		if got := c.leaf.NotAfter.Sub(c.leaf.NotBefore); got != want {
			t.Errorf("validity %s, generated duration %s", got, want)
		}
	}
	if rb, ok, _ := unstructured.NestedString(spec, "spec", "renewBefore"); ok {
		before, err := time.ParseDuration(rb)
		if err != nil {
			t.Fatalf("generated renewBefore %q: %v", rb, err)
		}
		rt, _, _ := unstructured.NestedString(c.status.Object, "status", "renewalTime")
		got, err := time.Parse(time.RFC3339, rt)
		if err != nil {
			t.Fatalf("status.renewalTime %q: %v", rt, err)
		}
		if want := c.leaf.NotAfter.Add(-before); !got.Equal(want) {
			t.Errorf("cert-manager renews at %s, want notAfter - renewBefore = %s", got, want)
		}
	}
	usages, _, _ := unstructured.NestedStringSlice(spec, "spec", "usages")
	for _, u := range usages {
		switch u {
		case "server auth":
			if !slices.Contains(c.leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
				t.Errorf("usage %q missing from %v", u, c.leaf.ExtKeyUsage)
			}
		case "digital signature":
			if c.leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
				t.Errorf("usage %q missing", u)
			}
		case "key encipherment":
			if c.leaf.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
				t.Errorf("usage %q missing", u)
			}
		default:
			t.Errorf("generated usage %q not checked here", u)
		}
	}
}

// renewManually does what `cmctl renew` does (cmctl pkg/renew: the Issuing
// condition set True with reason ManuallyTriggered through the status
// subresource) and waits until cert-manager has issued a new revision: a
// new serial and, with rotationPolicy Always, a new key, for the same
// names, still verifying against the CA.
func renewManually(t *testing.T, env *kubetest.Env, certs map[string]*issuedCert, name string) {
	t.Helper()
	var c *issuedCert
	for _, x := range certs {
		if x.spec.GetName() == name && x.leaf != nil {
			c = x
		}
	}
	if c == nil {
		t.Fatalf("no issued Certificate %s", name)
	}
	ns := c.spec.GetNamespace()
	oldRev, _, _ := unstructured.NestedInt64(c.status.Object, "status", "revision")
	if oldRev < 1 {
		t.Fatalf("%s: status.revision %d after issuance", name, oldRev)
	}
	client := env.Dynamic.Resource(certificatesGVR).Namespace(ns)
	cur, err := client.Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conds, _, _ := unstructured.NestedSlice(cur.Object, "status", "conditions")
	conds = append(conds, map[string]any{
		"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
		"message":            "Certificate re-issuance manually triggered",
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		"observedGeneration": cur.GetGeneration(),
	})
	if err := unstructured.SetNestedSlice(cur.Object, conds, "status", "conditions"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UpdateStatus(t.Context(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("trigger renewal: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	st, err := waitReady(ctx, env, ns, name, func(u *unstructured.Unstructured) bool {
		rev, _, _ := unstructured.NestedInt64(u.Object, "status", "revision")
		return rev > oldRev && condition(u, "Issuing") == nil
	})
	if err != nil {
		t.Fatalf("renewal of %s: %v", name, err)
	}
	secret, leaf, ca := readTLSSecret(t, env, ns, secretNameOf(t, c.spec))
	if leaf.SerialNumber.Cmp(c.leaf.SerialNumber) == 0 {
		t.Errorf("%s: the Secret still holds serial %s after renewal", name, leaf.SerialNumber)
	}
	if bytes.Equal(secret.Data[corev1.TLSPrivateKeyKey], c.secret.Data[corev1.TLSPrivateKeyKey]) {
		t.Errorf("%s: the private key was not rotated (rotationPolicy Always)", name)
	}
	renewed := &issuedCert{spec: c.spec, status: st, leaf: leaf, ca: ca, secret: secret}
	checkLeaf(t, renewed, c.ca, c.leaf.DNSNames)
	rev, _, _ := unstructured.NestedInt64(st.Object, "status", "revision")
	t.Logf("%s renewed: revision %d -> %d, serial %x -> %x", name, oldRev, rev, c.leaf.SerialNumber, leaf.SerialNumber)
}
