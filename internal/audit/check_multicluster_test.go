package audit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// clientCert makes a self-signed client certificate in the group org.
func clientCert(t *testing.T, org string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kubernetes-admin", Organization: []string{org}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func kubeconfigSecret(user string) string {
	kc := `apiVersion: v1
kind: Config
clusters:
  - name: c
    cluster: {server: "https://c.example.com:6443", certificate-authority-data: "` + b64("ca") + `"}
users:
  - name: u
    user: ` + user + `
contexts:
  - name: c
    context: {cluster: c, user: u}
current-context: c
`
	return `apiVersion: v1
kind: Secret
metadata: {name: cluster-c, namespace: bud-system}
data:
  config: ` + b64(kc) + "\n"
}

func TestKubeconfigAttacks(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       Status
		msg        string
	}{
		{name: "system:masters client certificate (base64 in data)", yaml: kubeconfigSecret(`{client-certificate-data: "` + clientCert(t, "system:masters") + `", client-key-data: "` + b64("k") + `"}`), want: StatusFail, msg: "system:masters"},
		{name: "client certificate of another group", yaml: kubeconfigSecret(`{client-certificate-data: "` + clientCert(t, "bud:deployers") + `", client-key-data: "` + b64("k") + `"}`), want: StatusPartial},
		{name: "scoped token", yaml: kubeconfigSecret(`{token: abc.def.ghi}`), want: StatusPass},
		{name: "exec plugin", yaml: kubeconfigSecret(`{exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, args: [eks, get-token]}}`), want: StatusPass},
		{name: "not a kubeconfig", yaml: `apiVersion: v1
kind: ConfigMap
metadata: {name: notes, namespace: bud-system}
data: {readme: "clusters and users are listed elsewhere"}`, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, checkKubeconfigs(), tt.yaml)
			st, msg := statusOf(rs, "")
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
		})
	}
}
