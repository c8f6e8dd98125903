package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// An Arena lends the buffers of a training step's tensors from one block of
// memory and takes them all back at once, so that every step reuses the
// same memory.
//
// Without one, every operator allocates fresh memory that the Go runtime
// zeroes, and memory the runtime has returned to the system must be faulted
// in again when it is reused — at about 12 µs per 4 KiB page on the
// machines hiertune is measured on, which made a pretraining step 2–3 times
// slower than its arithmetic. With an arena, a training loop allocates
// nothing once it has seen its largest step.
//
// It is a bump allocator: buffers are cut one after the other from a block,
// and Reset starts again at the beginning. A step that needs more than the
// block gets further blocks; the next Reset replaces them all with one
// block large enough for that step. Its memory is therefore one step's
// largest need, whatever the batch shapes.
//
// Use it around whole steps: UseArena(a) before the forward pass, and
// a.Reset() once nothing computed in the step is needed any more — after the
// optimiser step and ZeroGrad, since parameter gradients are arena buffers
// too. Tensors returned by operators are invalid after Reset.
type Arena struct {
	mu     sync.Mutex
	blocks [][]float32 // the last one is being cut
	used   int         // values cut from the last block
	total  int         // values lent since the last Reset
}

// NewArena returns an empty arena.
func NewArena() *Arena { return &Arena{} }

var arena atomic.Pointer[Arena]

// UseArena makes the operators of this package take their buffers from a
// (nil: from the Go heap). It applies to the whole process.
func UseArena(a *Arena) { arena.Store(a) }

// CurrentArena returns the arena in use (see UseArena), or nil.
func CurrentArena() *Arena { return arena.Load() }

// align rounds buffers to 64 bytes, so that each starts on a cache line.
const align = 16

// minBlock is the smallest block, in values.
const minBlock = 1 << 20

// Reset takes back every buffer lent since the last Reset.
func (a *Arena) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.blocks) > 1 { // the step outgrew the block: one block for all of it
		a.blocks = nil
		runtime.GC() // free the old blocks first, so their memory serves the new one
		a.blocks = [][]float32{make([]float32, a.total+a.total/16)}
	}
	a.used, a.total = 0, 0
}

// Bytes returns the memory the arena holds.
func (a *Arena) Bytes() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n int64
	for _, b := range a.blocks {
		n += int64(4 * len(b))
	}
	return n
}

// get lends a buffer of n values, not cleared.
func (a *Arena) get(n int) []float32 {
	m := (n + align - 1) / align * align
	a.mu.Lock()
	defer a.mu.Unlock()
	var cur []float32
	if len(a.blocks) > 0 {
		cur = a.blocks[len(a.blocks)-1]
	}
	if a.used+m > len(cur) {
		cur = make([]float32, max(m, a.total/2, minBlock))
		a.blocks = append(a.blocks, cur)
		a.used = 0
	}
	b := cur[a.used : a.used+n : a.used+n]
	a.used += m
	a.total += m
	return b
}

// alloc returns n zeroed values, from the arena in use if any.
func alloc(n int) []float32 {
	if a := arena.Load(); a != nil {
		b := a.get(n)
		clear(b)
		return b
	}
	return make([]float32, n)
}

// allocOut returns n values whose contents are unspecified, for outputs the
// caller overwrites completely.
func allocOut(n int) []float32 {
	if a := arena.Load(); a != nil {
		return a.get(n)
	}
	return make([]float32, n)
}
