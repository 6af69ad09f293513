package main

import (
	"bytes"
	"debug/buildinfo"
	"os"
	"path/filepath"
	"slices"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// TestSBOM: each archive's SBOM is CycloneDX that cyclonedx-go decodes,
// describes budnet at the release's version, and lists exactly the modules
// linked into that archive's binary, each with its Go package URL.
func TestSBOM(t *testing.T) {
	dir, version := dist(t)
	for _, p := range platforms {
		t.Run(p.os+"/"+p.arch, func(t *testing.T) {
			name := archiveName(version, p.os, p.arch)
			f, err := os.Open(filepath.Join(dir, name+".cdx.json"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var bom cdx.BOM
			if err := cdx.NewBOMDecoder(f, cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if bom.BOMFormat != cdx.BOMFormat || bom.SpecVersion < cdx.SpecVersion1_4 {
				t.Errorf("bomFormat %q specVersion %v", bom.BOMFormat, bom.SpecVersion)
			}
			if bom.Metadata == nil || bom.Metadata.Component == nil ||
				bom.Metadata.Component.Name != "github.com/budnet/budnet" || bom.Metadata.Component.Version != version {
				t.Fatalf("metadata.component %+v: want github.com/budnet/budnet %s", bom.Metadata, version)
			}
			_, files := unpack(t, filepath.Join(dir, name+".tar.gz"))
			bi, err := buildinfo.Read(bytes.NewReader(files["budnet"]))
			if err != nil {
				t.Fatal(err)
			}
			var want, got []string
			for _, d := range bi.Deps {
				if d.Replace != nil {
					d = d.Replace
				}
				want = append(want, "pkg:golang/"+d.Path+"@"+d.Version)
			}
			if bom.Components != nil {
				for _, c := range *bom.Components {
					got = append(got, purlWithoutQuery(c.PackageURL))
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if len(want) < 50 || !slices.Equal(got, want) {
				t.Errorf("SBOM components (%d) differ from the binary's modules (%d)\n got %q\nwant %q", len(got), len(want), got, want)
			}
			for _, m := range []string{"pkg:golang/helm.sh/helm/v4@", "pkg:golang/k8s.io/client-go@", "pkg:golang/github.com/spf13/cobra@"} {
				if !slices.ContainsFunc(got, func(s string) bool { return len(s) > len(m) && s[:len(m)] == m }) {
					t.Errorf("SBOM lacks %s", m)
				}
			}
		})
	}
}

// purlWithoutQuery drops a purl's qualifiers (?type=module, ?goos=...).
func purlWithoutQuery(p string) string {
	if i := bytes.IndexByte([]byte(p), '?'); i >= 0 {
		return p[:i]
	}
	return p
}
