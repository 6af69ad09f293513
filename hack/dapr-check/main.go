// Command dapr-check decides Dapr service invocations against Dapr
// Configurations with Dapr's own code, for budnet's tests of the generated
// access-control objects (internal/generate proof_dapr_test.go).
//
//	dapr-check -config 30-dapr.yaml [-name access-control] <cases.json >decisions.json
//
// The config file is a YAML stream; every document of kind Configuration
// named -name is the app Configuration of its metadata.namespace. stdin is a
// JSON array of cases, stdout a JSON array of decisions in the same order.
//
// Each case goes the way a call reaches the callee's sidecar in Dapr v1.18.0:
//   - the Configuration is decoded as daprd decodes what the operator sends in
//     Kubernetes mode (JSON into config.LoadDefaultConfiguration(),
//     pkg/config/configuration.go LoadKubernetesConfiguration), then
//     acl.ParseAccessControlSpec builds the list (pkg/runtime/config.go);
//   - the method is normalised with method.NormalizeMethod and checked with
//     acl.ApplyAccessControlPolicies (pkg/api/grpc/daprinternal.go
//     callLocalValidateACL, shared by CallLocal and CallLocalStream);
//   - the caller's identity is what sentry issues, an X.509 SVID whose URI
//     SAN is spiffe://<trust domain>/ns/<namespace>/<app id>, presented in a
//     real mTLS handshake on loopback: the server uses the credentials
//     daprd's internal gRPC server uses (pkg/security/security.go
//     GRPCServerOptionMTLS: go-spiffe grpccredentials.MTLSServerCredentials,
//     tlsconfig.AuthorizeAny, trust anchors from dapr/kit trustanchors/static,
//     which answer every trust domain with the same bundle), and the ACL
//     reads the peer with Dapr's spiffe.FromGRPCContext. A caller without a
//     certificate fails the handshake, as with daprd.
//
// Metrics: Dapr's diagnostics are initialised as daprd does
// (diag.InitMetrics on a view meter) and exported with the same OpenCensus
// Prometheus exporter and "dapr" namespace as pkg/metrics/exporter.go; each
// decision reports which dapr_runtime_acl_* series moved, so a test can check
// the metric an alert reads against what Dapr records.
//
// Exit codes: 0 decided, 2 bad input (config, cases), 1 internal failure.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	ocprom "contrib.go.opencensus.io/exporter/prometheus"
	"github.com/dapr/kit/crypto/spiffe/trustanchors"
	"github.com/dapr/kit/crypto/spiffe/trustanchors/static"
	"github.com/dapr/kit/logger"
	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffegrpc/grpccredentials"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"go.opencensus.io/stats/view"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/dapr/dapr/pkg/acl"
	"github.com/dapr/dapr/pkg/config"
	diag "github.com/dapr/dapr/pkg/diagnostics"
	"github.com/dapr/dapr/pkg/messaging/method"
	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
)

// Case is one service invocation reaching the callee's sidecar.
type Case struct {
	// Namespace is the callee's namespace: it selects the Configuration.
	Namespace string `json:"namespace"`
	// CallerAppID, CallerNamespace and TrustDomain make the caller's SPIFFE
	// ID. An empty CallerAppID presents no client certificate.
	CallerAppID     string `json:"callerAppID"`
	CallerNamespace string `json:"callerNamespace"`
	TrustDomain     string `json:"trustDomain"`
	// Method is the invoked method as the caller names it (/cluster/list).
	Method string `json:"method"`
	// Verb is the HTTP verb (GET, POST, ...); empty for gRPC apps.
	Verb string `json:"verb"`
	// AppProtocol is the callee's app protocol: "http" (default) or "grpc".
	AppProtocol string `json:"appProtocol"`
}

