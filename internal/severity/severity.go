// Package severity is the one severity scale of budnet's reports: audit
// findings and TLS probe checks rank by it, and --fail-on parses it.
package severity

import (
	"fmt"
	"strings"
)

// Level ranks how much a failed check matters.
type Level int

// Levels, lowest first. Info never fails a run.
const (
	Info Level = iota
	Low
	Medium
	High
	Critical
)

var names = [...]string{"info", "low", "medium", "high", "critical"}

// String is the lower-case name used in every output format.
func (l Level) String() string {
	if l < 0 || int(l) >= len(names) {
		return fmt.Sprintf("severity(%d)", int(l))
	}
	return names[l]
}

// Parse reads a level name (case-insensitive).
func Parse(s string) (Level, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want %s)", s, strings.Join(names[:], ", "))
}

// MarshalText renders levels as names in JSON, so reports stay readable and stable.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level name, so Go clients can decode JSON reports.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
