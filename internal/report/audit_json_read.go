package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/diag"
)

// ReadAuditJSON reads the findings of an earlier `budnet audit -o json`
// (WriteAuditJSON's form), for `audit --baseline` and `diff`. Unknown fields
// are read past (the schema only ever adds fields under its version); a
// missing or other schemaVersion, a missing findings list, and a finding
// without a check ID or a known status are input errors naming the file,
// line and field: a baseline misread as empty would fail nothing new.
func ReadAuditJSON(name string, data []byte) ([]audit.Finding, error) {
	lineAt := func(off int64) int { return bytes.Count(data[:min(int(off), len(data))], []byte("\n")) + 1 }
	fail := func(off int64, field, format string, args ...any) error {
		return diag.Errorf(name, lineAt(off), field, format, args...)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fail(0, "", "not an audit report: expected the JSON object `budnet audit -o json` writes")
	}
	var version string
	var findings []audit.Finding
	seenFindings := false
	for dec.More() {
		keyOff := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(name, lineAt, dec.InputOffset(), err)
		}
		key, _ := tok.(string)
		switch key {
		case "schemaVersion":
			if err := dec.Decode(&version); err != nil {
				return nil, fail(keyOff, "schemaVersion", "expected a string: %v", err)
			}
			if version != AuditSchemaVersion {
				return nil, fail(keyOff, "schemaVersion", "%q, expected %q (an audit report of this budnet)", version, AuditSchemaVersion)
			}
		case "findings":
			seenFindings = true
			if findings, err = readFindings(dec, name, data, lineAt); err != nil {
				return nil, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, jsonError(name, lineAt, dec.InputOffset(), err)
			}
		}
	}
	switch {
	case version == "":
		return nil, fail(0, "schemaVersion", "missing, expected %q: not an audit report", AuditSchemaVersion)
	case !seenFindings:
		return nil, fail(0, "findings", "missing: not an audit report")
	}
	return findings, nil
}

func readFindings(dec *json.Decoder, name string, data []byte, lineAt func(int64) int) ([]audit.Finding, error) {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, diag.Errorf(name, lineAt(dec.InputOffset()), "findings", "expected a list")
	}
	out := []audit.Finding{}
	for i := 0; dec.More(); i++ {
		off := dec.InputOffset()
		var f audit.Finding
		if err := dec.Decode(&f); err != nil {
			return nil, jsonError(name, lineAt, off, fmt.Errorf("findings[%d]: %w", i, err))
		}
		line := lineAt(skipSeparators(data, off))
		field := fmt.Sprintf("findings[%d]", i)
		switch {
		case f.CheckID == "":
			return nil, diag.Errorf(name, line, field+".checkId", "missing, expected the check's ID such as BUD-3.2-01")
		case !knownStatus(f.Status):
			return nil, diag.Errorf(name, line, field+".status", "%q, expected pass, fail, partial or not-applicable", f.Status)
		}
		out = append(out, f)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonError(name, lineAt, dec.InputOffset(), err)
	}
	return out, nil
}

// skipSeparators moves off, the decoder's offset before a value, past the
// comma and blanks to where the value starts, so the line is the value's.
func skipSeparators(data []byte, off int64) int64 {
	for int(off) < len(data) && bytes.IndexByte([]byte(", \t\r\n"), data[off]) >= 0 {
		off++
	}
	return off
}

func knownStatus(s audit.Status) bool {
	switch s {
	case audit.StatusPass, audit.StatusFail, audit.StatusPartial, audit.StatusNotApplicable:
		return true
	}
	return false
}

// jsonError places a decoding error at its line: syntax and type errors
// carry their own offset.
func jsonError(name string, lineAt func(int64) int, off int64, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	field := ""
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off, field = te.Offset, te.Field
	}
	return &diag.InputError{File: name, Line: lineAt(off), Field: field, Msg: "not a budnet audit report", Err: err}
}
