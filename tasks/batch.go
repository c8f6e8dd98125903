package tasks

import (
	"sort"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/pairs"
)

// Batch is a set of examples of one dataset encoded for the encoder: their
// windows padded into rows, and where each example's words are in the
// hidden states.
type Batch struct {
	Examples []*Example
	Enc      *encoder.Batch
	// Words is the word pooling inside the encoder (see PoolWords), or nil.
	Words *encoder.WordPooling
	// Tokens counts the real (not padding) pieces.
	Tokens int
	// Pairs is the pair states of the forward pass over the batch, set by
	// the model that runs it when it has pair states (see package pairs).
	Pairs *pairs.State

	// rowOf[i] is the batch row of window 0 of example i; its other
	// windows follow.
	rowOf []int
	// Word segments in the flattened [rows·seq] states: for each example,
	// for each word, [start, end).
	starts, ends [][]int
	// With word pooling in the encoder, for each example and word the
	// position of the word in the flattened [rows·units] word batch.
	unitOf [][]int
}

// NewBatch pads the windows of examples into one encoder batch; pad is the
// padding token's id.
func NewBatch(exs []*Example, pad int) *Batch {
	b := &Batch{Examples: exs}
	rows, seq := 0, 0
	for _, ex := range exs {
		b.rowOf = append(b.rowOf, rows)
		rows += len(ex.windows)
		for _, w := range ex.windows {
			seq = max(seq, len(w.ids))
		}
	}
	n := rows * seq
	b.Enc = &encoder.Batch{Size: rows, Seq: seq, InputIDs: make([]int, n), TokenTypeIDs: make([]int, n), AttentionMask: make([]int64, n)}
	for i := range b.Enc.InputIDs {
		b.Enc.InputIDs[i] = pad
	}
	for e, ex := range exs {
		for k, w := range ex.windows {
			base := (b.rowOf[e] + k) * seq
			copy(b.Enc.InputIDs[base:], w.ids)
			copy(b.Enc.TokenTypeIDs[base:], w.types)
			for i := range w.ids {
				b.Enc.AttentionMask[base+i] = 1
			}
			b.Tokens += len(w.ids)
		}
		if ex.wordSeg != nil {
			s, t := make([]int, len(ex.wordSeg)), make([]int, len(ex.wordSeg))
			for i, seg := range ex.wordSeg {
				row := b.rowOf[e] + seg.window
				s[i], t[i] = row*seq+seg.start, row*seq+seg.end
			}
			b.starts, b.ends = append(b.starts, s), append(b.ends, t)
		}
	}
	return b
}

// PoolWords lays the batch out for word pooling in the encoder after hidden
// state after, in mode: each window becomes a sequence of units — [CLS], its
// whole words, [SEP] — and each example's words are taken from the window
// that owns them.
func (b *Batch) PoolWords(after int, mode kernels.PoolMode) {
	seq := b.Enc.Seq
	w := &encoder.WordPooling{After: after, Mode: mode, Size: b.Enc.Size}
	for _, ex := range b.Examples {
		for _, win := range ex.windows {
			w.Seq = max(w.Seq, len(win.words)+2)
		}
	}
	n := w.Size * w.Seq
	w.Starts, w.Ends, w.Types = make([]int, n), make([]int, n), make([]int, n)
	b.unitOf = nil
	for e, ex := range b.Examples {
		unit := make([]int, len(ex.Words))
		for k, win := range ex.windows {
			row := b.rowOf[e] + k
			base := row * w.Seq
			at := func(u, start, end int) {
				w.Starts[base+u], w.Ends[base+u] = row*seq+start, row*seq+end
				w.Types[base+u] = win.types[start]
			}
			at(0, 0, 1) // [CLS]
			for u, wd := range win.words {
				at(u+1, wd.start, wd.end)
				if ex.wordSeg[wd.window].window == k {
					unit[wd.window] = base + u + 1
				}
			}
			last := len(win.ids) - 1
			at(len(win.words)+1, last, last+1) // [SEP]
		}
		b.unitOf = append(b.unitOf, unit)
	}
	b.Words = w
}

