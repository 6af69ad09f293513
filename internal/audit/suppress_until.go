package audit

import (
	"errors"
	"fmt"
	"time"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/platform"
)

// untilOf reads a suppression's expiry day; none written is no expiry
// (zero time), an empty one written is an error.
func untilOf(s string, written bool) (time.Time, error) {
	if !written {
		return time.Time{}, nil
	}
	return platform.ParseUntil(s)
}

// holds applies rule r to finding f: it suppresses f unless its until: day
// has passed, in which case f fails again and says which suppression
// expired. It reports whether f is now suppressed.
func (s *suppressor) holds(r *objectRule, f *Finding) bool {
	r.used = true
	if !r.until.IsZero() && platform.UntilExpired(r.until, s.now) {
		r.expired = true
		if f.SuppressionExpired == "" {
			f.SuppressionExpired = fmt.Sprintf("the suppression at %s (%s) expired on %s", r.origin, r.reason, r.until.Format(platform.UntilLayout))
		}
		return false
	}
	f.Suppressed, f.SuppressionReason, f.SuppressionExpired = true, r.reason, ""
	return true
}

// expiredWarnings names every suppression whose day has passed and that
// matched a failing finding, once each.
func (s *suppressor) expiredWarnings() []string {
	var out []string
	warn := func(r *objectRule) {
		if r.expired {
			out = append(out, fmt.Sprintf("%s: the suppression of %s expired on %s; its findings fail again (%s)",
				r.origin, r.check, r.until.Format(platform.UntilLayout), r.reason))
		}
	}
	for _, rs := range s.byObject {
		for _, r := range rs {
			warn(r)
		}
	}
	for _, r := range s.rules {
		warn(r)
	}
	return out
}

// ValidateSuppressions checks the until: dates of the budnet.io/ignore
// annotations in c's inventory: a malformed one is an input error naming
// file, line and field (exit 2), never a suppression without expiry. The
// model's spec.ignore[].until is checked when the model loads. Other
// annotation problems stay warnings of the report, as before.
func ValidateSuppressions(c *Context) error {
	if c.Inventory == nil {
		return nil
	}
	var errs []error
	for _, o := range c.Inventory.Objects {
		if o.Unstructured == nil {
			continue
		}
		value, ok := o.Unstructured.GetAnnotations()[IgnoreAnnotation]
		if !ok {
			continue
		}
		field := "metadata.annotations[" + IgnoreAnnotation + "]"
		entries, _ := ParseIgnoreAnnotation(value)
		for _, e := range entries {
			if _, err := untilOf(e.Until, e.HasUntil); err != nil {
				errs = append(errs, diag.Errorf(o.Source.File, o.LineOf(field), field, "%s on %s: until: %v", e.Check, o.Ref(), err))
			}
		}
	}
	return errors.Join(errs...)
}
