package hierarchy

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

func microModel(t *testing.T, layers int) *encoder.Model {
	t.Helper()
	cfg, _ := encoder.Preset("micro")
	cfg.NumHiddenLayers = layers
	m, err := encoder.New(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(rand.New(rand.NewPCG(1, 2)))
	return m
}

// batch3 is three sequences of 9, 6 and 3 tokens ([CLS] … [SEP]).
func batch3() *encoder.Batch {
	b := &encoder.Batch{Size: 3, Seq: 9}
	r := rand.New(rand.NewPCG(4, 4))
	for row, n := range []int{9, 6, 3} {
		for p := 0; p < 9; p++ {
			switch {
			case p >= n:
				b.InputIDs, b.AttentionMask = append(b.InputIDs, 0), append(b.AttentionMask, 0)
			case p == 0:
				b.InputIDs, b.AttentionMask = append(b.InputIDs, 2), append(b.AttentionMask, 1)
			case p == n-1:
				b.InputIDs, b.AttentionMask = append(b.InputIDs, 3), append(b.AttentionMask, 1)
			default:
				b.InputIDs, b.AttentionMask = append(b.InputIDs, 5+r.IntN(90)+row), append(b.AttentionMask, 1)
			}
		}
	}
	return b
}

func module(t *testing.T, enc *encoder.Model, merge *MergeConfig) *Module {
	t.Helper()
	cfg := &Config{Dim: 8, Merge: merge}
	if err := cfg.Check(len(enc.Layers), -1, false); err != nil {
		t.Fatal(err)
	}
	return New(cfg, enc.Config.HiddenSize, len(enc.Layers), rand.New(rand.NewPCG(5, 5)))
}

// Merging nothing (ratio 0) runs the merging code path and must give the
// unmerged model's outputs at every real position, exactly.
func TestRatioZeroIsTheUnmergedModel(t *testing.T) {
	enc := microModel(t, 3)
	b := batch3()
	plain, err := enc.Forward(b, encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, by := range []string{ByHierarchy, ByKeys} {
		for _, clusters := range []string{Spans, Free} {
			h := module(t, enc, &MergeConfig{By: by, After: []int{1, 2}, Clusters: clusters})
			mg, err := NewMerger(h.Config.Merge, h, enc)
			if err != nil {
				t.Fatal(err)
			}
			res, err := enc.Forward(b, encoder.Options{Merge: mg})
			if err != nil {
				t.Fatal(err)
			}
			if p, u := mg.Counts(); p != 9+6+3 || u != p {
				t.Errorf("%s/%s: %d positions, %d units after merging nothing, want 18 and 18", by, clusters, p, u)
			}
			for n := range plain.HiddenStates {
				a, c := kernels.Values(plain.HiddenStates[n]), kernels.Values(res.HiddenStates[n])
				if len(a) != len(c) {
					t.Fatalf("%s/%s: hidden state %d has %d values, unmerged %d", by, clusters, n, len(c), len(a))
				}
				var worst float64
				for i := range a {
					if b.AttentionMask[i/enc.Config.HiddenSize] == 1 {
						worst = max(worst, math.Abs(float64(a[i]-c[i])))
					}
				}
				if worst > 1e-6 {
					t.Errorf("%s/%s: hidden state %d differs from the unmerged one by %g", by, clusters, n, worst)
				}
			}
			if d := maxDiff(kernels.Values(plain.Pooled), kernels.Values(res.Pooled)); d > 1e-6 {
				t.Errorf("%s/%s: pooler output differs by %g", by, clusters, d)
			}
		}
	}
}

func maxDiff(a, b []float32) float64 {
	var worst float64
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i]-b[i])))
	}
	return worst
}

// A hand-computed merge and unmerge: one row [CLS] a b c [SEP] whose
// tokens a and b have equal hierarchy vectors and c a distant one; with a
// ratio of 1/3 a and b become one unit (their mean), and each gets back
// the unit's state plus its own deviation from the mean.
func TestMergeAndUnmergeByHand(t *testing.T) {
	enc := microModel(t, 2)
	H := enc.Config.HiddenSize
	h := module(t, enc, &MergeConfig{After: []int{1}, Ratio: PerMerge{1.0 / 3}})
	// Hierarchy vectors: the projection reads the first feature only.
	w := kernels.Values(h.Proj[1].Weight)
	clear(w)
	w[0] = 1
	x := make([]float32, 5*H)
	for p, first := range []float32{0, 1, 1, 50, 0} {
		for c := 0; c < H; c++ {
			x[p*H+c] = float32(p*10 + c)
		}
		x[p*H] = first
	}
	xm := kernels.NewMatrix(5, H, x)
	mg, err := NewMerger(h.Config.Merge, h, enc)
	if err != nil {
		t.Fatal(err)
	}
	merged, mask, err := mg.Merge(2, xm, kernels.NewMask(1, 5, []int64{1, 1, 1, 1, 1}))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := kernels.Dims(merged); r != 4 || mask.Seq != 4 {
		t.Fatalf("merged into %d rows (mask %d), want [CLS] (a b) c [SEP]", r, mask.Seq)
	}
	if got, want := mask.Add[1], float32(math.Log(2)); math.Abs(float64(got-want)) > 1e-7 {
		t.Errorf("the unit of two tokens has mask %g, want log 2", got)
	}
	mv := kernels.Values(merged)
	for c := 1; c < H; c++ {
		if want := float32(15 + c); mv[H+c] != want { // mean of rows 1 and 2
			t.Fatalf("unit (a b) feature %d = %g, want %g", c, mv[H+c], want)
		}
	}
	// A layer that doubles its input, then unmerging.
	up := kernels.WeightedSum([]mat.Tensor{merged}, []float32{2})
	back := kernels.Values(mg.Unmerge(2, up))
	for p := 0; p < 5; p++ {
		for c := 1; c < H; c++ {
			unit := map[int]int{0: 0, 1: 1, 2: 1, 3: 2, 4: 3}[p]
			want := 2*mv[unit*H+c] + x[p*H+c] - mv[unit*H+c]
			if d := math.Abs(float64(back[p*H+c] - want)); d > 1e-4 {
				t.Fatalf("position %d feature %d: %g, want u + x − x̄ = %g", p, c, back[p*H+c], want)
			}
		}
	}
}

