package controller

import (
	"context"
	"testing"
	"time"
)

// TestAfterGrace: a publish's context outlives its parent's end by the
// grace (an hour here, so nothing depends on timing), and ends when the
// publish is done.
func TestAfterGrace(t *testing.T) {
	parent, stop := context.WithCancel(t.Context())
	g, cancel := afterGrace(parent, time.Hour)
	stop()
	if err := g.Err(); err != nil {
		t.Fatalf("the publish was cut when the controller was told to stop: %v", err)
	}
	cancel()
	if g.Err() == nil {
		t.Fatal("the publish context outlived its cancel")
	}
}
