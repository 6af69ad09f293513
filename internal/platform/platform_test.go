package platform

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/diag"
)

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, maxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, []byte("# nothing here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{name: "missing file", path: filepath.Join(dir, "missing.yaml"), want: "no such file"},
		{name: "directory", path: dir, want: "is a directory"},
		{name: "too large", path: big, want: "larger than"},
		{name: "empty", path: empty, want: "file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path)
			var ie *diag.InputError
			if !errors.As(err, &ie) || ie.File != tt.path {
				t.Fatalf("Load(%s) = %v, want an InputError naming the file", tt.path, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if strings.Count(err.Error(), tt.path) != 1 {
				t.Errorf("error %q names the path more than once", err)
			}
		})
	}
}

// TestValidateReportsEveryProblem: problems are not cut short at the first,
// and each is a separate InputError in file order of discovery.
func TestValidateReportsEveryProblem(t *testing.T) {
	p := model(func(p *Platform) {
		p.Spec.Zones = append(p.Spec.Zones, Zone{Name: "apps"})
		p.Spec.Workloads[1].Zone = "nowhere"
		p.Spec.Workloads[2].Role = "web"
		p.Spec.TLS.MinVersion = "1.0"
	})
	problems := Problems(p.Validate())
	want := []string{"spec.zones[2].name", "spec.workloads[1].zone", "spec.workloads[2].role", "spec.tls.minVersion"}
	if len(problems) != len(want) {
		t.Fatalf("got %d problems, want %d: %v", len(problems), len(want), problems)
	}
	for i, e := range problems {
		var ie *diag.InputError
		if !errors.As(e, &ie) || ie.Field != want[i] {
			t.Errorf("problem %d = %v, want field %s", i, e, want[i])
		}
		if ie != nil && ie.Line != 0 {
			t.Errorf("a model built in code has no lines, got %d", ie.Line)
		}
	}
	if !strings.Contains(problems[0].Error(), "already used at spec.zones[0].name") {
		t.Errorf("duplicate message %q does not point at the first use", problems[0])
	}
}

func TestProblems(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	got := Problems(errors.Join(a, errors.Join(b, c)))
	if len(got) != 3 || got[0] != a || got[1] != b || got[2] != c {
		t.Errorf("Problems = %v, want [a b c]", got)
	}
	if Problems(nil) != nil {
		t.Error("Problems(nil) is not nil")
	}
	if got := Problems(a); len(got) != 1 || got[0] != a {
		t.Errorf("Problems(a) = %v", got)
	}
}
