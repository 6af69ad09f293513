package platform

import (
	_ "embed"
	"fmt"
)

// budYAML is the Bud AI Foundry reference platform: the guide's model,
// corrected where the guide is wrong, each correction with a note.
//
//go:embed bud.yaml
var budYAML []byte

// BudFile is the name the embedded reference is reported under in errors
// and evidence.
const BudFile = "embedded:bud.yaml"

// BudYAML returns the embedded reference platform file as written, comments
// included. The slice is a copy; callers may keep or change it.
func BudYAML() []byte {
	return append([]byte(nil), budYAML...)
}

// Default returns the embedded Bud AI Foundry reference platform, parsed,
// defaulted and validated. Every call returns a fresh model.
func Default() (*Platform, error) {
	p, err := Parse(BudFile, budYAML)
	if err != nil {
		return nil, fmt.Errorf("embedded Bud reference platform: %w", err)
	}
	return p, nil
}