// A ratio per merge: none removed at the first, half at the second.
func TestRatioPerMerge(t *testing.T) {
	enc := microModel(t, 3)
	h := module(t, enc, &MergeConfig{After: []int{1, 2}, Ratio: PerMerge{0, 0.5}})
	mg, _ := NewMerger(h.Config.Merge, h, enc)
	res, err := enc.Forward(batch3(), encoder.Options{Merge: mg})
	if err != nil {
		t.Fatal(err)
	}
	// 7, 4 and 1 tokens: round(3.5) + round(2) + round(0.5) = 4 + 2 + 0 removed.
	if p, u := mg.Counts(); p != 18 || u != 18-6 {
		t.Errorf("%d positions, %d units; want 18 and 12", p, u)
	}
	if len(res.HiddenStates) != 4 {
		t.Errorf("%d hidden states", len(res.HiddenStates))
	}
}

// Merging half the tokens of every layer keeps the outputs' shapes and
// [CLS], gives gradients to the merged states, and removes tokens.
func TestMergingShortensAndTrains(t *testing.T) {
	enc := microModel(t, 3)
	b := batch3()
	for _, by := range []string{ByHierarchy, ByKeys} {
		h := module(t, enc, &MergeConfig{By: by, After: []int{1, 2}, Ratio: PerMerge{0.5}})
		mg, _ := NewMerger(h.Config.Merge, h, enc)
		res, err := enc.Forward(b, encoder.Options{Merge: mg, Train: true, RNG: rand.New(rand.NewPCG(1, 1))})
		if err != nil {
			t.Fatal(err)
		}
		// 7 + 4 + 1 tokens → ~ halved twice; [CLS] and [SEP] of 3 rows kept.
		if p, u := mg.Counts(); p != 18 || u >= 12 || u < 6 {
			t.Errorf("%s: %d units left of %d positions, want 6..11 of 18", by, u, p)
		}
		last := res.HiddenStates[len(res.HiddenStates)-1]
		if r, _ := kernels.Dims(last); r != 27 {
			t.Errorf("%s: the last hidden state has %d rows, want 27", by, r)
		}
		loss, _ := kernels.SimilarityLoss(last, last, [][]int{{1, 2, 3, 4, 5, 6, 7}, {10, 11, 12, 13}}, kernels.Similarity{Kernel: kernels.Gaussian, Tau: 1})
		if err := kernels.Backward(loss); err != nil {
			t.Fatal(err)
		}
		// The layers below the merges get gradients through them.
		q := enc.Layers[0].Attention.Self.Query.Weight
		if !q.HasGrad() || maxDiff(kernels.Values(q.Grad()), make([]float32, len(kernels.Values(q)))) == 0 {
			t.Errorf("%s: no gradient reached layer 1 through the merges", by)
		}
		for _, np := range enc.NamedParams() {
			np.Param.ZeroGrad()
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{From: 2, Merge: &MergeConfig{After: []int{1}}}, "below hierarchy.from"},
		{Config{Merge: &MergeConfig{After: []int{1}, Ratio: PerMerge{1}}}, "ratio must be in [0, 1)"},
		{Config{Merge: &MergeConfig{After: []int{1}, Ratio: PerMerge{-0.1}}}, "ratio must be in [0, 1)"},
		{Config{Merge: &MergeConfig{After: []int{3}}}, "not a hidden state with a layer above"},
		{Config{Merge: &MergeConfig{After: []int{2, 1}}}, "must ascend"},
		{Config{Merge: &MergeConfig{After: []int{1}, Ratio: PerMerge{0.2}, Threshold: PerMerge{1}}}, "not both"},
		{Config{Merge: &MergeConfig{By: ByKeys, After: []int{1}, Threshold: PerMerge{1}}}, "takes a ratio"},
		{Config{Merge: &MergeConfig{}}, "list the hidden states"},
		{Config{Merge: &MergeConfig{After: []int{1, 2}, Ratio: PerMerge{0.1, 0.2, 0.3}}}, "one per merge"},
		{Config{Merge: &MergeConfig{After: []int{1}, Linkage: "single"}}, "linkage"},
		{Config{Similarity: &SimilarityConfig{Layers: []int{0}}}, "has no hierarchy vectors"},
		{Config{Similarity: &SimilarityConfig{Density: 1}}, "density must be in (0, 1)"},
		{Config{Similarity: &SimilarityConfig{Kernel: "box"}}, "kernel must be one of"},
		{Config{Syntax: &SyntaxConfig{}}, "name the treebank"},
		{Config{From: 4}, "hierarchy.from must be"},
	} {
		err := c.cfg.Check(3, -1, false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c.cfg, err, c.want)
		}
	}
	m := &MergeConfig{After: []int{1}}
	if err := m.Check(3, 1, 1, false); err == nil || !strings.Contains(err.Error(), "word pooling") {
		t.Errorf("merging at word pooling: %v", err)
	}
	if err := m.Check(3, 1, -1, true); err == nil || !strings.Contains(err.Error(), "depth mixing") {
		t.Errorf("merging with depth mixing: %v", err)
	}
}
