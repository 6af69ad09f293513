package platform

import "testing"

// BenchmarkParseBud measures loading the embedded reference: every command
// that runs without --platform pays this once.
func BenchmarkParseBud(b *testing.B) {
	data := BudYAML()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(BudFile, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFlowsBud measures resolving every flow of the reference model.
func BenchmarkFlowsBud(b *testing.B) {
	p, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Flows(); err != nil {
			b.Fatal(err)
		}
	}
}
