// Command coraza-check loads the directives of a generated Traefik Coraza
// Middleware into the Coraza engine and Core Rule Set that the named plugin
// version embeds, and sends requests through it over real HTTP on loopback,
// for budnet's tests (internal/generate proof_coraza_test.go).
//
//	coraza-check -manifests edge.yaml [-middleware budnet-waf] [-plugin coraza] <requests.json >results.json
//
// The plugin is github.com/jcchavezs/coraza-http-wasm-traefik v0.2.2, which
// ships the coraza-http-wasm v0.2.2 release (its release workflow and
// e2e/config-static.remote.yaml); coraza-http-wasm v0.2.2's go.mod pins
// github.com/corazawaf/coraza/v3 v3.1.0 and
// github.com/corazawaf/coraza-coreruleset/v4 v4.0.0, the versions this
// module requires. The plugin's own code is TinyGo compiled to WebAssembly
// and cannot be built here (no TinyGo; its release artefact is a GitHub
// download), so the plugin's Go source is mirrored:
//   - initWAF is coraza-http-wasm v0.2.2 main.go getDirectivesFromHost and
//     initializeWAF: the Middleware's plugin config as JSON (what Traefik
//     hands the guest), "directives" joined by newlines, root FS
//     coreruleset.FS;
//   - the handler is its handleRequest and handleInterruption: connection,
//     URI, headers (Host added), request headers phase, body when
//     accessible, request body phase; an interruption answers its deny
//     status or 403, anything else reaches a backend answering 200.
//
// The one difference: the wasm build registers coraza-wasilibs operators
// (RE2, Aho-Corasick, libinjection compiled to wasm) for @rx, @pm,
// @detectSQLi and @detectXSS; this build uses Coraza's Go implementations
// of the same operators (coraza-http-wasm operators/operators_go.go does
// the same outside TinyGo).
//
// Each request of stdin is {"name","method","target","headers","body"};
// target is sent as the raw request-target. The answer per request is
// {"name","status","ruleIDs"}: the HTTP status and the CRS rules that
// matched with a message (detections). A load error exits 2 with Coraza's message.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/tidwall/gjson"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Request is one request sent through the WAF.
type Request struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Target  string            `json:"target"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// Result is what the client got back.
type Result struct {
	Name    string `json:"name"`
	Status  int    `json:"status"`
	RuleIDs []int  `json:"ruleIDs,omitempty"`
}

type inputError struct{ error }

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "coraza-check:", err)
		if errors.As(err, new(inputError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("coraza-check", flag.ContinueOnError)
	manifests := fs.String("manifests", "", "YAML stream holding the Traefik Middleware")
	mwName := fs.String("middleware", "budnet-waf", "name of the Middleware")
	plugin := fs.String("plugin", "coraza", "plugin name under spec.plugin")
	if err := fs.Parse(args); err != nil {
		return inputError{err}
	}
	if *manifests == "" {
		return inputError{errors.New("-manifests is required")}
	}
	cfg, err := pluginConfig(*manifests, *mwName, *plugin)
	if err != nil {
		return inputError{err}
	}
	waf, err := initWAF(cfg)
	if err != nil {
		return inputError{fmt.Errorf("plugin init (Traefik would stop the plugin): %w", err)}
	}
	var reqs []Request
	dec := json.NewDecoder(stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reqs); err != nil {
		return inputError{fmt.Errorf("requests on stdin: %w", err)}
	}
	if len(reqs) == 0 {
		return inputError{errors.New("requests on stdin: none")}
	}

	h := &handler{waf: waf, matched: map[string][]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	out := make([]Result, 0, len(reqs))
	for i, r := range reqs {
		status, err := send(ln.Addr().String(), i, r)
		if err != nil {
			return fmt.Errorf("request %q: %w", r.Name, err)
		}
		out = append(out, Result{Name: r.Name, Status: status, RuleIDs: h.rules(i)})
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// pluginConfig finds the Middleware in the YAML stream and returns its
// spec.plugin.<plugin> as JSON, the form Traefik passes to the plugin.
func pluginConfig(file, name, plugin string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var found []byte
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				Plugin map[string]json.RawMessage `json:"plugin"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		if obj.Kind != "Middleware" || obj.Metadata.Name != name {
			continue
		}
		cfg, ok := obj.Spec.Plugin[plugin]
		if !ok {
			return nil, fmt.Errorf("%s: Middleware %s has no spec.plugin.%s", file, name, plugin)
		}
		if found != nil && !bytes.Equal(found, cfg) {
			return nil, fmt.Errorf("%s: Middlewares named %s differ", file, name)
		}
		found = cfg
	}
	if found == nil {
		return nil, fmt.Errorf("%s: no Middleware named %s", file, name)
	}
	return found, nil
}

