package platform

import (
	"fmt"
	"time"
)

// UntilLayout is the form of a suppression's expiry date, in the model's
// spec.ignore[].until and in the budnet.io/ignore annotation: a calendar
// day, as people write review deadlines.
const UntilLayout = "2006-01-02"

// ParseUntil reads a suppression's expiry day. A time of day, another
// layout or an impossible date (2027-02-30) is an error: a date misread as
// none would suppress for ever.
func ParseUntil(s string) (time.Time, error) {
	t, err := time.Parse(UntilLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date, expected YYYY-MM-DD such as 2027-01-31", s)
	}
	return t, nil
}

// UntilExpired reports whether a suppression that holds until the day until
// (inclusive, UTC) has expired at now: it holds through the whole day it
// names and stops at the next midnight UTC.
func UntilExpired(until, now time.Time) bool {
	return !now.Before(until.AddDate(0, 0, 1))
}
