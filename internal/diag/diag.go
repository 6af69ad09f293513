// Package diag holds the error type every input reader returns, so that the CLI
// can tell bad input (exit 2, a message naming file, line and field) from
// failures of the tool itself.
package diag

import (
	"errors"
	"fmt"
	"strings"
)

// InputError is a problem with something the user gave budnet: a file, a flag
// value, a platform model. File and Line locate it; Field is the dotted path of
// the offending field ("spec.flows.internal[3].to.workload") when known.
type InputError struct {
	File  string
	Line  int
	Field string
	Msg   string
	Err   error
}

func (e *InputError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		if e.Msg != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *InputError) Unwrap() error { return e.Err }

// Errorf builds an InputError at file:line for field.
func Errorf(file string, line int, field, format string, args ...any) *InputError {
	return &InputError{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// IsInput reports whether err is, or wraps, an input error.
func IsInput(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// Join combines input errors so a user sees every problem at once; it returns
// nil for no errors. errors.As on the result finds the first InputError.
func Join(errs ...error) error { return errors.Join(errs...) }
