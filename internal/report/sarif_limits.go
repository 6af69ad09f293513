package report

import (
	"cmp"
	"compress/gzip"
	"fmt"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/audit"
)

// SARIFLimits are the most a log may hold. GitHubLimits documents GitHub's.
type SARIFLimits struct {
	ResultsPerRun      int
	LocationsPerResult int
	TagsPerRule        int
	// GzipBytes caps the gzip-compressed size of the log.
	GzipBytes int
}

// GitHubLimits are GitHub code scanning's, from "SARIF support for code
// scanning" and "SARIF results exceed one or more limits"
// (https://docs.github.com/en/code-security/code-scanning/troubleshooting-sarif-uploads/results-exceed-limit):
// an upload over 25,000 results per run, 1,000 locations per result, 20
// tags per rule or 10 MB gzip-compressed is rejected; of what is accepted
// only 5,000 results per run, 100 locations per result and 10 tags per rule
// are kept. budnet cuts at the kept numbers itself, most severe results
// first, so what is dropped is chosen and said rather than silent (GitHub's
// own choice of the 5,000 is not what its docs say: github/docs#38085).
var GitHubLimits = SARIFLimits{ResultsPerRun: 5000, LocationsPerResult: 100, TagsPerRule: 10, GzipBytes: 10 << 20}

func (l SARIFLimits) orDefault() SARIFLimits {
	d := GitHubLimits
	return SARIFLimits{
		ResultsPerRun:      cmp.Or(l.ResultsPerRun, d.ResultsPerRun),
		LocationsPerResult: cmp.Or(l.LocationsPerResult, d.LocationsPerResult),
		TagsPerRule:        cmp.Or(l.TagsPerRule, d.TagsPerRule),
		GzipBytes:          cmp.Or(l.GzipBytes, d.GzipBytes),
	}
}

// fitSARIF encodes run, cutting results until it is within lim. The
// results kept are the most severe (stable within a severity). It returns
// the log and what was cut ("" when nothing).
func fitSARIF(run sarifRun, r *audit.Report, lim SARIFLimits) ([]byte, string, error) {
	total := len(run.Results)
	keep := min(total, lim.ResultsPerRun)
	var notes []string
	locCut := 0
	for _, res := range run.Results {
		if _, ok := res.Properties["locationsCut"]; ok {
			locCut++
		}
	}
	if locCut > 0 {
		notes = append(notes, fmt.Sprintf("%d result(s) kept only their first %d locations", locCut, lim.LocationsPerResult))
	}
	ranked := slices.Clone(run.Results)
	slices.SortStableFunc(ranked, func(a, b sarifResult) int {
		return cmp.Compare(r.Checks[b.RuleIndex].Severity, r.Checks[a.RuleIndex].Severity)
	})
	for {
		cutRun := run
		if keep < total {
			cutRun.Results = ranked[:keep]
		}
		var msgs []string
		if keep < total {
			msgs = append(msgs, fmt.Sprintf("%d of %d results kept, the most severe first; the full list is in -o json", keep, total))
		}
		msgs = append(msgs, notes...)
		if len(msgs) > 0 {
			text := strings.Join(msgs, "; ")
			cutRun.Properties = map[string]any{"github.com/budnet/budnet/cut": map[string]any{
				"resultsTotal": total, "resultsKept": keep, "message": text,
				"limits": map[string]int{"resultsPerRun": lim.ResultsPerRun, "locationsPerResult": lim.LocationsPerResult, "tagsPerRule": lim.TagsPerRule, "gzipBytes": lim.GzipBytes},
			}}
			cutRun.Invocations = []sarifInvocation{{ExecutionSuccessful: true, ToolExecutionNotifications: []sarifNotification{{Level: "warning", Message: sarifText{Text: text}}}}}
		}
		out, err := encodeSARIF(cutRun)
		if err != nil {
			return nil, "", err
		}
		size, err := gzipSize(out)
		if err != nil {
			return nil, "", err
		}
		if size <= lim.GzipBytes || keep == 0 {
			if size > lim.GzipBytes {
				return nil, "", fmt.Errorf("SARIF log is %d bytes gzip-compressed with no results, over the %d-byte limit", size, lim.GzipBytes)
			}
			return out, strings.Join(msgs, "; "), nil
		}
		keep /= 2 // over the size limit: halve until it fits
	}
}

func gzipSize(b []byte) (int, error) {
	var n countWriter
	zw := gzip.NewWriter(&n)
	if _, err := zw.Write(b); err != nil {
		return 0, fmt.Errorf("measuring SARIF size: %w", err)
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("measuring SARIF size: %w", err)
	}
	return int(n), nil
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
