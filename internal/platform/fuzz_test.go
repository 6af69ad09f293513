package platform

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/budnet/budnet/internal/diag"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, every
// problem must be a *diag.InputError, and whatever it accepts must be valid
// and resolvable.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml", "../../examples/platforms/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add(BudYAML())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			for _, e := range Problems(err) {
				var ie *diag.InputError
				if !errors.As(e, &ie) {
					t.Fatalf("problem %v is a %T, want *diag.InputError", e, e)
				}
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted model fails Validate: %v", err)
		}
		if _, err := p.Flows(); err != nil {
			t.Fatalf("accepted model's flows do not resolve: %v", err)
		}
	})
}