// initWAF is coraza-http-wasm v0.2.2 main.go getDirectivesFromHost and
// initializeWAF (Apache-2.0), without the host logger.
func initWAF(config []byte) (coraza.WAF, error) {
	wafConfig := coraza.NewWAFConfig().WithRootFS(coreruleset.FS)
	cfg := gjson.ParseBytes(config)
	if !cfg.Exists() {
		return nil, errors.New("invalid host config")
	}
	res := cfg.Get("directives")
	if !res.IsArray() {
		return nil, errors.New("invalid host config, array expected for field directives")
	}
	var directives strings.Builder
	first := true
	res.ForEach(func(_, value gjson.Result) bool {
		if !first {
			directives.WriteByte('\n')
		}
		first = false
		directives.WriteString(value.Str)
		return true
	})
	if directives.Len() == 0 {
		return nil, errors.New("empty directives")
	}
	return coraza.NewWAF(wafConfig.WithDirectives(directives.String()))
}

// handler is coraza-http-wasm v0.2.2 main.go handleRequest and
// handleInterruption (Apache-2.0) in front of a backend answering 200.
type handler struct {
	waf     coraza.WAF
	mu      sync.Mutex
	matched map[string][]int // request index -> rule ids
}

const indexHeader = "X-Coraza-Check-Index"

func (h *handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	idx := req.Header.Get(indexHeader)
	req.Header.Del(indexHeader)
	status, ids := h.evaluate(req)
	// Recorded before answering: the client reads them once it has the answer.
	h.mu.Lock()
	h.matched[idx] = ids
	h.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok\n")
}

func (h *handler) rules(idx int) []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.matched[strconv.Itoa(idx)]
}

// evaluate runs the request phases; status is the interruption's answer, 0
// when the request may reach the backend.
func (h *handler) evaluate(req *http.Request) (status int, ids []int) {
	tx := h.waf.NewTransaction()
	defer func() {
		for _, m := range tx.MatchedRules() {
			// Rules with a message are detections; the rest is CRS's
			// bookkeeping (initialisation, paranoia-level skips).
			if m.Message() != "" {
				ids = append(ids, m.Rule().ID())
			}
		}
		if tx.IsInterrupted() {
			tx.ProcessLogging()
		}
		_ = tx.Close()
	}()
	if tx.IsRuleEngineOff() {
		return 0, nil
	}
	var client string
	var cport int
	if i := strings.LastIndexByte(req.RemoteAddr, ':'); i != -1 {
		client = req.RemoteAddr[:i]
		cport, _ = strconv.Atoi(req.RemoteAddr[i+1:])
	}
	tx.ProcessConnection(client, cport, "", 0)
	tx.ProcessURI(req.RequestURI, req.Method, req.Proto)
	for k, vs := range req.Header {
		tx.AddRequestHeader(k, strings.Join(vs, "; "))
	}
	// Go, like the http-wasm host, moves Host out of the header map.
	tx.AddRequestHeader("Host", req.Host)
	tx.SetServerName(req.Host)
	if it := tx.ProcessRequestHeaders(); it != nil {
		return interruptStatus(it), nil
	}
	if tx.IsRequestBodyAccessible() {
		it, _, err := tx.ReadRequestBodyFrom(req.Body)
		if err != nil {
			return http.StatusInternalServerError, nil
		}
		if it != nil {
			return interruptStatus(it), nil
		}
	}
	it, err := tx.ProcessRequestBody()
	if err != nil {
		return http.StatusInternalServerError, nil
	}
	if it != nil {
		return interruptStatus(it), nil
	}
	return 0, nil
}

// interruptStatus is obtainStatusCodeFromInterruptionOrDefault(it, 403).
func interruptStatus(it *types.Interruption) int {
	if it.Action == "deny" && it.Status != 0 {
		return it.Status
	}
	return http.StatusForbidden
}

// send writes the request by hand so the request-target reaches the server
// exactly as given (net/http would clean or re-escape it).
func send(addr string, idx int, r Request) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", r.Method, r.Target)
	host := "app.bud.example.com"
	hasUA, hasAccept := false, false
	for k, v := range r.Headers {
		switch strings.ToLower(k) {
		case "host":
			host = v
			continue
		case "user-agent":
			hasUA = true
		case "accept":
			hasAccept = true
		}
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	// CRS 920280/920300 flag requests without Host, Accept or User-Agent; a
	// browser sends all three.
	fmt.Fprintf(&b, "Host: %s\r\n", host)
	if !hasUA {
		b.WriteString("User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36\r\n")
	}
	if !hasAccept {
		b.WriteString("Accept: text/html,application/json;q=0.9,*/*;q=0.8\r\n")
	}
	fmt.Fprintf(&b, "%s: %d\r\nConnection: close\r\n", indexHeader, idx)
	if r.Body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.Body))
	}
	b.WriteString("\r\n")
	b.WriteString(r.Body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
