package hierarchy

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/hierarchy/cluster"
	"github.com/hiertune/hiertune/kernels"
)

// Merger merges the tokens of one forward pass between layers and maps the
// states above the merges back to the tokens (an encoder.Merger).
//
// At each merge, the positions of every encoder row are its [CLS], its
// tokens and its [SEP] (then padding). The tokens are clustered — by
// their hierarchy vectors (agglomerative clustering) or by the next
// layer's attention keys (ToMe's bipartite soft matching) — and each
// cluster becomes one unit: the mean of its members' states weighted by
// how many tokens each stands for. [CLS] and [SEP] stay units of their
// own, so the pooler and sentence heads read [CLS] as before. The units
// of a row are laid out as [CLS], the clusters in order of their first
// token, [SEP]; the layers above attend to a unit with log(size) added to
// its logits (proportional attention), so a phrase of five tokens draws
// the attention its five tokens would have drawn together.
//
// Unmerging gives every position its unit's state plus a skip from its own
// state before the merge minus its unit's state then: u + (x − x̄). A
// position that was merged with nothing gets exactly its unit's state, so
// merging nothing reproduces the unmerged model.
type Merger struct {
	cfg    *MergeConfig
	h      *Module
	enc    *encoder.Model
	sizes  []float32 // tokens each current position stands for (0: padding)
	levels []level
	// positions counts the positions, padding aside, of the first merge.
	positions int
}

// level is one merge: after hidden state after, position p of its input
// went to unit unitOf[p] of its output.
type level struct {
	after      int
	unitOf     []int
	xOld, xNew mat.Tensor
	// Once needed, over the positions before the first merge: the unit
	// of this level each went to, and the sum of the skips x − x̄ of
	// this level and those below.
	comp []int
	skip mat.Tensor
}

// NewMerger returns the merger of one forward pass of enc; h may be nil
// when merging by keys.
func NewMerger(cfg *MergeConfig, h *Module, enc *encoder.Model) (*Merger, error) {
	if cfg.By == ByHierarchy {
		for _, a := range cfg.After {
			if h == nil || !h.Has(a) {
				return nil, fmt.Errorf("hierarchy.merge: hidden state %d has no hierarchy vectors to merge by", a)
			}
		}
	}
	return &Merger{cfg: cfg, h: h, enc: enc}, nil
}

// Merge merges the positions of x, hidden state l−1, before layer l when
// the configuration merges after l−1.
func (m *Merger) Merge(l int, x mat.Tensor, mask *kernels.Mask) (mat.Tensor, *kernels.Mask, error) {
	after := l - 1
	if !slices.Contains(m.cfg.After, after) {
		return x, mask, nil
	}
	B, S := mask.Batch, mask.Seq
	if m.sizes == nil || len(m.sizes) != B*S {
		m.sizes = make([]float32, B*S)
		for i, a := range mask.Add {
			if a > -math.MaxFloat32/2 {
				m.sizes[i] = 1
				m.positions++
			}
		}
	}
	var feats mat.Tensor
	if m.cfg.By == ByHierarchy {
		feats = m.h.H(after, x)
	} else {
		feats = m.enc.Layers[l-1].Attention.Self.Key.Forward(x)
	}
	_, F := kernels.Dims(feats)
	fv := kernels.Values(feats)
	labels := make([][]int, B) // per row, the cluster of each token (positions 1..n−2)
	rowUnits := make([]int, B) // per row, its units: [CLS], the clusters, [SEP]
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range min(kernels.Threads(), B) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := int(next.Add(1)) - 1; r < B; r = int(next.Add(1)) - 1 {
				n := 0
				for n < S && m.sizes[r*S+n] > 0 {
					n++
				}
				items := max(n-2, 0)
				points, sizes := make([][]float32, items), make([]float64, items)
				for i := range points {
					p := r*S + 1 + i
					points[i], sizes[i] = fv[p*F:(p+1)*F], float64(m.sizes[p])
				}
				labels[r] = m.cluster(points, sizes, len(m.levels))
				k := 0 // clusters, numbered 0..k−1
				for _, c := range labels[r] {
					k = max(k, c+1)
				}
				rowUnits[r] = k + min(n, 2)
			}
		}()
	}
	wg.Wait()
	units := slices.Max(rowUnits)
	unit, gather := make([]int, B*S), make([]int, B*S)
	weight := make([]float32, B*S)
	sizes := make([]float32, B*units)
	for r := 0; r < B; r++ {
		for p := 0; p < S; p++ {
			i := r*S + p
			if m.sizes[i] == 0 {
				unit[i], gather[i] = -1, r*units
				continue
			}
			u := 0 // [CLS]
			switch {
			case p == 0:
			case p-1 < len(labels[r]):
				u = 1 + labels[r][p-1]
			default: // [SEP], the row's last unit
				u = rowUnits[r] - 1
			}
			unit[i], gather[i] = r*units+u, r*units+u
			sizes[r*units+u] += m.sizes[i]
		}
	}
	for i, u := range unit {
		if u >= 0 {
			weight[i] = m.sizes[i] / sizes[u]
		}
	}
	xNew := kernels.MergeRows(x, unit, weight, B*units)
	m.levels = append(m.levels, level{after: after, unitOf: gather, xOld: x, xNew: xNew})
	m.sizes = sizes
	return xNew, kernels.NewSizedMask(B, units, sizes), nil
}

// cluster returns the cluster of each of a row's tokens at merge k,
// numbered in order of their first token.
func (m *Merger) cluster(points [][]float32, sizes []float64, k int) []int {
	n := len(points)
	if n == 0 {
		return nil
	}
	remove := int(math.Round(m.cfg.Ratio.At(k) * float64(n)))
	if m.cfg.By == ByKeys {
		return cluster.Bipartite(points, remove, nil)
	}
	merges := cluster.Agglomerate(points, sizes, cluster.Linkage(m.cfg.Linkage), m.cfg.Clusters == Spans)
	if t := m.cfg.Threshold.At(k); t > 0 {
		return cluster.LabelsBelow(n, merges, t)
	}
	return cluster.Labels(n, merges, max(n-remove, 1))
}

// Unmerge maps hidden state n back through the merges below layer n+1.
func (m *Merger) Unmerge(n int, h mat.Tensor) mat.Tensor {
	k := 0 // the merges below layer n+1
	for k < len(m.levels) && m.levels[k].after < n {
		k++
	}
	if k == 0 {
		return h
	}
	lv := m.paths(k - 1)
	return kernels.GatherAdd(h, lv.comp, lv.skip, 1)
}

// paths returns level k with its path and summed skips computed.
func (m *Merger) paths(k int) *level {
	lv := &m.levels[k]
	if lv.comp != nil {
		return lv
	}
	skip := kernels.GatherAdd(lv.xNew, lv.unitOf, lv.xOld, -1) // x − x̄ over this level's input
	if k == 0 {
		lv.comp, lv.skip = lv.unitOf, skip
		return lv
	}
	below := m.paths(k - 1)
	lv.comp = make([]int, len(below.comp))
	for p, u := range below.comp {
		lv.comp[p] = lv.unitOf[u]
	}
	lv.skip = kernels.GatherAdd(skip, below.comp, below.skip, 1)
	return lv
}

// Counts returns the positions, padding aside, that entered the first
// merge and the units the last merge left (0, 0 before any merge), to
// measure how much merging removed.
func (m *Merger) Counts() (positions, units int) {
	if len(m.levels) == 0 {
		return 0, 0
	}
	for _, s := range m.sizes {
		if s > 0 {
			units++
		}
	}
	return m.positions, units
}