// UnitsAt reports whether hidden state n of a forward pass over the batch
// is over the word units pooled in the encoder rather than over pieces.
func (b *Batch) UnitsAt(n int) bool {
	return b.Words.Pooled(n)
}

// FirstRow returns the batch row of example i's first window.
func (b *Batch) FirstRow(i int) int { return b.rowOf[i] }

// wordSegments returns, for each example, the rows of its words in the
// states ([start, end) ranges of pieces, or single unit positions with
// units), and the row of the example's [CLS].
func (b *Batch) wordSegments(units bool) (starts, ends [][]int, cls []int) {
	if !units {
		for i := range b.Examples {
			cls = append(cls, b.rowOf[i]*b.Enc.Seq)
		}
		return b.starts, b.ends, cls
	}
	for i, us := range b.unitOf {
		s, e := make([]int, len(us)), make([]int, len(us))
		for j, u := range us {
			s[j], e[j] = u, u+1
		}
		starts, ends = append(starts, s), append(ends, e)
		cls = append(cls, b.rowOf[i]*b.Words.Seq)
	}
	return starts, ends, cls
}

// WordSlots lays the batch's words out in W slots per example, as the
// parser and exported graphs read them: example b's slots are b·W..b·W+W-1,
// slot 0 its [CLS] state (the parser's ROOT), slots 1..n its words and the
// rest padding that repeats slot 0. It returns, for every slot, the rows
// [start, end) it pools in the flattened pieces (or, with units, in the
// word units pooled in the encoder).
func (b *Batch) WordSlots(units bool) (W int, starts, ends []int) {
	wordStarts, wordEnds, cls := b.wordSegments(units)
	W = 1
	for _, s := range wordStarts {
		W = max(W, len(s)+1)
	}
	for i := range b.Examples {
		n := 0
		if i < len(wordStarts) {
			n = len(wordStarts[i])
		}
		for slot := 0; slot < W; slot++ {
			if slot == 0 || slot > n {
				starts, ends = append(starts, cls[i]), append(ends, cls[i]+1)
			} else {
				starts, ends = append(starts, wordStarts[i][slot-1]), append(ends, wordEnds[i][slot-1])
			}
		}
	}
	return W, starts, ends
}

// WordCounts returns the number of words of each example.
func (b *Batch) WordCounts() []int {
	out := make([]int, len(b.Examples))
	for i, ex := range b.Examples {
		out[i] = len(ex.wordSeg)
	}
	return out
}

// GroupedBatches cuts examples (indices, in order) into batches of size
// with similar lengths (as length measures them, see BatchLength): pools
// of 50 batches are sorted by length before being cut, then the batches
// are shuffled by shuffle (nil: kept in order, longest first).
func GroupedBatches(idx []int, exs []*Example, size int, length func(*Example) int, shuffle func(n int, swap func(i, j int))) [][]int {
	var out [][]int
	for lo := 0; lo < len(idx); lo += 50 * size {
		pool := append([]int(nil), idx[lo:min(len(idx), lo+50*size)]...)
		sort.SliceStable(pool, func(i, j int) bool { return length(exs[pool[i]]) > length(exs[pool[j]]) })
		for b := 0; b < len(pool); b += size {
			out = append(out, pool[b:min(len(pool), b+size)])
		}
	}
	if shuffle != nil {
		shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out
}

// BatchLength returns the length batches are grouped by: pieces, or, when
// words are pooled after hidden state after = 0 (every layer runs on
// words), the units (words and specials), so that a batch padded to its
// longest sentence in words wastes little. Pooling after a layer keeps
// grouping by pieces: the layers below it run on padded pieces, and on EWT
// grouping by words (or by a mix of both lengths) pads them more than it
// saves above (docs/performance.md#word-pooling).
func BatchLength(after int) func(*Example) int {
	if after == 0 {
		return func(ex *Example) int { return ex.units }
	}
	return func(ex *Example) int { return ex.size }
}
