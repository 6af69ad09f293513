package generate_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/platform"
)

// wafRequest is one request of the Coraza proof and what the WAF must do
// with it: status 403 and a detection from the CRS rule family (rule id
// prefix) for attacks, 200 for what Bud's clients send.
type wafRequest struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Target  string            `json:"target"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`

	status int    // wanted status
	family string // wanted CRS rule id prefix among the detections
}

func wafRequests() []wafRequest {
	json := map[string]string{"Content-Type": "application/json"}
	return []wafRequest{
		// Attacks: one or more CRS payloads per family the guide names.
		{Name: "sqli tautology in query", Method: "GET", Target: "/api/v1/users?id=1%27%20OR%20%271%27%3D%271", status: 403, family: "942"},
		{Name: "sqli union select", Method: "GET", Target: "/api/v1/users?id=1%20UNION%20SELECT%20username,password%20FROM%20users--", status: 403, family: "942"},
		{Name: "sqli in json body", Method: "POST", Target: "/api/v1/login", Headers: json,
			Body: `{"user":"admin' OR 1=1--","password":"x"}`, status: 403, family: "942"},
		{Name: "path traversal in query", Method: "GET", Target: "/download?file=../../../../etc/passwd", status: 403, family: "930"},
		{Name: "encoded path traversal", Method: "GET", Target: "/download?file=%2e%2e%2f%2e%2e%2fetc%2fshadow", status: 403, family: "930"},
		{Name: "scanner user agent nikto", Method: "GET", Target: "/",
			Headers: map[string]string{"User-Agent": "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)"}, status: 403, family: "913"},
		{Name: "scanner user agent sqlmap", Method: "GET", Target: "/",
			Headers: map[string]string{"User-Agent": "sqlmap/1.7.2#stable (https://sqlmap.org)"}, status: 403, family: "913"},
		{Name: "xss in query", Method: "GET", Target: "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E", status: 403, family: "941"},
		{Name: "command injection", Method: "GET", Target: "/api/v1/ping?host=127.0.0.1%3Bcat%20/etc/passwd", status: 403, family: "932"},
		// What Bud's clients send.
		{Name: "page", Method: "GET", Target: "/", status: 200},
		{Name: "api list with query", Method: "GET", Target: "/api/v1/models?page=2&limit=20&sort=name", status: 200},
		{Name: "chat completion", Method: "POST", Target: "/v1/chat/completions", Headers: json,
			Body: `{"model":"llama-3-8b","stream":true,"messages":[{"role":"user","content":"Summarise the attached report in three sentences."}]}`, status: 200},
		{Name: "event stream", Method: "GET", Target: "/v1/notifications/stream",
			Headers: map[string]string{"Accept": "text/event-stream", "Cache-Control": "no-cache"}, status: 200},
		{Name: "form login", Method: "POST", Target: "/auth/login", Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			Body: "username=alice%40example.com&password=correct-horse-battery", status: 200},
		{Name: "update", Method: "PUT", Target: "/api/v1/projects/42", Headers: json, Body: `{"name":"eval run","tags":["llm","benchmark"]}`, status: 200},
		{Name: "partial update", Method: "PATCH", Target: "/api/v1/endpoints/7", Headers: json, Body: `{"replicas":2}`, status: 200},
		{Name: "dataset upload", Method: "POST", Target: "/api/v1/datasets", Headers: map[string]string{"Content-Type": "multipart/form-data; boundary=XyZ"},
			Body: "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"prompts.jsonl\"\r\nContent-Type: application/json\r\n\r\n" +
				strings.Repeat(`{"prompt":"Translate the sentence into French.","completion":"Traduisez la phrase en français."}`+"\n", 20000) + "\r\n--XyZ--\r\n", status: 200},
		// The model's maxBodySize (10m): one byte more is refused by the WAF
		// as by the edge's own limit.
		{Name: "body over the limit", Method: "POST", Target: "/api/v1/datasets", Headers: json,
			Body: `{"data":"` + strings.Repeat("a", 10<<20) + `"}`, status: 413},
		{Name: "bearer api call", Method: "DELETE", Target: "/api/v1/projects/3f2a9c1e-7b4d-4c2e-9a51-0d8e6f1b2c3d",
			Headers: map[string]string{"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"}, status: 200},
	}
}

