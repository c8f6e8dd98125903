package hierarchy

import (
	"fmt"
	"math"
	"slices"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/hierarchy/cluster"
	"github.com/hiertune/hiertune/hierarchy/probe"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/tasks"
)

// Report says how the hierarchy vectors of one layer are spread and how
// well their distances between words agree with gold dependency trees.
type Report struct {
	Layer int
	// Hewitt & Manning's distance Spearman (DSpr) over the Sentences of
	// 5 to 50 words with a gold tree, and the UUAS of the minimum spanning
	// tree of the H distances over the Trees of two words or more (NaN
	// without any).
	Sentences, Trees int
	DSpr             float64
	UUAS             float64
	// Quantiles of the squared H distance between two tokens of a
	// sentence: a hierarchy that collapsed has them all near 0 (every
	// token in one cluster) or all far beyond the kernel's temperature
	// (no token near another).
	Q10 float64
	Q50 float64
	Q90 float64
	// MeanWeight is the mean pair weight of the similarity kernel (NaN
	// without a regulariser), the quantity its density term aims at.
	MeanWeight float64
}

// Analysis accumulates the reports of a file's batches.
type Analysis struct {
	m      *Module
	layers []int
	dspr   map[int]*probe.DSpr
	uuas   map[int][3]int    // correct, total, trees
	sq     map[int][]float64 // a sample of token-pair squared distances
	weight map[int][2]float64
}

// Analyse starts an analysis of the hierarchy vectors of layers.
func (m *Module) Analyse(layers []int) (*Analysis, error) {
	for _, l := range layers {
		if !m.Has(l) {
			return nil, fmt.Errorf("hidden state %d has no hierarchy vectors", l)
		}
	}
	a := &Analysis{m: m, layers: layers, dspr: map[int]*probe.DSpr{}, uuas: map[int][3]int{}, sq: map[int][]float64{}, weight: map[int][2]float64{}}
	for _, l := range layers {
		a.dspr[l] = &probe.DSpr{}
	}
	return a, nil
}

// Add takes the hidden states of an unmerged forward pass over batch b.
func (a *Analysis) Add(b *tasks.Batch, hidden []mat.Tensor) error {
	trees, err := Trees(b)
	if err != nil {
		return err
	}
	for _, l := range a.layers {
		if l >= len(hidden) {
			return fmt.Errorf("hidden state %d was not computed", l)
		}
		units := b.UnitsAt(l)
		h := a.m.H(l, hidden[l])
		hv := kernels.Values(h)
		_, E := kernels.Dims(h)
		// Token pairs: the spread of H, and the kernel's mean weight.
		for _, rows := range TokenRows(b, units) {
			var es []float64
			var mean float64
			for i := 0; i < len(rows); i++ {
				for j := i + 1; j < len(rows); j++ {
					e := sqDist(hv, E, rows[i], rows[j])
					es, mean = append(es, e), mean+e
				}
			}
			if len(es) == 0 {
				continue
			}
			if len(a.sq[l]) < 200000 {
				a.sq[l] = append(a.sq[l], es...)
			}
			if s := a.m.Config.Similarity; s != nil {
				mean /= float64(len(es))
				var sum float64
				for _, e := range es {
					w, _ := kernels.PairKernel(s.Kernel).Weight(e / (s.Temperature*mean + 1e-12))
					sum += w
				}
				w := a.weight[l]
				a.weight[l] = [2]float64{w[0] + sum/float64(len(es)), w[1] + 1}
			}
		}
		// Word pairs against the gold trees.
		for i, rows := range WordRows(b, units, trees) {
			if len(rows) < 2 {
				continue
			}
			dist := WordDistances(hv, E, rows)
			a.dspr[l].Add(dist, trees[i])
			c, t := probe.UUAS(probe.MST(dist), tasks.GoldHeads(b.Examples[i]))
			u := a.uuas[l]
			a.uuas[l] = [3]int{u[0] + c, u[1] + t, u[2] + 1}
		}
	}
	return nil
}

// Reports returns the report of each layer analysed.
func (a *Analysis) Reports() []Report {
	var out []Report
	for _, l := range a.layers {
		r := Report{Layer: l, Sentences: a.dspr[l].Sentences(), Trees: a.uuas[l][2], DSpr: a.dspr[l].Value(), UUAS: math.NaN(), MeanWeight: math.NaN()}
		if u := a.uuas[l]; u[1] > 0 {
			r.UUAS = float64(u[0]) / float64(u[1])
		}
		if w := a.weight[l]; w[1] > 0 {
			r.MeanWeight = w[0] / w[1]
		}
		sq := slices.Clone(a.sq[l])
		slices.Sort(sq)
		if n := len(sq); n > 0 {
			r.Q10, r.Q50, r.Q90 = sq[n/10], sq[n/2], sq[n*9/10]
		}
		out = append(out, r)
	}
	return out
}

// IsTree reports whether heads (CoNLL-U's, 1-based, 0 the root) are a
// dependency tree over n words.
func IsTree(heads []int, n int) bool {
	if len(heads) != n || n == 0 {
		return false
	}
	_, err := probe.TreeDistances(heads)
	return err == nil
}

// WordDistances returns the Euclidean distances between the hierarchy
// vectors (rows of the E-wide hv) of a sentence's words.
func WordDistances(hv []float32, E int, rows []int) [][]float64 {
	n := len(rows)
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, n)
	}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			d := math.Sqrt(sqDist(hv, E, rows[i], rows[j]))
			out[i][j], out[j][i] = d, d
		}
	}
	return out
}

// Dendrogram returns the agglomerative clustering that the hierarchy
// vectors of hidden state l induce on the words of example i of batch b
// (average linkage, contiguous spans as merging does by default).
func (m *Module) Dendrogram(l int, hidden []mat.Tensor, b *tasks.Batch, i int) []cluster.Merge {
	h := m.H(l, hidden[l])
	hv := kernels.Values(h)
	_, E := kernels.Dims(h)
	W, starts, _ := b.WordSlots(b.UnitsAt(l))
	n := b.WordCounts()[i]
	points := make([][]float32, n)
	for w := range points {
		r := starts[i*W+w+1]
		points[w] = hv[r*E : (r+1)*E]
	}
	link, spans := cluster.Average, true
	if c := m.Config.Merge; c != nil {
		link, spans = cluster.Linkage(c.Linkage), c.Clusters == Spans
	}
	return cluster.Agglomerate(points, nil, link, spans)
}

func sqDist(x []float32, cols, a, b int) float64 {
	var s float64
	for c := 0; c < cols; c++ {
		d := float64(x[a*cols+c] - x[b*cols+c])
		s += d * d
	}
	return s
}
