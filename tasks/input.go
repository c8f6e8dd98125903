package tasks

import (
	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
)

// Input is what a task's head reads: the hidden states of its layer (or
// mix of layers) over a batch, and how the batch lays them out.
type Input struct {
	States mat.Tensor
	Batch  *Batch
	// Units says that the states are over the word units pooled in the
	// encoder (one position per word), not over pieces.
	Units bool
	// Graph asks for scores laid out as an exported graph's outputs (word
	// slots, a row per encoder row) rather than packed per word and per
	// example.
	Graph bool
	// PairLogits, when the model has pair states that parsers read,
	// returns the n×cols scores of the pair states at rows (each (b·seq +
	// i)·seq + j for tokens i, j of encoder row b; negative: no state,
	// score 0) — see kernels.PairLogits.
	PairLogits func(rows []int, n, cols int) mat.Tensor
}

// PairRows returns, for the word slots of the batch (WordSlots), the pair
// state of every dependent slot i and head slot j of each example —
// between the words' first pieces, or the [CLS] state for slot 0 — as
// rows for PairLogits laid out like kernels.ArcScores's [B·W, W]: -1
// where the two words are in different windows (no pair state) or a slot
// is padding.
func (b *Batch) PairRows() (rows []int, W int) {
	W, starts, _ := b.WordSlots(false)
	seq := b.Enc.Seq
	counts := b.WordCounts()
	for e := range b.Examples {
		for i := range W {
			for j := range W {
				fi, fj := starts[e*W+i], starts[e*W+j]
				if i > counts[e] || j > counts[e] || fi/seq != fj/seq {
					rows = append(rows, -1)
					continue
				}
				rows = append(rows, (fi/seq*seq+fi%seq)*seq+fj%seq)
			}
		}
	}
	return rows, W
}

// Words pools each word of the batch's examples into one row [words,
// hidden], in example order, and returns the number of words of each
// example.
func (in *Input) Words(p *heads.WordPooler) (mat.Tensor, []int) {
	starts, ends, _ := in.Batch.wordSegments(in.Units)
	var all, allEnds, counts []int
	for i := range starts {
		all, allEnds, counts = append(all, starts[i]...), append(allEnds, ends[i]...), append(counts, len(starts[i]))
	}
	return p.Forward(in.States, all, allEnds), counts
}

// Slots pools the batch's words into word slots [B·W, hidden] (see
// Batch.WordSlots): slot 0 of each example is its [CLS] state.
func (in *Input) Slots(p *heads.WordPooler) (mat.Tensor, heads.Sentences) {
	W, starts, ends := in.Batch.WordSlots(in.Units)
	s := heads.Sentences{B: len(in.Batch.Examples), W: W}
	for _, n := range in.Batch.WordCounts() {
		s.Lengths = append(s.Lengths, n+1)
	}
	return p.Forward(in.States, starts, ends), s
}

// Sentences returns one vector per example — or, for a graph, per encoder
// row — pooled from its first window: its [CLS] state, or with mean the
// mean of its tokens.
func (in *Input) Sentences(mean bool) mat.Tensor {
	b := in.Batch
	seq := b.Enc.Seq
	var starts, ends []int
	add := func(row, length int) {
		starts = append(starts, row*seq)
		end := row*seq + 1
		if mean {
			end = row*seq + max(length, 1)
		}
		ends = append(ends, end)
	}
	if in.Graph {
		for r := 0; r < b.Enc.Size; r++ {
			n := 0
			for _, a := range b.Enc.AttentionMask[r*seq : (r+1)*seq] {
				if a != 0 {
					n++
				}
			}
			add(r, n)
		}
	} else {
		for i, ex := range b.Examples {
			add(b.rowOf[i], len(ex.windows[0].ids))
		}
	}
	mode := kernels.PoolFirst
	if mean {
		mode = kernels.PoolMean
	}
	return kernels.SegmentPool(in.States, starts, ends, mode)
}
