package severity

import (
	"encoding/json"
	"testing"
)

func TestJSONRoundTrip(t *testing.T) {
	for l := Info; l <= Critical; l++ {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		var back Level
		if err := json.Unmarshal(b, &back); err != nil || back != l {
			t.Fatalf("%s: marshalled %s, read back %v (%v)", l, b, back, err)
		}
	}
	var l Level
	if err := json.Unmarshal([]byte(`"urgent"`), &l); err == nil {
		t.Fatal("an unknown severity decoded")
	}
	if got, err := Parse("HIGH"); err != nil || got != High {
		t.Fatalf("Parse(HIGH) = %v, %v", got, err)
	}
}