// Decision is Dapr's answer to one Case.
type Decision struct {
	Allowed bool `json:"allowed"`
	// Stage is where the call ended: "acl" (decided by access control),
	// "invalid" (method refused by normalisation before it) or "tls"
	// (refused in the mTLS handshake).
	Stage   string `json:"stage"`
	Message string `json:"message,omitempty"`
	// Method is the method as the caller sent it (Message names the
	// normalised one Dapr decided on).
	Method string `json:"method"`
	// Metrics are the dapr_runtime_acl_* series (name{labels}) that moved,
	// with how much.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

type inputError struct{ error }

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dapr-check:", err)
		if errors.As(err, new(inputError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("dapr-check", flag.ContinueOnError)
	configFile := fs.String("config", "", "YAML file holding the Configurations")
	name := fs.String("name", "access-control", "name of the app Configuration")
	if err := fs.Parse(args); err != nil {
		return inputError{err}
	}
	if *configFile == "" {
		return inputError{errors.New("-config is required")}
	}
	configs, err := loadConfigurations(*configFile, *name)
	if err != nil {
		return inputError{err}
	}
	var cases []Case
	dec := json.NewDecoder(stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		return inputError{fmt.Errorf("cases on stdin: %w", err)}
	}
	if len(cases) == 0 {
		return inputError{errors.New("cases on stdin: none")}
	}

	// Dapr's loggers write to stdout, which carries the decisions.
	logOpts := logger.DefaultOptions()
	logOpts.OutputLevel = "warn"
	logOpts.OutputFile = "/dev/stderr"
	if err := logger.ApplyOptionsToLoggers(&logOpts); err != nil {
		return fmt.Errorf("dapr loggers: %w", err)
	}

	meter := view.NewMeter()
	if err := diag.InitMetrics(meter, "dapr-check", "", config.MetricSpec{}); err != nil {
		return fmt.Errorf("init metrics: %w", err)
	}
	reg := prom.NewRegistry()
	exp, err := ocprom.NewExporter(ocprom.Options{Namespace: "dapr", Registry: reg})
	if err != nil {
		return fmt.Errorf("prometheus exporter: %w", err)
	}

	lists := make([]*config.AccessControlList, len(cases))
	for i, c := range cases {
		conf, ok := configs[c.Namespace]
		if !ok {
			return inputError{fmt.Errorf("case %d: no Configuration %s in namespace %q in %s", i, *name, c.Namespace, *configFile)}
		}
		isHTTP, err := httpApp(c.AppProtocol)
		if err != nil {
			return inputError{fmt.Errorf("case %d: %w", i, err)}
		}
		if lists[i], err = acl.ParseAccessControlSpec(conf.Spec.AccessControlSpec, isHTTP); err != nil {
			return inputError{fmt.Errorf("case %d: Configuration %s/%s: ParseAccessControlSpec: %w", i, c.Namespace, *name, err)}
		}
	}
	ca, err := newCA()
	if err != nil {
		return err
	}
	srv, err := startCallee(ca, cases, lists)
	if err != nil {
		return err
	}
	defer srv.stop()

	out := make([]Decision, 0, len(cases))
	for i, c := range cases {
		before, err := aclSeries(exp)
		if err != nil {
			return err
		}
		d, err := srv.call(i, c)
		if err != nil {
			return inputError{fmt.Errorf("case %d: %w", i, err)}
		}
		after, err := settled(exp, before, d.Stage == "acl")
		if err != nil {
			return fmt.Errorf("case %d: %w", i, err)
		}
		for k, v := range after {
			if delta := v - before[k]; delta != 0 {
				if d.Metrics == nil {
					d.Metrics = map[string]float64{}
				}
				d.Metrics[k] = delta
			}
		}
		out = append(out, d)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// loadConfigurations reads every Configuration named name from a YAML
// stream, keyed by namespace. Each is decoded as daprd decodes the JSON the
// operator serves in Kubernetes mode.
func loadConfigurations(file, name string) (map[string]*config.Configuration, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[string]*config.Configuration{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i+1, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i+1, err)
		}
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(js, &head); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i+1, err)
		}
		if head.Kind != "Configuration" || head.Metadata.Name != name {
			continue
		}
		conf := config.LoadDefaultConfiguration()
		if err := json.Unmarshal(js, conf); err != nil {
			return nil, fmt.Errorf("%s: Configuration %s/%s: %w", file, head.Metadata.Namespace, name, err)
		}
		if _, dup := out[head.Metadata.Namespace]; dup {
			return nil, fmt.Errorf("%s: Configuration %s/%s twice", file, head.Metadata.Namespace, name)
		}
		out[head.Metadata.Namespace] = conf
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no Configuration named %s", file, name)
	}
	return out, nil
}

func httpApp(protocol string) (bool, error) {
	switch protocol {
	case "", "http":
		return true, nil
	case "grpc":
		return false, nil
	}
	return false, fmt.Errorf("appProtocol %q: want http or grpc", protocol)
}

// callee is a gRPC server with daprd's internal-server credentials whose
// interceptor does what callLocalValidateACL does before a call reaches the
// app.
type callee struct {
	ca      *testCA
	addr    string
	anchors trustanchors.Interface
	server  *grpc.Server
}

const caseKey = "dapr-check-case"

func startCallee(ca *testCA, cases []Case, lists []*config.AccessControlList) (*callee, error) {
	anchors, err := static.From(static.Options{Anchors: ca.pem})
	if err != nil {
		return nil, fmt.Errorf("trust anchors: %w", err)
	}
	svid, err := ca.svid("cluster.local", "dapr-check", "callee", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	intercept := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		v := md.Get(caseKey)
		if len(v) != 1 {
			return nil, status.Error(codes.InvalidArgument, "no case index")
		}
		i, err := strconv.Atoi(v[0])
		if err != nil || i < 0 || i >= len(cases) {
			return nil, status.Error(codes.InvalidArgument, "bad case index")
		}
		c := cases[i]
		// pkg/api/grpc/daprinternal.go callLocalValidateACL.
		op, err := method.NormalizeMethod(c.Method)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "invalid method: %v", err)
		}
		isHTTP, _ := httpApp(c.AppProtocol)
		verb := commonv1pb.HTTPExtension_NONE
		if isHTTP && c.Verb != "" {
			verb = commonv1pb.HTTPExtension_Verb(commonv1pb.HTTPExtension_Verb_value[strings.ToUpper(c.Verb)])
		}
		if ok, msg := acl.ApplyAccessControlPolicies(ctx, op, verb, isHTTP, lists[i]); !ok {
			return nil, status.Error(codes.PermissionDenied, msg)
		}
		return handler(ctx, req)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer(
		grpc.Creds(grpccredentials.MTLSServerCredentials(svid, anchors, tlsconfig.AuthorizeAny())),
		grpc.UnaryInterceptor(intercept))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(ln) }()
	return &callee{ca: ca, addr: ln.Addr().String(), anchors: anchors, server: srv}, nil
}

