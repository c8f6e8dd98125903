package finetune

import (
	"testing"

	"github.com/hiertune/hiertune/checkpoints"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

// TestBatchLength checks the length batches are grouped by, and that with
// words pooled after hidden state 0 grouping by it pads the pooled batches
// less than grouping by pieces does.
func TestBatchLength(t *testing.T) {
	ck, err := loader.Open(checkpoints.Default)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(ck.Dir)
	if err != nil {
		t.Fatal(err)
	}
	exs, _, err := readExamples("../examples/data/ewt-sample-train.conllu", DatasetConfig{Format: "conllu"})
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, len(exs))
	for i, ex := range exs {
		if err := encodeWords(tok, ex, 128, 32); err != nil {
			t.Fatal(err)
		}
		idx[i] = i
	}
	ex := exs[0]
	if len(ex.windows) != 1 || ex.units != len(ex.words)+2 {
		t.Fatalf("%d windows, %d units for %d words", len(ex.windows), ex.units, len(ex.words))
	}
	for _, c := range []struct{ after, want int }{{-1, ex.size}, {0, ex.units}, {2, ex.size}} {
		if got := batchLength(c.after)(ex); got != c.want {
			t.Errorf("batchLength(%d) = %d, want %d", c.after, got, c.want)
		}
	}
	// Padded pooled units (longest sentence in words × sentences), summed
	// over the batches.
	padded := func(groups [][]int) int {
		seen, total := map[int]bool{}, 0
		for _, g := range groups {
			w := 0
			for _, i := range g {
				w = max(w, exs[i].units)
				if seen[i] {
					t.Fatalf("example %d in two batches", i)
				}
				seen[i] = true
			}
			total += w * len(g)
		}
		if len(seen) != len(exs) {
			t.Fatalf("%d of %d examples batched", len(seen), len(exs))
		}
		return total
	}
	byPieces := padded(groupedBatches(idx, exs, 32, batchLength(-1), nil))
	byWords := padded(groupedBatches(idx, exs, 32, batchLength(0), nil))
	units := 0
	for _, ex := range exs {
		units += ex.units
	}
	t.Logf("%d units; padded to %d grouped by pieces, %d by words", units, byPieces, byWords)
	if byWords >= byPieces {
		t.Errorf("grouping by words pads to %d units, by pieces %d", byWords, byPieces)
	}
}
