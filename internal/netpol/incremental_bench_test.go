package netpol_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
)

// BenchmarkIncremental builds the incremental engine of a large-profile
// cluster (netpoltest.GenerateLarge: pods/50 namespaces, pods/10
// NetworkPolicies) and applies a stream of 1,000 mixed deltas, half pod
// changes (scale up and down, rolling-update relabels, new Deployments),
// half NetworkPolicy changes (added, replaced, removed). It reports
// build-s (NewIncremental), pod-p99-ms and policy-p99-ms (Apply latency,
// the changed connections included), and peak-MiB: the high-water mark of
// the heap in use (runtime/metrics /memory/classes/heap/objects:bytes plus
// /memory/classes/heap/unused:bytes, HeapInuse without stopping the world)
// sampled every 2 ms from before the build to the end of the stream, the
// generated input included. pod-p99-cpu-ms and policy-p99-cpu-ms are the
// same percentiles in CPU time of the applying thread (Linux), which the
// load of a shared machine does not inflate; changes/delta is the mean
// number of changed pairs. Names are fixed for comparison over time
// (docs/performance.md):
//
//	go test ./internal/netpol -run '^$' -bench 'BenchmarkIncremental/pods=100000' -benchtime 1x
func BenchmarkIncremental(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			for b.Loop() {
				runIncrementalBench(b, n)
			}
		})
	}
}

func runIncrementalBench(b *testing.B, pods int) {
	l := netpoltest.GenerateLarge(1, pods)
	runtime.GC()
	peak, stop := heapHighWater()
	start := time.Now()
	inc, err := netpol.NewIncremental(l.Cluster, netpol.Options{})
	if err != nil {
		b.Fatal(err)
	}
	build := time.Since(start)
	st := inc.Stats()
	r := rand.New(rand.NewPCG(2, 3))
	var podLat, polLat, podCPU, polCPU []time.Duration
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	changes := 0
	for range 1000 {
		isPod := r.IntN(2) == 0
		var d netpol.Delta
		if isPod {
			d = l.PodDelta()
		} else {
			d = l.PolicyDelta()
		}
		c0, cpuOK := threadCPU()
		t0 := time.Now()
		got, err := inc.Apply(d)
		lat := time.Since(t0)
		c1, _ := threadCPU()
		if err != nil {
			b.Fatal(err)
		}
		changes += got.Len()
		if isPod {
			podLat = append(podLat, lat)
			if cpuOK {
				podCPU = append(podCPU, c1-c0)
			}
		} else {
			polLat = append(polLat, lat)
			if cpuOK {
				polCPU = append(polCPU, c1-c0)
			}
		}
	}
	stop()
	end := inc.Stats()
	if end.Rebuilds > 0 {
		b.Fatalf("%d deltas took the rebuild path; the large profile has none that need it", end.Rebuilds)
	}
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(p99ms(podLat), "pod-p99-ms")
	b.ReportMetric(p99ms(polLat), "policy-p99-ms")
	b.ReportMetric(float64(*peak)/(1<<20), "peak-MiB")
	// The same percentiles in CPU time of the applying thread: on a shared
	// machine wall time also counts the time other processes held the CPU.
	if len(podCPU) > 0 {
		b.ReportMetric(p99ms(podCPU), "pod-p99-cpu-ms")
		b.ReportMetric(p99ms(polCPU), "policy-p99-cpu-ms")
	}
	b.ReportMetric(float64(st.Classes), "classes")
	b.ReportMetric(float64(st.Nodes), "nodes")
	b.ReportMetric(float64(changes)/1000, "changes/delta")
	b.Logf("pods=%d policies=%d: build %v, %d classes, %d nodes, %d src and %d dst keys; after the stream %d memo pairs; pod p50 %.2f ms max %.2f ms, policy p50 %.2f ms max %.2f ms",
		pods, len(l.Policies), build, st.Classes, st.Nodes, end.SrcKeys, end.DstKeys, end.Memo,
		pctMS(podLat, 50), pctMS(podLat, 100), pctMS(polLat, 50), pctMS(polLat, 100))
}

func p99ms(xs []time.Duration) float64 { return pctMS(xs, 99) }

// pctMS is the p-th percentile (nearest rank) in milliseconds.
func pctMS(xs []time.Duration, p int) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return float64(s[max(0, min(len(s), i)-1)]) / float64(time.Millisecond)
}

// heapHighWater samples the heap in use until stop is called; the
// pointer holds the highest value seen, valid after stop.
func heapHighWater() (*uint64, func()) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	var peak uint64
	read := func() {
		metrics.Read(samples)
		if v := samples[0].Value.Uint64() + samples[1].Value.Uint64(); v > peak {
			peak = v
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return &peak, func() {
		close(done)
		wg.Wait()
		read()
	}
}
