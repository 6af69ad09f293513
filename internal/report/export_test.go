package report

// Test helpers shared with the external tests (package report_test), which
// may import internal/cli.
var (
	CompileSARIFSchema     = compileSARIFSchema
	ValidateSARIFForGitHub = validateSARIFForGitHub
)
