package audit

import (
	"fmt"
	"strings"

	commonconfig "github.com/prometheus/common/config"
	yamlv2 "go.yaml.in/yaml/v2"

	"github.com/budnet/budnet/internal/manifest"
)

// Guide sections 4.1 ("Monitoring -> Cluster 9090 HTTPS: metrics
// scraping") and 10.1: a scrape job that sends credentials (the Prometheus
// ServiceAccount token, basic auth, OAuth2) must verify whom it sends them
// to. Scrape configs are read with Prometheus's own HTTP client
// configuration type (github.com/prometheus/common/config.HTTPClientConfig,
// whose Validate turns bearer_token(_file) into authorization), from
// prometheus.yml in ConfigMaps and Secrets (the Operator's
// additionalScrapeConfigs) and from ServiceMonitors and PodMonitors.

// scrapeJob is the part of a Prometheus scrape_config this check reads;
// the rest (service discovery, relabelling) is ignored, not refused.
type scrapeJob struct {
	JobName string                        `yaml:"job_name"`
	Scheme  string                        `yaml:"scheme"`
	HTTP    commonconfig.HTTPClientConfig `yaml:",inline"`
}

type promFile struct {
	ScrapeConfigs []scrapeJob `yaml:"scrape_configs"`
}

func checkScrapeTLS() Check {
	return Check{
		ID: "BUD-10.1-02", Title: "Scrape jobs that send credentials verify the target", Section: "10.1", Severity: SeverityHigh,
		Remediation: "Give every scrape job that sends a token, basic auth or OAuth2 scheme https with tls_config.ca_file (the cluster CA for kubelets and the API server) and no insecure_skip_verify; in ServiceMonitors, tlsConfig.ca instead of insecureSkipVerify. A Prometheus ServiceAccount token sent to an unverified target can be replayed against the API server.",
		Doc:         docOf("BUD-10.1-02"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, o := range objectsOf(c.Inventory, groupsCore, "ConfigMap", "Secret") {
				cd := readConfigData(o)
				for _, k := range cd.keys {
					out = append(out, scrapeFile(o, k, cd.data[k])...)
				}
			}
			for _, o := range objectsOf(c.Inventory, groupsPromOp, "ServiceMonitor", "PodMonitor") {
				out = append(out, monitorEndpoints(o)...)
			}
			return out
		},
	}
}

// scrapeFile reads a prometheus.yml (a map with scrape_configs) or an
// additional-scrape-configs file (a list of scrape configs).
func scrapeFile(o *manifest.Object, key, text string) []Result {
	if !strings.Contains(text, "job_name") {
		return nil
	}
	var jobs []scrapeJob
	var f promFile
	if err := yamlv2.Unmarshal([]byte(text), &f); err == nil && len(f.ScrapeConfigs) > 0 {
		jobs = f.ScrapeConfigs
	} else if err := yamlv2.Unmarshal([]byte(text), &jobs); err != nil {
		return []Result{res(StatusFail, o.Ref()+" "+key, "scrape configuration that Prometheus cannot parse: "+err.Error(), ObjectEvidence(o, dataField(o, key), "not judged"))}
	}
	var out []Result
	for _, j := range jobs {
		ev := ObjectEvidence(o, dataField(o, key), "job_name "+j.JobName)
		if o.Kind == "ConfigMap" {
			ev.Line = blockLine(o, key, text, "job_name", j.JobName)
		}
		out = append(out, judgeScrape(o.Ref()+" job "+j.JobName, j.Scheme, &j.HTTP, ev))
	}
	return out
}

// blockLine is the file line of the first line of a block scalar (data[key])
// holding both words; the key's line when not found.
func blockLine(o *manifest.Object, key, text, word, name string) int {
	base := o.LineOf(dataField(o, key))
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) && strings.Contains(l, name) {
			return base + 1 + i
		}
	}
	return base
}

func judgeScrape(subject, scheme string, h *commonconfig.HTTPClientConfig, ev Evidence) Result {
	if err := h.Validate(); err != nil {
		return res(StatusFail, subject, "Prometheus refuses this HTTP client configuration: "+err.Error(), ev)
	}
	creds := credentialsOf(h)
	if creds == "" {
		if h.TLSConfig.InsecureSkipVerify {
			return res(StatusPartial, subject, "insecure_skip_verify: scraped data may come from anyone (no credentials are sent)", ev)
		}
		return res(StatusPass, subject, "no credentials sent")
	}
	switch {
	case !strings.EqualFold(scheme, "https"):
		if scheme == "" {
			scheme = "http (the default)"
		}
		return res(StatusFail, subject, fmt.Sprintf("sends %s over %s: anyone on the path reads it", creds, scheme), ev)
	case h.TLSConfig.InsecureSkipVerify:
		return res(StatusFail, subject, fmt.Sprintf("sends %s with insecure_skip_verify: any server answering at the target receives it", creds), ev)
	}
	return res(StatusPass, subject, "sends "+creds+" over verified https", ev)
}

func credentialsOf(h *commonconfig.HTTPClientConfig) string {
	switch {
	case h.Authorization != nil && (h.Authorization.Credentials != "" || h.Authorization.CredentialsFile != "" || h.Authorization.CredentialsRef != ""):
		return "a " + strings.ToLower(h.Authorization.Type) + " token"
	case h.BasicAuth != nil:
		return "basic auth"
	case h.OAuth2 != nil:
		return "OAuth2 credentials"
	}
	return ""
}

// monitorEndpoints judges ServiceMonitor endpoints and PodMonitor
// podMetricsEndpoints (monitoring.coreos.com/v1 Endpoint: scheme, tlsConfig,
// bearerTokenFile, bearerTokenSecret, authorization, basicAuth, oauth2).
func monitorEndpoints(o *manifest.Object) []Result {
	list := "endpoints"
	if o.Kind == "PodMonitor" {
		list = "podMetricsEndpoints"
	}
	var out []Result
	for i, e := range nestedSlice(o, "spec", list) {
		em := asMap(e)
		field := fmt.Sprintf("spec.%s[%d]", list, i)
		creds := ""
		for _, k := range []string{"bearerTokenFile", "bearerTokenSecret", "authorization", "basicAuth", "oauth2"} {
			if _, ok := nestedIn(em, k); ok {
				creds = k
				break
			}
		}
		insecure := truthy(stringIn(em, "tlsConfig", "insecureSkipVerify"))
		h := &commonconfig.HTTPClientConfig{}
		h.TLSConfig.InsecureSkipVerify = insecure
		if creds != "" {
			h.Authorization = &commonconfig.Authorization{Type: "Bearer", CredentialsRef: creds}
			if creds == "basicAuth" {
				h.Authorization, h.BasicAuth = nil, &commonconfig.BasicAuth{Username: "x"}
			}
		}
		ev := ObjectEvidence(o, field, "")
		if insecure {
			ev = ObjectEvidence(o, field+".tlsConfig.insecureSkipVerify", "insecureSkipVerify with "+or(creds, "no credentials"))
		}
		out = append(out, judgeScrape(fmt.Sprintf("%s %s[%d]", o.Ref(), list, i), stringIn(em, "scheme"), h, ev))
	}
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
