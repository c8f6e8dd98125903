package kernels

import (
	"fmt"

	"github.com/nlpodyssey/spago/mat"
)

// Lookup is one embedding table read by Embeddings: row IDs[i] of Table goes
// into output row i. The gradient of row Pad is kept at zero, like
// PyTorch's padding_idx; a negative Pad means no such row.
type Lookup struct {
	Table mat.Tensor
	IDs   []int
	Pad   int
}

// Embeddings returns the sum of the looked-up rows of every table: output row
// i is Σ_t Table_t[IDs_t[i]]. All lookups have the same number of IDs and all
// tables the same width. IDs are checked against the tables' sizes and an
// out-of-range one is an error, since they come from user input.
func Embeddings(lookups ...Lookup) (mat.Tensor, error) {
	if len(lookups) == 0 {
		panic("kernels.Embeddings: no tables")
	}
	n := len(lookups[0].IDs)
	_, width := Dims(lookups[0].Table)
	for t, l := range lookups {
		rows, cols := Dims(l.Table)
		if cols != width || len(l.IDs) != n {
			panic(fmt.Sprintf("kernels.Embeddings: table %d is %d×%d with %d ids; want width %d and %d ids", t, rows, cols, len(l.IDs), width, n))
		}
		for i, id := range l.IDs {
			if id < 0 || id >= rows {
				return nil, fmt.Errorf("embedding table %d: id %d at position %d is outside [0, %d)", t, id, i, rows)
			}
		}
	}
	return run(&embeddingsFn{lookups: lookups, n: n, width: width}), nil
}

type embeddingsFn struct {
	lookups  []Lookup
	n, width int
}

func (f *embeddingsFn) Operands() []mat.Tensor {
	ts := make([]mat.Tensor, len(f.lookups))
	for i, l := range f.lookups {
		ts[i] = l.Table
	}
	return ts
}

func (f *embeddingsFn) Forward() (mat.Tensor, error) {
	w := f.width
	out := alloc(f.n * w)
	tables := make([][]float32, len(f.lookups))
	for t, l := range f.lookups {
		tables[t] = Values(l.Table)
	}
	parallel(f.n, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := out[i*w : (i+1)*w]
			for t, l := range f.lookups {
				row := tables[t][l.IDs[i]*w : (l.IDs[i]+1)*w]
				for c, v := range row {
					o[c] += v
				}
			}
		}
	})
	return NewMatrix(f.n, w, out), nil
}

func (f *embeddingsFn) Backward(gy mat.Tensor) error {
	g, w := Values(gy), f.width
	for _, l := range f.lookups {
		if !l.Table.RequiresGrad() {
			continue
		}
		rows, _ := Dims(l.Table)
		d := alloc(rows * w)
		// Threads own column ranges, so the scatter-add needs no locks.
		parallel(w, 16, func(lo, hi int) {
			for i, id := range l.IDs {
				if id == l.Pad {
					continue
				}
				dst, src := d[id*w+lo:id*w+hi], g[i*w+lo:i*w+hi]
				for c, v := range src {
					dst[c] += v
				}
			}
		})
		accGrad(l.Table, d)
	}
	return nil
}
