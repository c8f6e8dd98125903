package train

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/mpi"
	"github.com/hiertune/hiertune/run"
)

// Data-parallel training: the ranks of a job launched by mpirun share
// every update. An update's global batch is train.accumulate batches of
// train.batch_size (the same for any number of ranks); with N ranks
// (N dividing accumulate) rank r computes batches r, r+N, … of it and only
// advances its data past the others (Skipper), the gradients are summed
// over the ranks (in buckets, the first ones travelling while the later
// ones are packed), and every rank takes the same optimiser step — so N
// ranks compute what one process accumulating the same batches computes,
// up to the order of floating-point sums. Rank 0 writes the run; the other
// ranks read it (run.Follow). Stopping (Ctrl-C, the time limit) is agreed
// at the start of an update, so every rank stops at the same step.

type commKey struct{}

// WithComm returns a context carrying the world of a data-parallel job,
// which the loop and OpenRun read.
func WithComm(ctx context.Context, c *mpi.Comm) context.Context {
	return context.WithValue(ctx, commKey{}, c)
}

// World returns the world of the data-parallel job in ctx, or nil for a
// single process.
func World(ctx context.Context) *mpi.Comm {
	c, _ := ctx.Value(commKey{}).(*mpi.Comm)
	if c == nil || c.Size() == 1 {
		return nil
	}
	return c
}

// Rank returns this process's rank in the job of ctx (0 for a single
// process).
func Rank(ctx context.Context) int {
	if c := World(ctx); c != nil {
		return c.Rank()
	}
	return 0
}

// Quiet returns log for rank 0 and io.Discard for the other ranks: only
// rank 0 reports progress.
func Quiet(ctx context.Context, log io.Writer) io.Writer {
	if Rank(ctx) != 0 {
		return io.Discard
	}
	return log
}

// Skipper is a Job that can advance its data past step s as Step(s)
// would, without computing it: what a rank does with the batches of an
// update that the other ranks compute. Jobs without it train on one
// process only.
type Skipper interface {
	Skip(s int) error
}

// OpenRun starts the run in path as mode says (run.Start) on rank 0 — or
// the only process — and, in a data-parallel job, opens it for the other
// ranks (run.Follow) once rank 0 has. An error on rank 0 is every rank's.
func OpenRun(ctx context.Context, path string, config []byte, mode run.Mode) (*run.Dir, error) {
	var d *run.Dir
	err := OnRankZero(World(ctx), "start the run in "+path, func() (err error) {
		d, err = run.Start(path, config, mode)
		return err
	})
	if err != nil || Rank(ctx) == 0 {
		return d, err
	}
	return run.Follow(path)
}

// OnRankZero runs f on rank 0 of c only (or in the only process, c nil),
// for what must
// be written once — a run's vocabulary, data or student — before every
// rank reads it. When it returns, f has finished; if f failed, every rank
// returns an error (rank 0 f's, the others one saying it failed to do
// what).
func OnRankZero(c *mpi.Comm, what string, f func() error) error {
	if c == nil {
		return f()
	}
	var err error
	if c.Rank() == 0 {
		err = f()
	}
	failed, rerr := anyRank(c, err != nil)
	switch {
	case rerr != nil:
		return rerr
	case c.Rank() == 0:
		return err
	case failed:
		return fmt.Errorf("rank %d: rank 0 could not %s", c.Rank(), what)
	}
	return nil
}

// Mine reports whether this rank evaluates item i of a sharded
// evaluation: every item in a single process (c nil), every N-th of N
// ranks.
func Mine(c *mpi.Comm, i int) bool { return c == nil || i%c.Size() == c.Rank() }

// SumShards adds the sums v of a sharded evaluation over the ranks, in
// place (nothing to do in a single process).
func SumShards(c *mpi.Comm, v []float64) error {
	if c == nil {
		return nil
	}
	return c.SumFloat64(v)
}

// BucketBytes is the size of the buckets gradients are summed in.
const BucketBytes = 8 << 20

// anyRank tells every rank whether flag is set on any of them.
func anyRank(c *mpi.Comm, flag bool) (bool, error) {
	v := []float64{0}
	if flag {
		v[0] = 1
	}
	if err := c.MaxFloat64(v); err != nil {
		return false, err
	}
	return v[0] > 0, nil
}

// sumTokens returns the tokens of an update over all ranks.
func sumTokens(c *mpi.Comm, tokens, padded int) (int, int, error) {
	v := []float64{float64(tokens), float64(padded)}
	if err := c.SumFloat64(v); err != nil {
		return 0, 0, err
	}
	return int(v[0]), int(v[1]), nil
}

// sumGradients sums the gradients of params over the ranks. A parameter
// without a gradient on some rank (a task absent from its batches)
// contributes zeros; one without a gradient on every rank keeps none, as
// it would in one process (AdamW then leaves it alone).
func sumGradients(c *mpi.Comm, params []encoder.NamedParam) error {
	has := make([]float64, len(params))
	for i, p := range params {
		if p.Param.HasGrad() {
			has[i] = 1
		}
	}
	if err := c.MaxFloat64(has); err != nil {
		return err
	}
	type bucket struct {
		params []int
		buf    []float32
		p      *mpi.Pending
	}
	var buckets []*bucket
	cur := &bucket{}
	flush := func() {
		if len(cur.params) > 0 {
			cur.p = c.Start(cur.buf)
			buckets = append(buckets, cur)
			cur = &bucket{}
		}
	}
	// In reverse order, as the backward pass finishes them.
	for i := len(params) - 1; i >= 0; i-- {
		if has[i] == 0 {
			continue
		}
		p := params[i].Param
		n := len(kernels.Values(p))
		if p.HasGrad() {
			cur.buf = append(cur.buf, kernels.Values(p.Grad())...)
		} else {
			cur.buf = append(cur.buf, make([]float32, n)...)
		}
		cur.params = append(cur.params, i)
		if 4*len(cur.buf) >= BucketBytes {
			flush()
		}
	}
	flush()
	for _, b := range buckets {
		if err := b.p.Wait(); err != nil {
			return err
		}
		at := 0
		for _, i := range b.params {
			p := params[i].Param
			n := len(kernels.Values(p))
			if p.HasGrad() {
				copy(kernels.Values(p.Grad()), b.buf[at:at+n])
			} else {
				kernels.AccGrad(p, slices.Clone(b.buf[at:at+n]))
			}
			at += n
		}
	}
	return nil
}
