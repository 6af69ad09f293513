package platform

import (
	"path/filepath"
	"testing"
)

// TestValidFiles loads the good fixtures and the shipped examples; each must
// load without a single problem.
func TestValidFiles(t *testing.T) {
	var files []string
	for _, pattern := range []string{"testdata/valid/*.yaml", "../../examples/platforms/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 3 {
		t.Fatalf("found only %d valid files: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := Load(f)
			if err != nil {
				for _, e := range Problems(err) {
					t.Error(e)
				}
				return
			}
			if _, err := p.Flows(); err != nil {
				t.Errorf("flows of a valid model do not resolve: %v", err)
			}
		})
	}
}
