package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var threads atomic.Int32

func init() { threads.Store(int32(runtime.NumCPU())) }

// SetThreads sets how many goroutines one kernel call may use (at least 1).
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	threads.Store(int32(n))
}

// Threads returns the number of goroutines one kernel call may use.
func Threads() int { return int(threads.Load()) }

// parallel splits [0, n) into at most Threads() contiguous chunks of at least
// grain items and runs fn on each, the last one on the calling goroutine.
func parallel(n, grain int, fn func(lo, hi int)) {
	parallelIndexed(n, grain, func(_, lo, hi int) { fn(lo, hi) })
}

// parallelIndexed is parallel with the chunk index passed to fn, for kernels
// that need per-chunk scratch space or partial sums. It returns the number of
// chunks used; fn sees indices below it.
func parallelIndexed(n, grain int, fn func(chunk, lo, hi int)) int {
	chunks := Threads()
	if grain < 1 {
		grain = 1
	}
	if m := (n + grain - 1) / grain; m < chunks {
		chunks = m
	}
	if chunks < 1 {
		chunks = 1
	}
	var wg sync.WaitGroup
	lo := 0
	for c := 0; c < chunks; c++ {
		hi := lo + (n-lo)/(chunks-c)
		if c == chunks-1 {
			fn(c, lo, hi)
			break
		}
		wg.Add(1)
		go func(c, lo, hi int) {
			defer wg.Done()
			fn(c, lo, hi)
		}(c, lo, hi)
		lo = hi
	}
	wg.Wait()
	return chunks
}
