package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// reportVolatile matches what differs between two renderings of the same
// report: the generation time and the version of the binary.
var reportVolatile = regexp.MustCompile(`<time datetime="[^"]*">[^<]*</time>|<span id="budnet-version">[^<]*</span>|<meta name="generator" content="budnet [^"]*">`)

// TestExampleReportIsCurrent keeps the report the README links to in step
// with the code: it must be what `budnet audit --example -o html` renders
// now, apart from the time and version.
func TestExampleReportIsCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "example-report.html")
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "", "audit", "--example", "-o", "html")
	if code != ExitFindings {
		t.Fatalf("audit --example exits %d, want %d (findings); stderr: %s", code, ExitFindings, errOut)
	}
	if reportVolatile.ReplaceAllString(string(committed), "") != reportVolatile.ReplaceAllString(out, "") {
		t.Fatalf("%s is stale; regenerate it with:\n\tgo run ./cmd/budnet audit --example -o html > docs/example-report.html", path)
	}
}
