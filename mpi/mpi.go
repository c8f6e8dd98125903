// Package mpi is what data-parallel training needs of MPI: the ranks of a
// job launched by mpirun and sum/max all-reduces of gradients and counters
// among them. It reaches Open MPI through dlopen (libmpi.so.40), as the
// kernels reach OpenBLAS, so that a binary built with it runs without MPI
// installed: outside mpirun, Init returns a world of one rank whose
// reductions do nothing.
//
// Every MPI call is made from one goroutine locked to one OS thread (MPI
// is initialised with MPI_THREAD_FUNNELED), so reductions queued with
// Start run while the caller goes on computing (the overlap of PyTorch
// DDP's buckets and Horovod's tensor fusion).
package mpi

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// LibraryEnv names the environment variable that gives libmpi's path.
const LibraryEnv = "HIERTUNE_MPI_LIB"

// Launched reports whether the process was started by mpirun (Open MPI
// sets OMPI_COMM_WORLD_SIZE), and with how many ranks.
func Launched() (size int, ok bool) {
	n, err := strconv.Atoi(os.Getenv("OMPI_COMM_WORLD_SIZE"))
	return n, err == nil && n > 0
}

// Comm is the world of a job's ranks.
type Comm struct {
	rank, size int
	ops        chan op // nil for a world of one
	done       chan struct{}
}

// op is one MPI call, run on the MPI thread.
type op struct {
	run  func() error
	done chan error
}

// Rank returns this process's rank; Size the number of ranks.
func (c *Comm) Rank() int { return c.rank }

// Size returns the number of ranks.
func (c *Comm) Size() int { return c.size }

// Pending is an all-reduce started by Start.
type Pending struct{ done chan error }

// Wait waits for the reduction and returns its error.
func (p *Pending) Wait() error {
	if p == nil {
		return nil
	}
	return <-p.done
}

// Init returns the world: one rank outside mpirun; under mpirun, the ranks
// of the job, after loading Open MPI ($HIERTUNE_MPI_LIB or libmpi.so.40)
// and initialising it. A process launched by mpirun that cannot load MPI
// is an error, not a silent single-process run.
func Init() (*Comm, error) {
	size, launched := Launched()
	if !launched || size == 1 && os.Getenv(LibraryEnv) == "" {
		return &Comm{rank: 0, size: 1}, nil
	}
	return start()
}

// do runs f on the MPI thread and waits for it.
func (c *Comm) do(f func() error) error {
	if c.ops == nil {
		return nil
	}
	done := make(chan error, 1)
	c.ops <- op{run: f, done: done}
	return <-done
}

// start queues f on the MPI thread and returns at once.
func (c *Comm) startOp(f func() error) *Pending {
	if c.ops == nil {
		return nil
	}
	p := &Pending{done: make(chan error, 1)}
	c.ops <- op{run: f, done: p.done}
	return p
}

// SumFloat32 adds buf element-wise over the ranks, in place, and returns
// when every rank holds the sum.
func (c *Comm) SumFloat32(buf []float32) error {
	return c.do(func() error { return sumF32(buf) })
}

// Start begins adding buf over the ranks in place; the caller must not
// touch buf until the Pending's Wait returns. Reductions run in the order
// they are started, which must be the same on every rank.
func (c *Comm) Start(buf []float32) *Pending {
	return c.startOp(func() error { return sumF32(buf) })
}

// SumFloat64 adds buf over the ranks, in place.
func (c *Comm) SumFloat64(buf []float64) error {
	return c.do(func() error { return sumF64(buf) })
}

// MaxFloat64 takes the element-wise maximum of buf over the ranks, in
// place.
func (c *Comm) MaxFloat64(buf []float64) error {
	return c.do(func() error { return maxF64(buf) })
}

// AllGather returns every rank's b, in rank order, on every rank. It is
// built from the reductions above (a byte is exact in a float32, and the
// others' slots are zeros), which suits the small payloads it carries:
// a shard of dev-set predictions.
func (c *Comm) AllGather(b []byte) ([][]byte, error) {
	if c.ops == nil {
		return [][]byte{b}, nil
	}
	lens := make([]float64, c.size)
	lens[c.rank] = float64(len(b))
	if err := c.MaxFloat64(lens); err != nil {
		return nil, err
	}
	at, total := 0, 0
	for r, n := range lens {
		if r < c.rank {
			at += int(n)
		}
		total += int(n)
	}
	buf := make([]float32, total)
	for i, x := range b {
		buf[at+i] = float32(x)
	}
	if err := c.SumFloat32(buf); err != nil {
		return nil, err
	}
	out := make([][]byte, c.size)
	at = 0
	for r, n := range lens {
		out[r] = make([]byte, int(n))
		for i := range out[r] {
			out[r][i] = byte(buf[at+i])
		}
		at += int(n)
	}
	return out, nil
}

// Barrier waits until every rank has reached it.
func (c *Comm) Barrier() error { return c.do(barrier) }

// Abort ends every rank of the job with code (MPI_Abort): one rank's
// failure must not leave the others waiting in a reduction.
func (c *Comm) Abort(code int) {
	if c.ops == nil {
		os.Exit(code)
	}
	c.ops <- op{run: func() error { abort(code); return nil }, done: make(chan error, 1)}
	select {} // MPI_Abort does not return
}

// Finalize ends MPI; the Comm is unusable afterwards.
func (c *Comm) Finalize() error {
	if c.ops == nil {
		return nil
	}
	err := c.do(finalize)
	close(c.ops)
	<-c.done
	c.ops = nil
	return err
}

// errCode turns an MPI return code into an error.
func errCode(what string, rc int) error {
	if rc == 0 {
		return nil
	}
	return fmt.Errorf("mpi: %s failed with code %d", what, rc)
}

var errNoMPI = errors.New("mpi: this binary was built without cgo, which Open MPI needs")
