package audit

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteChecksDoc writes docs/checks.md: every check of the registry, grouped
// by guide section, with its ID, title, severity, remediation and the
// manifests that fail and pass it (Check.Doc, the checks' own test fixtures).
func WriteChecksDoc(w io.Writer, checks []Check) error {
	sorted := slices.Clone(checks)
	slices.SortStableFunc(sorted, func(a, b Check) int {
		if c := CompareSections(a.Section, b.Section); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	bw := bufio.NewWriter(w)
	bw.WriteString(`# budnet audit checks

<!-- Generated from the check registry (internal/audit/registry.go) by
     go test ./internal/audit -run TestChecksDoc -update
     Do not edit by hand. -->

Every check ` + "`budnet audit`" + ` runs, by guide section. IDs are stable
(` + "`BUD-<section>-<NN>`" + `) and are what suppressions name (docs/audit.md). The
examples are the checks' test fixtures: the first fails the check, the second
passes it.

| ID | Title | Section | Severity |
|---|---|---|---|
`)
	for _, c := range sorted {
		fmt.Fprintf(bw, "| [%s](#%s) | %s | %s | %s |\n", c.ID, docAnchor(c.ID), docCell(c.Title), c.Section, c.Severity)
	}
	for _, c := range sorted {
		fmt.Fprintf(bw, "\n## %s\n\n**%s**\n\n- Section: %s\n- Severity: %s\n- Remediation: %s\n",
			c.ID, c.Title, c.Section, c.Severity, c.Remediation)
		writeDocExample(bw, "Fails", c.Doc.Fails)
		writeDocExample(bw, "Passes", c.Doc.Passes)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing checks doc: %w", err)
	}
	return nil
}

func writeDocExample(bw *bufio.Writer, label, yaml string) {
	if strings.TrimSpace(yaml) == "" {
		fmt.Fprintf(bw, "\n%s: no example.\n", label)
		return
	}
	fence := "```"
	for strings.Contains(yaml, fence) {
		fence += "`"
	}
	fmt.Fprintf(bw, "\n%s:\n\n%syaml\n%s\n%s\n", label, fence, strings.TrimRight(yaml, "\n"), fence)
}

// docAnchor is GitHub's anchor for a "## BUD-3.2-01" heading.
func docAnchor(id string) string {
	return strings.ReplaceAll(strings.ToLower(id), ".", "")
}

func docCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
