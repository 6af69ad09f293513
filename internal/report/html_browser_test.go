package report

import (
	"bytes"
	"context"
	"github.com/budnet/budnet/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium finds Debian's chromium (the package .ci/run installs).
func chromium(t *testing.T) string { return testenv.Chromium(t) }

// runChromium runs headless chromium on a file with extra flags
// (--dump-dom or --screenshot=...) and returns its standard output. The
// flags keep it off the network: the report must render without it.
func runChromium(t *testing.T, bin, file string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
		"--user-data-dir=" + t.TempDir()}
	args = append(args, extra...)
	args = append(args, "file://"+file)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(extra, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// artifactDir is $BUDNET_ARTIFACTS when set (CI keeps it), else a temp dir.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("BUDNET_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func writePage(t *testing.T, c htmlCase, opts HTMLOptions) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), strings.ReplaceAll(c.name, " ", "-")+".html")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.write(f, opts); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestHTMLInChromium opens the example reports in a real browser and reads
// the DOM back after load: every finding and every zone cell must be there,
// and a screenshot is kept as an artifact.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	for _, c := range []htmlCase{
		auditCase(t, "audit example", ""),
		reachCase(t, "reach example intended", "", true),
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := htmlTestOptions()
			opts.MaxFindingsPerCheck = 1 << 20
			file := writePage(t, c, opts)
			d := parseDOM(t, runChromium(t, bin, file, "--dump-dom"))
			checkContent(t, c, d)
			if ts := d.elements("title"); len(ts) != 1 || textOf(ts[0]) != c.title {
				t.Errorf("title %v, want %q", ts, c.title)
			}
			png := filepath.Join(artifactDir(t), strings.ReplaceAll(c.name, " ", "-")+".png")
			runChromium(t, bin, file, "--hide-scrollbars", "--window-size=1200,1600", "--screenshot="+png)
			if st, err := os.Stat(png); err != nil || st.Size() < 10_000 {
				t.Errorf("screenshot %s: %v (%v)", png, st, err)
			}
			t.Logf("screenshot: %s", png)
		})
	}
}

// TestHTMLXSSInChromium loads pages whose object text carries scripts and
// event handlers: after load, the title the payloads would set is unchanged
// and no injected element exists. The control page, with the same payload
// unescaped, proves chromium would have run it.
func TestHTMLXSSInChromium(t *testing.T) {
	bin := chromium(t)
	t.Run("control: unescaped payload runs", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "control.html")
		page := "<!DOCTYPE html><title>control</title><p>" + xssPayloads[0] + xssPayloads[1] + "</p>"
		if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		d := parseDOM(t, runChromium(t, bin, file, "--dump-dom"))
		if ts := d.elements("title"); len(ts) != 1 || textOf(ts[0]) != "PWNED" {
			t.Fatalf("the control payload did not run (title %q): the test could not see an XSS", textOf(ts[0]))
		}
	})
	for _, c := range xssCases(t) {
		t.Run(c.name, func(t *testing.T) {
			file := writePage(t, c, htmlTestOptions())
			d := parseDOM(t, runChromium(t, bin, file, "--dump-dom"))
			payloads := xssPayloads[:1]
			if c.audit != nil {
				payloads = xssPayloads
			}
			checkInert(t, d, c.title, payloads)
		})
	}
}
