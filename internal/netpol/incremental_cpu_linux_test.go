package netpol_test

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPU is the CPU time of the calling thread
// (clock_gettime(CLOCK_THREAD_CPUTIME_ID), 3 on Linux, clock_gettime(2):
// nanosecond resolution, where getrusage's thread times move in scheduler
// ticks); with the goroutine locked to its thread it is the time one Apply
// computed, whatever else the machine runs.
func threadCPU() (time.Duration, bool) {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
