package generate_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/testenv"
)

// chromiumBinary finds Debian's chromium, which .ci/run installs.
func chromiumBinary(t *testing.T) string { return testenv.Chromium(t) }

// cspPage is the page and script the browser loads: the script calls the
// allowed and the refused origin with fetch (both answer with CORS open,
// so only the CSP can stop a call) and writes what happened, CSP
// violation reports included, into the DOM for --dump-dom. The script is
// its own file because the CSP refuses inline scripts, as it should.
const cspScript = `
const out = {};
document.addEventListener('securitypolicyviolation', e => {
  out['violation ' + new URL(e.blockedURI).host] = e.effectiveDirective;
});
async function call(name, u) {
  try { const r = await fetch(u); out[name] = 'ok ' + (await r.text()); }
  catch (e) { out[name] = 'blocked'; }
}
Promise.all([call('allowed', ALLOWED), call('refused', REFUSED)]).then(() => {
  const pre = document.createElement('pre');
  pre.id = 'result';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
`

// TestCSPInChromium serves a page with the Content-Security-Policy the
// gateway-api edge sets (read from the generated HTTPRoute) and lets
// headless Chromium run it: a fetch to an origin the model's hosts call
// succeeds, a fetch to another origin is refused with a connect-src
// violation. Everything listens on loopback; the host names map to
// 127.0.0.1 through Chromium's resolver rules.
func TestCSPInChromium(t *testing.T) {
	bin := chromiumBinary(t)
	cors := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			fmt.Fprint(w, body)
		})
	}
	api := httptest.NewTLSServer(cors("api"))
	defer api.Close()
	evil := httptest.NewTLSServer(cors("evil"))
	defer evil.Close()
	port := func(s *httptest.Server) string { u, _ := url.Parse(s.URL); return u.Port() }
	allowed := "https://api.bud.test:" + port(api)
	refused := "https://evil.bud.test:" + port(evil)

	p := loadModel(t, "")
	for i := range p.Spec.Edge.Hosts {
		p.Spec.Edge.Hosts[i].Calls = nil
	}
	p.Spec.Edge.Hosts[0].Calls = []string{allowed, "wss://api.bud.test:" + port(api)}
	csps := cspOf(t, edgeObjects(t, p, platform.EdgeGatewayAPI), platform.EdgeGatewayAPI)
	csp := csps[0]
	if !strings.Contains(csp, "connect-src 'self' "+allowed) {
		t.Fatalf("CSP %q lacks the allowed origin", csp)
	}

	// Today's policy without connect-src: the web app's own API call is
	// refused, which is defect 6.
	noConnect := browse(t, bin, strings.Split(csp, "; connect-src")[0], allowed, refused)
	if !strings.Contains(noConnect, `"allowed":"blocked"`) {
		t.Errorf("without connect-src the API call was not refused: %s", noConnect)
	}
	result := browse(t, bin, csp, allowed, refused)
	for _, want := range []string{
		`"allowed":"ok api"`,
		`"refused":"blocked"`,
		`"violation evil.bud.test:` + port(evil) + `":"connect-src"`,
	} {
		if !strings.Contains(result, want) {
			t.Errorf("result lacks %s: %s", want, result)
		}
	}
	if strings.Contains(result, "violation api.bud.test") {
		t.Errorf("the allowed origin raised a violation: %s", result)
	}
}

// browse serves the test page with csp and returns what its script saw.
func browse(t *testing.T, bin, csp, allowed, refused string) string {
	t.Helper()
	page := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		switch r.URL.Path {
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprintf(w, "const ALLOWED = %q + '/x';\nconst REFUSED = %q + '/x';\n%s", allowed, refused, cspScript)
		default:
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><html><body><script src="/app.js"></script></body></html>`)
		}
	}))
	page.StartTLS()
	pu, _ := url.Parse(page.URL)
	pagePort := pu.Port()
	defer page.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-quic", "--ignore-certificate-errors", "--user-data-dir="+t.TempDir(),
		"--host-resolver-rules=MAP *.bud.test 127.0.0.1, EXCLUDE localhost",
		"--virtual-time-budget=15000", "--dump-dom",
		"https://app.bud.test:"+pagePort+"/")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := stdout.String()
	start := strings.Index(dom, `<pre id="result">`)
	if start < 0 {
		t.Fatalf("the page's script did not finish (CSP %q):\n%s", csp, dom)
	}
	return strings.ReplaceAll(dom[start:], "&quot;", `"`)
}
