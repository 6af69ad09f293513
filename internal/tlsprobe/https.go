package tlsprobe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// hstsMinMaxAge is one year, the minimum the HSTS preload list accepts
// (https://hstspreload.org/#submission-requirements) and what the guide's
// edge hardening asks for.
const hstsMinMaxAge = 31536000

// securityHeaders are the response headers the guide's ingress hardening
// (sections 7 and 11.2) expects on every HTTPS response. Their verdicts live
// in verdict.go.
var securityHeaders = []string{
	"Strict-Transport-Security",
	"Content-Security-Policy",
	"X-Frame-Options",
	"X-Content-Type-Options",
	"Referrer-Policy",
}

// probeHTTP checks plain HTTP's redirect and the HTTPS response headers.
func (p *Prober) probeHTTP(ctx context.Context, t Target) *HTTPInfo {
	info := &HTTPInfo{PlainURL: "http://" + net.JoinHostPort(t.Host, strconv.Itoa(p.opts.HTTPPort)) + "/"}
	client := p.httpClient()

	if resp, err := p.get(ctx, client, info.PlainURL); err != nil {
		info.PlainError = err.Error()
	} else {
		info.PlainStatus = resp.StatusCode
		info.PlainLocation = resp.Header.Get("Location")
	}

	httpsURL := "https://" + t.Address() + "/"
	resp, err := p.get(ctx, client, httpsURL)
	if err != nil {
		info.HTTPSError = err.Error()
		return info
	}
	info.HTTPSStatus = resp.StatusCode
	info.SecurityHeaders = map[string]string{}
	for _, h := range securityHeaders {
		if v := resp.Header.Values(h); len(v) > 0 {
			info.SecurityHeaders[h] = strings.Join(v, ", ")
		}
	}
	// Browsers honour only the first STS header (RFC 6797 section 8.1).
	info.HSTS = resp.Header.Get("Strict-Transport-Security")
	if age, ok := parseHSTSMaxAge(info.HSTS); ok {
		info.HSTSMaxAge = age
	}
	return info
}

// get fetches url without following redirects and returns the response with
// its body drained and closed: only status and headers matter here.
func (p *Prober) get(ctx context.Context, client *http.Client, url string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("build request for %s: %w", url, err)
	}
	req.Header.Set("User-Agent", "budnet-tlsprobe")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp, nil
}

// httpClient never follows redirects (the redirect is what is being judged)
// and does not verify certificates (the chain has its own check, and headers
// are worth reporting even from a misconfigured server).
func (p *Prober) httpClient() *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if to, ok := p.opts.Resolve[addr]; ok {
				addr = to
			}
			return p.opts.Dial(ctx, network, addr)
		},
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
		DisableKeepAlives: true,
		Proxy:             nil, // an HTTP(S)_PROXY would be judged instead of the edge
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// parseHSTSMaxAge extracts max-age from a Strict-Transport-Security value
// (RFC 6797 section 6.1: directives separated by ';', names case-insensitive,
// values optionally quoted).
func parseHSTSMaxAge(v string) (int64, bool) {
	for _, d := range strings.Split(v, ";") {
		name, val, ok := strings.Cut(strings.TrimSpace(d), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "max-age") {
			continue
		}
		val = strings.Trim(strings.TrimSpace(val), `"`)
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// frameAncestors reports whether a Content-Security-Policy restricts framing.
func frameAncestors(csp string) bool {
	for _, d := range strings.Split(csp, ";") {
		fields := strings.Fields(d)
		if len(fields) > 0 && strings.EqualFold(fields[0], "frame-ancestors") {
			return true
		}
	}
	return false
}
