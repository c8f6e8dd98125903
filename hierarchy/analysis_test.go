package hierarchy

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/checkpoints"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/tasks"
)

// heads is a gold annotation with only a head column.
type heads []string

func (h heads) Column(name string) []string {
	if name == "head" {
		return h
	}
	return nil
}

// A known answer: hidden states that put each word's first piece at its
// position on a line give H distances equal to the distances in a chain
// tree, so DSpr and UUAS are 1; a star tree over the same states is far
// from it.
func TestAnalysisOfALine(t *testing.T) {
	t.Setenv("HIERTUNE_CACHE", filepath.Join(t.TempDir(), "cache"))
	dir, err := checkpoints.Dir("tiny-random")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	words := []string{"the", "cat", "sat", "on", "the", "warm", "mat", "today"}
	chain, star := heads{"0", "1", "2", "3", "4", "5", "6", "7"}, heads{"0", "1", "1", "1", "1", "1", "1", "1"}
	var exs []*tasks.Example
	for _, g := range []heads{chain, star} {
		ex := &tasks.Example{Words: words, Gold: g}
		if err := ex.EncodeWords(tok, 64, 16); err != nil {
			t.Fatal(err)
		}
		exs = append(exs, ex)
	}
	const D = 4
	cfg := &Config{Dim: D, Similarity: &SimilarityConfig{}}
	if err := cfg.Check(1, -1, false); err != nil {
		t.Fatal(err)
	}
	m := New(cfg, D, 1, rand.New(rand.NewPCG(1, 1)))
	w := kernels.Values(m.Proj[1].Weight)
	clear(w)
	for i := 0; i < D; i++ {
		w[i*D+i] = 1 // H = the state
	}
	var reports []Report
	for _, ex := range [][]*tasks.Example{exs[:1], exs[1:]} {
		a, err := m.Analyse([]int{1})
		if err != nil {
			t.Fatal(err)
		}
		// Word k's first piece at (k, 0, 0, 0); every other row at the
		// origin.
		b := tasks.NewBatch(ex, 0)
		x := make([]float32, b.Enc.Size*b.Enc.Seq*D)
		W, starts, _ := b.WordSlots(false)
		for k := range words {
			x[starts[k+1]*D] = float32(k)
		}
		hidden := []mat.Tensor{nil, kernels.NewMatrix(b.Enc.Size*b.Enc.Seq, D, x)}
		if err := a.Add(b, hidden); err != nil {
			t.Fatal(err)
		}
		reports = append(reports, a.Reports()[0])
		if merges := m.Dendrogram(1, hidden, b, 0); len(merges) != len(words)-1 || W != len(words)+1 {
			t.Errorf("a dendrogram of %d merges over %d words", len(merges), len(words))
		}
	}
	if r := reports[0]; math.Abs(r.DSpr-1) > 1e-9 || r.UUAS != 1 || r.Sentences != 1 || r.Trees != 1 {
		t.Errorf("chain: %+v, want DSpr 1 and UUAS 1 over one sentence", r)
	}
	if r := reports[1]; r.UUAS > 0.3 || r.DSpr > 0.5 {
		t.Errorf("star: %+v, want far from the line", r)
	}
	if r := reports[0]; r.Q90 <= r.Q10 || math.IsNaN(r.MeanWeight) {
		t.Errorf("spread %+v", r)
	}
}