// TestCorazaLoadsGeneratedWAF is the WAF proof (issue 12 defect 2): the
// Middleware generate writes for the Traefik and Gateway API edges is loaded
// the way its plugin (coraza-http-wasm-traefik v0.2.2) loads it, into the
// Coraza engine and Core Rule Set that plugin embeds (hack/coraza-check),
// and requests are sent through it over HTTP on loopback. Include names the
// plugin's filesystem lacks fail at load, which is how the plugin dies at
// init in Traefik.
func TestCorazaLoadsGeneratedWAF(t *testing.T) {
	bin := harnessBinary(t, "BUDNET_CORAZA_CHECK", "coraza-check-v0.2.2", "coraza-check")
	reqs := wafRequests()
	in, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, edge := range []platform.EdgeKind{platform.EdgeTraefik, platform.EdgeGatewayAPI} {
		t.Run(string(edge), func(t *testing.T) {
			files, err := generate.Generate(loadModel(t, ""), generate.Options{Edge: edge})
			if err != nil {
				t.Fatal(err)
			}
			out, err := runHarness(t, bin, in, "-manifests", writeStream(t, files), "-middleware", "budnet-waf", "-plugin", "coraza")
			if err != nil {
				t.Fatalf("Coraza refuses the generated WAF Middleware: %v", err)
			}
			var got []struct {
				Name    string `json:"name"`
				Status  int    `json:"status"`
				RuleIDs []int  `json:"ruleIDs"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(got) != len(reqs) {
				t.Fatalf("%d answers for %d requests", len(got), len(reqs))
			}
			for i, r := range reqs {
				g := got[i]
				if g.Status != r.status {
					t.Errorf("%s: %s %s answered %d, want %d (detections %v)", r.Name, r.Method, r.Target, g.Status, r.status, g.RuleIDs)
					continue
				}
				if r.family != "" && !slices.ContainsFunc(g.RuleIDs, func(id int) bool {
					return strings.HasPrefix(strconv.Itoa(id), r.family)
				}) {
					t.Errorf("%s: blocked, but no CRS %sxxx rule among the detections %v", r.Name, r.family, g.RuleIDs)
				}
			}
		})
	}
}

// TestCorazaRefusesUnknownInclude keeps the harness honest: the names the
// generator used before (coraza-proxy-wasm's) must fail to load, with
// Coraza's own message.
func TestCorazaRefusesUnknownInclude(t *testing.T) {
	bin := harnessBinary(t, "BUDNET_CORAZA_CHECK", "coraza-check-v0.2.2", "coraza-check")
	tests := []struct {
		name       string
		directives []string
		want       string
	}{
		{name: "proxy-wasm recommended name", directives: []string{"Include @recommended-conf", "SecRuleEngine On"},
			want: "open @recommended-conf: file does not exist"},
		{name: "proxy-wasm crs setup name", directives: []string{"Include @coraza.conf-recommended", "Include @crs-setup-conf"},
			want: "open @crs-setup-conf: file does not exist"},
		{name: "no directives", directives: []string{}, want: "empty directives"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := json.Marshal(tt.directives)
			mw := "apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata:\n  name: budnet-waf\n  namespace: x\nspec:\n  plugin:\n    coraza:\n      directives: " + string(d) + "\n"
			path := filepath.Join(t.TempDir(), "mw.yaml")
			if err := os.WriteFile(path, []byte(mw), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := runHarness(t, bin, []byte(`[{"name":"x","method":"GET","target":"/"}]`), "-manifests", path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestCorazaBodyLimitFollowsModel: the WAF's body limits follow the model's
// maxBodySize, including below Coraza's default in-memory limit (Coraza
// refuses a body limit under the in-memory one), and the WAF is loaded by
// Coraza for each (hack/coraza-check).
func TestCorazaBodyLimitFollowsModel(t *testing.T) {
	bin := harnessBinary(t, "BUDNET_CORAZA_CHECK", "coraza-check-v0.2.2", "coraza-check")
	tests := []struct {
		name       string
		size       string
		pass, fail int // body sizes that must pass and get 413
	}{
		// Below Coraza's 128 KiB in-memory default: both limits move.
		{name: "small", size: "64k", pass: 64 << 10, fail: 64<<10 + 1},
		// Above the recommended configuration's 12.5 MiB: the model's wins.
		{name: "above the recommended limit", size: "16m", pass: 13 << 20, fail: 16<<20 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadModel(t, "")
			p.Spec.Edge.MaxBodySize = tt.size
			files, err := generate.Generate(p, generate.Options{Edge: platform.EdgeTraefik})
			if err != nil {
				t.Fatal(err)
			}
			// A file upload of the body's size, as the services take datasets
			// (a form field that large would take CRS minutes to inspect).
			upload := map[string]string{"Content-Type": "multipart/form-data; boundary=XyZ"}
			head := "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.txt\"\r\nContent-Type: text/plain\r\n\r\n"
			tail := "\r\n--XyZ--\r\n"
			at := func(n int) string { return head + strings.Repeat("b", n-len(head)-len(tail)) + tail }
			reqs := []wafRequest{
				{Name: "within the limit", Method: "POST", Target: "/upload", Headers: upload, Body: at(tt.pass)},
				{Name: "over the limit", Method: "POST", Target: "/upload", Headers: upload, Body: at(tt.fail)},
			}
			in, _ := json.Marshal(reqs)
			out, err := runHarness(t, bin, in, "-manifests", writeStream(t, files))
			if err != nil {
				t.Fatalf("Coraza refuses the generated WAF Middleware: %v", err)
			}
			var got []struct{ Status int }
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			want := []int{200, 413}
			for i := range reqs {
				if got[i].Status != want[i] {
					t.Errorf("%s: %d, want %d", reqs[i].Name, got[i].Status, want[i])
				}
			}
		})
	}
}
