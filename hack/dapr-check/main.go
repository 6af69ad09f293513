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
//   - the caller's identity is what sentry issues: an X.509 certificate whose
//     URI SAN is spiffe://<trust domain>/ns/<namespace>/<app id>, presented
//     on the gRPC connection and read by Dapr's spiffe.FromGRPCContext.
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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"time"

	ocprom "contrib.go.opencensus.io/exporter/prometheus"
	prom "github.com/prometheus/client_golang/prometheus"
	"go.opencensus.io/stats/view"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
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
	Allowed bool   `json:"allowed"`
	Message string `json:"message,omitempty"`
	// Method is the method after Dapr's normalisation.
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

	meter := view.NewMeter()
	if err := diag.InitMetrics(meter, "dapr-check", "", config.MetricSpec{}); err != nil {
		return fmt.Errorf("init metrics: %w", err)
	}
	reg := prom.NewRegistry()
	exp, err := ocprom.NewExporter(ocprom.Options{Namespace: "dapr", Registry: reg})
	if err != nil {
		return fmt.Errorf("prometheus exporter: %w", err)
	}

	ca, err := newCA()
	if err != nil {
		return err
	}
	out := make([]Decision, 0, len(cases))
	for i, c := range cases {
		conf, ok := configs[c.Namespace]
		if !ok {
			return inputError{fmt.Errorf("case %d: no Configuration %s in namespace %q in %s", i, *name, c.Namespace, *configFile)}
		}
		before, err := aclSeries(exp)
		if err != nil {
			return err
		}
		d, err := decide(ca, conf, c)
		if err != nil {
			return inputError{fmt.Errorf("case %d: %w", i, err)}
		}
		after, err := aclSeries(exp)
		if err != nil {
			return err
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

func decide(ca *testCA, conf *config.Configuration, c Case) (Decision, error) {
	isHTTP := true
	switch c.AppProtocol {
	case "", "http":
	case "grpc":
		isHTTP = false
	default:
		return Decision{}, fmt.Errorf("appProtocol %q: want http or grpc", c.AppProtocol)
	}
	list, err := acl.ParseAccessControlSpec(conf.Spec.AccessControlSpec, isHTTP)
	if err != nil {
		return Decision{}, fmt.Errorf("ParseAccessControlSpec: %w", err)
	}
	verb := commonv1pb.HTTPExtension_NONE
	if c.Verb != "" {
		v, ok := commonv1pb.HTTPExtension_Verb_value[strings.ToUpper(c.Verb)]
		if !ok {
			return Decision{}, fmt.Errorf("verb %q: not an HTTP verb Dapr knows", c.Verb)
		}
		verb = commonv1pb.HTTPExtension_Verb(v)
	}
	op, err := method.NormalizeMethod(c.Method)
	if err != nil {
		// daprd answers InvalidArgument before the ACL: refused.
		return Decision{Allowed: false, Message: "invalid method: " + err.Error(), Method: c.Method}, nil
	}
	ctx := context.Background()
	if c.CallerAppID != "" {
		cert, err := ca.svid(c.TrustDomain, c.CallerNamespace, c.CallerAppID)
		if err != nil {
			return Decision{}, err
		}
		ctx = peer.NewContext(ctx, &peer.Peer{AuthInfo: credentials.TLSInfo{
			State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert, ca.cert}}},
		}})
	}
	allowed, msg := acl.ApplyAccessControlPolicies(ctx, op, verb, isHTTP, list)
	return Decision{Allowed: allowed, Message: msg, Method: op}, nil
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
}

func newCA() (*testCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return &testCA{key: key, cert: cert}, err
}

// svid is an X.509 SVID for spiffe://td/ns/namespace/appID.
func (ca *testCA) svid(td, namespace, appID string) (*x509.Certificate, error) {
	id := &url.URL{Scheme: "spiffe", Host: td, Path: "/ns/" + namespace + "/" + appID}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		URIs: []*url.URL{id}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
