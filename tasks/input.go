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
