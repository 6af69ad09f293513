package egress

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"
)

// Loader builds a fresh policy, normally by re-reading the platform file.
type Loader func() (*Policy, error)

// Reload replaces the policy with what load returns. A failing load leaves the
// old policy in force and is counted and logged; established tunnels are
// never touched either way.
func (s *Server) Reload(load Loader) error {
	p, err := load()
	if err != nil {
		s.metrics.Reload(false)
		s.log.Error("egress allowlist reload failed; keeping the previous allowlist", "err", err)
		return fmt.Errorf("reload egress policy: %w", err)
	}
	s.SetPolicy(p)
	s.metrics.Reload(true)
	s.log.Info("egress allowlist reloaded", "mode", p.Mode.String())
	return nil
}

// WatchFile calls changed whenever the content of path changes, checking every
// interval until ctx ends. It compares content hashes rather than mtimes
// because Kubernetes updates a mounted ConfigMap by swapping a symlink, which
// leaves the file's own mtime meaningless. A missing or unreadable file is not
// a change: the next successful read decides.
func WatchFile(ctx context.Context, path string, interval time.Duration, changed func()) {
	prev := fileHash(path)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h := fileHash(path)
		if h == nil || bytes.Equal(h, prev) {
			continue
		}
		prev = h
		changed()
	}
}

func fileHash(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(b)
	return sum[:]
}
