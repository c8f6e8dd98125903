// Package probing measures what each layer of an encoder holds: it trains
// small probes (linear by default, or one hidden layer) on the frozen
// states of every layer for a task read from a dataset's gold column, each
// beside a control task (Hewitt & Liang 2019, "Designing and Interpreting
// Probes with Control Tasks") so that selectivity is shown, not only
// accuracy, and summarises where the task is solved with the two measures
// of Tenney et al. 2019 ("BERT Rediscovers the Classical NLP Pipeline"):
// the center of gravity of a scalar mix of all layers, and the expected
// layer of the gains of cumulative mixes.
//
// The encoder runs once per file: every layer's states are kept in memory
// (Features) and every probe of every task reads them.
package probing

import (
	"fmt"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/tasks"
)

// Features are the frozen states of every hidden state of an encoder (the
// embeddings' output is state 0, layer l's output state l) for a list of
// examples, as plain rows of Dim values.
type Features struct {
	// States is the number of hidden states, layers + 1.
	States int
	Dim    int
	// Counts holds each example's number of words (0 for text examples).
	Counts []int
	// Words[n] holds, for state n, one row per word of every example in
	// order: the mean of the word's pieces (or its unit, when the encoder
	// pools words below n).
	Words [][]float32
	// Roots[n] holds one row per example: its [CLS] state, which the arc
	// probe takes as the root.
	Roots [][]float32
	// Sentences[n] holds one row per example: the mean of its words' rows,
	// or for text examples of its first window's pieces between [CLS] and
	// [SEP].
	Sentences [][]float32
	// first[e] is the row of example e's first word in Words.
	first []int
}

// Extract runs the encoder of m over the examples of dataset d (read and
// encoded by m) and returns every state's features.
func Extract(m *model.Model, d *datasets.Dataset, exs []*tasks.Example) (*Features, error) {
	states := m.Encoder.Config.NumHiddenLayers + 1
	f := &Features{States: states, Dim: m.Encoder.Config.HiddenSize, Counts: make([]int, len(exs)), first: make([]int, len(exs))}
	index := make(map[*tasks.Example]int, len(exs))
	words := 0
	for i, ex := range exs {
		index[ex] = i
		f.first[i] = words
		f.Counts[i] = len(ex.Words)
		words += len(ex.Words)
	}
	D := f.Dim
	f.Words, f.Roots, f.Sentences = make([][]float32, states), make([][]float32, states), make([][]float32, states)
	for n := range states {
		f.Words[n] = make([]float32, words*D)
		f.Roots[n] = make([]float32, len(exs)*D)
		f.Sentences[n] = make([]float32, len(exs)*D)
	}
	err := m.Hidden(d, exs, func(b *tasks.Batch, hidden []mat.Tensor) error {
		if len(hidden) != states {
			return fmt.Errorf("probing: %d hidden states from a %d-layer encoder", len(hidden), states-1)
		}
		for n, h := range hidden {
			x := kernels.Values(h)
			W, starts, ends := b.WordSlots(b.UnitsAt(n))
			for i, ex := range b.Examples {
				e := index[ex]
				copy(f.Roots[n][e*D:(e+1)*D], x[starts[i*W]*D:(starts[i*W]+1)*D])
				sent := f.Sentences[n][e*D : (e+1)*D]
				if len(ex.Words) == 0 {
					meanPieces(sent, x, b, i, D)
					continue
				}
				for w := range len(ex.Words) {
					row := f.Words[n][(f.first[e]+w)*D : (f.first[e]+w+1)*D]
					mean(row, x, starts[i*W+1+w], ends[i*W+1+w], D)
					for k, v := range row {
						sent[k] += v / float32(len(ex.Words))
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// mean sets dst to the mean of rows [start, end) of x.
func mean(dst, x []float32, start, end, D int) {
	clear(dst)
	for r := start; r < end; r++ {
		for k := range D {
			dst[k] += x[r*D+k]
		}
	}
	for k := range dst {
		dst[k] /= float32(end - start)
	}
}

// meanPieces sets dst to the mean of example i's first window's pieces
// between [CLS] and its last attended position ([SEP]), or to its [CLS]
// state when there are none.
func meanPieces(dst, x []float32, b *tasks.Batch, i, D int) {
	row := b.FirstRow(i)
	seq := b.Enc.Seq
	last := seq - 1
	if mask := b.Enc.AttentionMask; mask != nil {
		for last > 0 && mask[row*seq+last] == 0 {
			last--
		}
	}
	if last <= 1 {
		copy(dst, x[row*seq*D:(row*seq+1)*D])
		return
	}
	mean(dst, x, row*seq+1, row*seq+last, D)
}

// wordRows returns the rows in Words of example e's words.
func (f *Features) wordRows(e int) (start, end int) { return f.first[e], f.first[e] + f.Counts[e] }
