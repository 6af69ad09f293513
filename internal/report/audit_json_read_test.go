package report

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/diag"
)

// TestReadAuditJSONRoundTrip: what WriteAuditJSON writes, ReadAuditJSON
// reads back finding for finding, with every field a baseline compares.
func TestReadAuditJSONRoundTrip(t *testing.T) {
	r := &audit.Report{Source: "files", Inputs: []string{"a.yaml"}, FailOn: audit.SeverityHigh, Findings: []audit.Finding{
		{CheckID: "BUD-3.2-01", Title: "t", Section: "3.2", Severity: audit.SeverityCritical, Status: audit.StatusFail, Subject: "bud",
			Message: "m", Evidence: []audit.Evidence{{Object: "bud[Namespace]", File: "a.yaml", Line: 3}}},
		{CheckID: "BUD-6.3-01", Severity: audit.SeverityHigh, Status: audit.StatusPass, Subject: "bud/x[Deployment] <&>"},
		{CheckID: "BUD-7-05", Severity: audit.SeverityMedium, Status: audit.StatusPartial, Subject: "s", Suppressed: true, SuppressionReason: "r"},
	}}
	r.Summary = audit.Summarize(3, r.Findings)
	var b bytes.Buffer
	if err := WriteAuditJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAuditJSON("base.json", b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(r.Findings) {
		t.Fatalf("read %d findings, wrote %d", len(got), len(r.Findings))
	}
	for i := range got {
		if audit.KeyOf(&got[i]) != audit.KeyOf(&r.Findings[i]) || got[i].Status != r.Findings[i].Status ||
			got[i].Severity != r.Findings[i].Severity || got[i].Suppressed != r.Findings[i].Suppressed {
			t.Errorf("finding %d: read %+v, wrote %+v", i, got[i], r.Findings[i])
		}
	}
}

// FuzzReadAuditJSON: whatever the file holds, the reader returns findings
// or an input error naming the file and a line within it, never a panic,
// and never findings without a check ID or a known status.
func FuzzReadAuditJSON(f *testing.F) {
	for _, seed := range []string{
		`{"schemaVersion":"budnet.io/audit/v1","findings":[]}`,
		"{\"schemaVersion\":\"budnet.io/audit/v1\",\n\"findings\":[\n{\"checkId\":\"BUD-3.2-01\",\"status\":\"fail\",\"subject\":\"bud\"}]}",
		`{"findings":[{"checkId":"BUD-3.2-01","status":"fail"}],"schemaVersion":"budnet.io/audit/v1"}`,
		`{"schemaVersion":"budnet.io/audit/v1","findings":[{"checkId":"BUD-3.2-01","severity":"dire","status":"fail"}]}`,
		`{"schemaVersion":"budnet.io/audit/v1","findings":{}}`,
		`{"schemaVersion":7}`,
		`[]`, ``, `{`, `{"schemaVersion":"budnet.io/audit/v1","findings":[` + "\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := ReadAuditJSON("b.json", data)
		if err != nil {
			var ie *diag.InputError
			if !errors.As(err, &ie) || ie.File != "b.json" || ie.Line < 1 || ie.Line > bytes.Count(data, []byte("\n"))+1 {
				t.Fatalf("error %v is not an input error at a line of the file", err)
			}
			return
		}
		for _, f := range fs {
			if f.CheckID == "" || !knownStatus(f.Status) {
				t.Fatalf("accepted finding %+v", f)
			}
		}
		if !strings.Contains(string(data), "budnet.io/audit/v1") {
			t.Fatal("accepted a file without the schema version")
		}
	})
}
