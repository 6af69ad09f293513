package audit

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Guide section 9.2: "Management -> Cluster: kubeconfig with service account
// token". Kubeconfigs stored in Secrets and ConfigMaps are parsed with
// client-go's own loader (clientcmd.Load), the code kubectl runs.

func checkKubeconfigs() Check {
	return Check{
		ID: "BUD-9.2-01", Title: "Stored kubeconfigs verify the server and use a scoped token", Section: "9.2", Severity: SeverityHigh,
		Remediation: "Register workload clusters with a kubeconfig holding the cluster's CA and a ServiceAccount token bound to a namespaced Role: `budnet generate` emits that ServiceAccount, Role and token Secret per registered cluster. Never insecure-skip-tls-verify, basic auth or a system:masters client certificate.",
		Doc:         docOf("BUD-9.2-01"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, o := range objectsOf(c.Inventory, groupsCore, "Secret", "ConfigMap") {
				cd := readConfigData(o)
				for _, k := range cd.keys {
					v := cd.data[k]
					if !strings.Contains(v, "clusters") || !(strings.Contains(v, "users") || strings.Contains(v, "contexts")) {
						continue
					}
					cfg, err := clientcmd.Load([]byte(v))
					if err != nil || len(cfg.Clusters) == 0 {
						continue
					}
					out = append(out, judgeKubeconfig(cfg, res(StatusPass, o.Ref()+" "+k, "", ObjectEvidence(o, dataField(o, k), "kubeconfig"))))
				}
			}
			return out
		},
	}
}

func judgeKubeconfig(cfg *clientcmdapi.Config, r Result) Result {
	var problems []string
	partial := false
	for _, name := range sortedKeys(cfg.Clusters) {
		cl := cfg.Clusters[name]
		if cl.InsecureSkipTLSVerify {
			problems = append(problems, "cluster "+name+" sets insecure-skip-tls-verify: any server is trusted")
		}
	}
	for _, name := range sortedKeys(cfg.AuthInfos) {
		a := cfg.AuthInfos[name]
		switch {
		case a.Username != "" || a.Password != "":
			problems = append(problems, "user "+name+" uses basic auth (username/password)")
		case len(a.ClientCertificateData) > 0:
			if org := masters(a.ClientCertificateData); org != "" {
				problems = append(problems, fmt.Sprintf("user %s presents a client certificate of group %s: cluster-admin that cannot be revoked short of rotating the CA", name, org))
			} else {
				partial = true
			}
		case a.ClientCertificate != "":
			partial = true
		}
	}
	if len(problems) > 0 {
		r.Status = StatusFail
		r.Message = strings.Join(problems, "; ")
		r.Evidence[0].Detail = r.Message
		return r
	}
	if partial {
		r.Status = StatusPartial
		r.Message = "authenticates with a client certificate instead of a scoped ServiceAccount token: it cannot be revoked without rotating the cluster CA"
		return r
	}
	r.Message = "verifies the server and authenticates with a token or an exec/auth plugin"
	return r
}

// masters returns "system:masters" when the certificate's subject puts it in
// that group (O=system:masters), which Kubernetes binds to cluster-admin.
func masters(pemData []byte) string {
	for rest := pemData; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return ""
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			continue
		}
		if slices.Contains(cert.Subject.Organization, "system:masters") {
			return "system:masters"
		}
	}
}