func (s *callee) stop() { s.server.Stop() }

// call makes case i's call to the callee from a caller holding the case's
// identity.
func (s *callee) call(i int, c Case) (Decision, error) {
	if c.Verb != "" {
		if _, ok := commonv1pb.HTTPExtension_Verb_value[strings.ToUpper(c.Verb)]; !ok {
			return Decision{}, fmt.Errorf("verb %q: not an HTTP verb Dapr knows", c.Verb)
		}
	}
	var creds credentials.TransportCredentials
	if c.CallerAppID == "" {
		// TLS with the trust anchors but no client certificate.
		pool := x509.NewCertPool()
		pool.AddCert(s.ca.cert)
		creds = credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "callee", MinVersion: tls.VersionTLS12,
			InsecureSkipVerify: true}) //nolint:gosec // the server's SPIFFE certificate has no DNS name; identity is not what this case tests
	} else {
		svid, err := s.ca.svid(c.TrustDomain, c.CallerNamespace, c.CallerAppID, x509.ExtKeyUsageClientAuth)
		if err != nil {
			return Decision{}, err
		}
		creds = grpccredentials.MTLSClientCredentials(svid, s.anchors, tlsconfig.AuthorizeAny())
	}
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return Decision{}, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, caseKey, strconv.Itoa(i))
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	switch status.Code(err) {
	case codes.OK:
		return Decision{Allowed: true, Stage: "acl", Method: c.Method}, nil
	case codes.PermissionDenied:
		return Decision{Stage: "acl", Message: status.Convert(err).Message(), Method: c.Method}, nil
	case codes.InvalidArgument:
		// daprd answers InvalidArgument before the ACL: refused.
		return Decision{Stage: "invalid", Message: status.Convert(err).Message(), Method: c.Method}, nil
	case codes.Unavailable:
		if c.CallerAppID == "" {
			return Decision{Stage: "tls", Message: status.Convert(err).Message(), Method: c.Method}, nil
		}
	}
	return Decision{}, fmt.Errorf("call: %w", err)
}

// settled scrapes until the access-control counters have taken the call's
// decision: OpenCensus records asynchronously, and every decision of
// acl.ApplyAccessControlPolicies adds exactly one to one of the four
// counters, so the total says when it has landed. A call that never reached
// access control must not move them.
func settled(exp *ocprom.Exporter, before map[string]float64, decided bool) (map[string]float64, error) {
	if !decided {
		after, err := aclSeries(exp)
		if err == nil && total(after) != total(before) {
			err = fmt.Errorf("access-control counters moved by %v for a call that never reached access control", total(after)-total(before))
		}
		return after, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		after, err := aclSeries(exp)
		if err != nil {
			return nil, err
		}
		switch got := total(after) - total(before); {
		case got == 1:
			return after, nil
		case got > 1:
			return nil, fmt.Errorf("access-control counters moved by %v for one decision", got)
		}
		if time.Now().After(deadline) {
			return nil, errors.New("access-control counters did not move within 20s of a decision")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func total(m map[string]float64) float64 {
	var n float64
	for _, v := range m {
		n += v
	}
	return n
}

// aclSeries scrapes the exporter as Prometheus would and returns the
// dapr_runtime_acl_* samples.
func aclSeries(h *ocprom.Exporter) (map[string]float64, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 {
		return nil, fmt.Errorf("scrape: HTTP %d: %s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if !strings.HasPrefix(line, "dapr_runtime_acl_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err != nil {
			return nil, fmt.Errorf("scrape: %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, nil
}

// testCA issues workload certificates in the shape sentry issues them.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pem  []byte
}

func newCA() (*testCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"dapr-check"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &testCA{key: key, cert: cert, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// svid is an X.509 SVID for spiffe://td/ns/namespace/appID.
func (ca *testCA) svid(td, namespace, appID string, usage x509.ExtKeyUsage) (*x509svid.SVID, error) {
	id, err := spiffeid.FromSegments(spiffeid.RequireTrustDomainFromString(td), "ns", namespace, appID)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		URIs: []*url.URL{id.URL()}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &x509svid.SVID{ID: id, Certificates: []*x509.Certificate{cert}, PrivateKey: key}, nil
}
