package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
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
	if chunks == 1 {
		fn(0, 0, n)
		return 1
	}
	// Chunk c is [starts[c], starts[c+1]): the sizes differ by one at most.
	t := &poolTask{fn: fn, starts: make([]int, chunks+1)}
	for c := range chunks {
		t.starts[c+1] = t.starts[c] + (n-t.starts[c])/(chunks-c)
	}
	if !pool.busy.CompareAndSwap(false, true) {
		// Another kernel call holds the pool (a call from inside a chunk,
		// or from another goroutine): goroutines of its own.
		var wg sync.WaitGroup
		for c := range chunks - 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.run(c)
			}()
		}
		t.run(chunks - 1)
		wg.Wait()
		return chunks
	}
	defer pool.busy.Store(false)
	t.pending.Store(int32(chunks - 1))
	pool.grow(chunks - 1)
	for c := range chunks - 1 {
		pool.workers[c].post(t, c)
	}
	t.run(chunks - 1)
	// The workers' chunks end about when this one does: spin, yielding
	// only if they take long (more threads than processors).
	var waited time.Time
	for i := 0; t.pending.Load() > 0; i++ {
		if i%256 == 255 {
			if waited.IsZero() {
				waited = time.Now()
			} else if time.Since(waited) > spinFor {
				runtime.Gosched()
			}
		}
	}
	return chunks
}

// The pool keeps Threads()−1 worker goroutines for parallelIndexed. A
// kernel call posts its chunks to them and runs the last itself. Between
// calls a worker spins for a while before it parks: inference runs
// hundreds of small kernel calls per sentence, and waking a parked
// goroutine (a futex call, several microseconds) would cost more than many
// of the chunks (the OpenMP and ONNX Runtime thread pools spin for the same
// reason).
var pool workerPool

type workerPool struct {
	busy    atomic.Bool
	mu      sync.Mutex
	workers []*worker
}

// poolTask is one kernel call's chunks: chunk c is [starts[c],
// starts[c+1]); pending counts those posted to workers and not yet done.
type poolTask struct {
	fn      func(chunk, lo, hi int)
	starts  []int
	pending atomic.Int32
}

// run runs chunk c.
func (t *poolTask) run(c int) { t.fn(c, t.starts[c], t.starts[c+1]) }

type worker struct {
	job    atomic.Pointer[poolJob]
	parked atomic.Bool
	wake   chan struct{}
}

type poolJob struct {
	t *poolTask
	c int
}

// spinFor is how long an idle worker spins before it parks.
const spinFor = 50 * time.Microsecond

// shortChunk is the longest chunk after which a worker spins.
const shortChunk = 100 * time.Microsecond

// grow starts workers until there are n.
func (p *workerPool) grow(n int) {
	if len(p.workers) >= n {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.workers) < n {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go w.run()
	}
}

// post gives chunk c of t to w, waking it if it has parked.
func (w *worker) post(t *poolTask, c int) {
	w.job.Store(&poolJob{t: t, c: c})
	if w.parked.CompareAndSwap(true, false) {
		w.wake <- struct{}{}
	}
}

func (w *worker) run() {
	for {
		w.runJobs()
		w.parked.Store(true)
		if j := w.job.Load(); j != nil {
			// Posted while parking: the poster may or may not have seen
			// parked; take the job either way (a stray wake-up is harmless).
			w.parked.Store(false)
			continue
		}
		<-w.wake
	}
}

// runJobs runs the chunks posted to w, spinning between them, until it has
// been idle for spinFor — or at once after a long chunk: then the next
// call's wake-up costs little against its work, and a spinning thread
// slows large products (measured: 20% of bert-mini's inference at
// 16 × 128 tokens).
func (w *worker) runJobs() {
	idle := time.Now()
	for i := 1; ; i++ {
		if j := w.job.Swap(nil); j != nil {
			start := time.Now()
			j.t.run(j.c)
			j.t.pending.Add(-1)
			idle, i = time.Now(), 0
			if idle.Sub(start) >= shortChunk {
				return
			}
			continue
		}
		if i%256 == 0 && time.Since(idle) > spinFor {
			return
		}
	}
}
