package cli

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDocExamples runs every example in README.md and docs/*.md written as a
// fenced block whose first line is "$ budnet ..." and compares the command's
// standard output with the rest of the block, from the repository root.
func TestDocExamples(t *testing.T) {
	root := filepath.Join("..", "..")
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(root, "README.md"))
	type example struct {
		where string
		args  []string
		want  string
	}
	var examples []example
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		var block []string
		in, start := false, 0
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if strings.HasPrefix(line, "```") {
				if in && len(block) > 0 && strings.HasPrefix(block[0], "$ budnet ") {
					rel, _ := filepath.Rel(root, f)
					examples = append(examples, example{where: rel + ":" + strconv.Itoa(start), args: strings.Fields(strings.TrimPrefix(block[0], "$ budnet ")),
						want: strings.Join(block[1:], "\n") + "\n"})
				}
				in, block, start = !in, nil, n+1
				continue
			}
			if in {
				block = append(block, line)
			}
		}
	}
	if len(examples) == 0 {
		t.Fatal("no examples found: the scanner is broken")
	}
	t.Chdir(root)
	for _, ex := range examples {
		t.Run(ex.where, func(t *testing.T) {
			for _, a := range ex.args {
				if strings.ContainsAny(a, `'"\$`) {
					t.Fatalf("example uses shell quoting or variables, which this test does not interpret: %q", a)
				}
			}
			_, out, _ := run(t, "", ex.args...)
			if out != ex.want {
				t.Fatalf("output differs from the documentation\n got:\n%s\nwant:\n%s", out, ex.want)
			}
		})
	}
}
