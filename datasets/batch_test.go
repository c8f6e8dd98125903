package datasets

import (
	"testing"

	"github.com/hiertune/hiertune/checkpoints"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/tasks"
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
	d, err := New("ewt", Config{Format: "conllu"})
	if err != nil {
		t.Fatal(err)
	}
	exs, err := d.Read("../examples/data/ewt-sample-train.conllu", nil)
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, len(exs))
	for i, ex := range exs {
		if err := ex.EncodeWords(tok, 128, 32); err != nil {
			t.Fatal(err)
		}
		idx[i] = i
	}
	ex := exs[0]
	if ex.Windows() != 1 || ex.Units() != len(ex.Words)+2 {
		t.Fatalf("%d windows, %d units for %d words", ex.Windows(), ex.Units(), len(ex.Words))
	}
	for _, c := range []struct{ after, want int }{{-1, ex.Size()}, {0, ex.Units()}, {2, ex.Size()}} {
		if got := tasks.BatchLength(c.after)(ex); got != c.want {
			t.Errorf("BatchLength(%d) = %d, want %d", c.after, got, c.want)
		}
	}
	// Padded pooled units (longest sentence in words × sentences), summed
	// over the batches.
	padded := func(groups [][]int) int {
		seen, total := map[int]bool{}, 0
		for _, g := range groups {
			w := 0
			for _, i := range g {
				w = max(w, exs[i].Units())
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
	byPieces := padded(tasks.GroupedBatches(idx, exs, 32, tasks.BatchLength(-1), nil))
	byWords := padded(tasks.GroupedBatches(idx, exs, 32, tasks.BatchLength(0), nil))
	units := 0
	for _, ex := range exs {
		units += ex.Units()
	}
	t.Logf("%d units; padded to %d grouped by pieces, %d by words", units, byPieces, byWords)
	if byWords >= byPieces {
		t.Errorf("grouping by words pads to %d units, by pieces %d", byWords, byPieces)
	}
}
