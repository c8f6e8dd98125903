package finetune

import (
	"fmt"
	"sort"

	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

// example is one sentence (or text, or text pair) of a dataset, with its
// gold annotation and its encoding.
type example struct {
	// Word-level datasets: the words, and where they came from (a CoNLL-U
	// sentence, whose rows hold the gold annotation, or NER tags).
	words []string
	sent  *conllu.Sentence
	tags  []string
	// Classification datasets: the text(s) and label.
	text, pair, label string
	line              int // line of the example in its file, for messages

	// The encoding: one or more windows of ids, and for each word the
	// window and the pieces [start, end) (positions in the window's ids)
	// that represent it.
	windows []window
	wordSeg []wordPiece
	size    int // ids in all windows, for batching by length
	// units is the length of the windows once words are pooled: each
	// window's whole words, [CLS] and [SEP].
	units int
}

// window is one encoder input: ids and types, and the words it holds
// whole, in order, as piece ranges (for pooling words in the encoder).
type window struct {
	ids, types []int
	words      []wordPiece // window: the word's index in the example
}

type wordPiece struct{ window, start, end int }

// encodeWords tokenizes an example's words and splits them into windows of
// at most maxLen ids that share stride pieces: every word keeps all its
// pieces in the window that owns it, so nothing is truncated.
func encodeWords(tok *tokenizer.Tokenizer, ex *example, maxLen, stride int) error {
	e := tok.EncodeWords(ex.words)
	ws, err := tok.Windows(e, maxLen, stride)
	if err != nil {
		return err
	}
	ex.wordSeg = make([]wordPiece, len(ex.words))
	for i := range ex.wordSeg {
		ex.wordSeg[i].window = -1
	}
	for k, w := range ws {
		win := window{ids: w.IDs, types: w.TypeIDs}
		for p := w.Start; p < w.End; p++ {
			word, pos := e.WordIndex[p], w.Pos(p)
			n := len(win.words)
			if n > 0 && win.words[n-1].window == word {
				win.words[n-1].end = pos + 1
			} else {
				win.words = append(win.words, wordPiece{window: word, start: pos, end: pos + 1})
			}
		}
		// A word cut by the window's edge is not whole: leave it out.
		if n := len(win.words); n > 0 && w.End < e.Len() && e.WordIndex[w.End] == win.words[n-1].window {
			win.words = win.words[:n-1]
		}
		if len(win.words) > 0 && w.Start > 0 && e.WordIndex[w.Start-1] == win.words[0].window {
			win.words = win.words[1:]
		}
		ex.windows = append(ex.windows, win)
		ex.size += len(w.IDs)
		ex.units += len(win.words) + 2
		for p := w.OwnStart; p < w.OwnEnd; p++ {
			word := e.WordIndex[p]
			seg := &ex.wordSeg[word]
			pos := w.Pos(p)
			if seg.window < 0 {
				*seg = wordPiece{window: k, start: pos, end: pos + 1}
			} else if seg.window == k {
				seg.end = pos + 1
			}
			// A word whose pieces straddle two windows stays with the
			// window of its first piece (pieces only cross owners at word
			// boundaries, so this does not happen with WordPiece).
		}
	}
	for i, seg := range ex.wordSeg {
		if seg.window < 0 {
			return fmt.Errorf("word %d (%q) has no piece", i+1, ex.words[i])
		}
	}
	return nil
}

// encodeText tokenizes a classification example: one window, [CLS] text
// [SEP] (and the second text after it), cut to maxLen ids — longest text
// first — as sequence classifiers do. It reports whether it had to cut.
func encodeText(tok *tokenizer.Tokenizer, ex *example, maxLen int) bool {
	a := tok.Encode(ex.text)
	var in tokenizer.Input
	full := 0
	if ex.pair == "" {
		in = tok.Single(a, maxLen)
		full = len(tok.Single(a, 0).IDs)
	} else {
		b := tok.Encode(ex.pair)
		in = tok.Pair(a, b, maxLen)
		full = len(tok.Pair(a, b, 0).IDs)
	}
	ex.windows = []window{{ids: in.IDs, types: in.TypeIDs}}
	ex.size = len(in.IDs)
	return len(in.IDs) < full
}

// batch is a set of examples of one dataset encoded for the model.
type batch struct {
	exs []*example
	enc *encoder.Batch
	// rowOf[i] is the batch row of window 0 of example i; its other
	// windows follow.
	rowOf []int
	// Word segments in the flattened [rows·seq] states: for each example,
	// for each word, [start, end).
	starts, ends [][]int
	tokens       int // real tokens
	// With word pooling in the encoder: the pooling, and for each example
	// and word the position of the word in the word batch.
	words  *encoder.WordPooling
	unitOf [][]int
}

// makeBatch pads the windows of examples into one encoder batch.
func makeBatch(exs []*example, pad int) *batch {
	b := &batch{exs: exs}
	rows, seq := 0, 0
	for _, ex := range exs {
		b.rowOf = append(b.rowOf, rows)
		rows += len(ex.windows)
		for _, w := range ex.windows {
			seq = max(seq, len(w.ids))
		}
	}
	n := rows * seq
	b.enc = &encoder.Batch{Size: rows, Seq: seq, InputIDs: make([]int, n), TokenTypeIDs: make([]int, n), AttentionMask: make([]int64, n)}
	for i := range b.enc.InputIDs {
		b.enc.InputIDs[i] = pad
	}
	for e, ex := range exs {
		for k, w := range ex.windows {
			base := (b.rowOf[e] + k) * seq
			copy(b.enc.InputIDs[base:], w.ids)
			copy(b.enc.TokenTypeIDs[base:], w.types)
			for i := range w.ids {
				b.enc.AttentionMask[base+i] = 1
			}
			b.tokens += len(w.ids)
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

// poolWords lays the batch out for word pooling in the encoder: each window
// becomes a sequence of units — [CLS], its whole words, [SEP] — and each
// example's words are taken from the window that owns them.
func (b *batch) poolWords(after int, mode string) {
	seq := b.enc.Seq
	w := &encoder.WordPooling{After: after, Mode: kernels.PoolMode(mode), Size: b.enc.Size}
	for _, ex := range b.exs {
		for _, win := range ex.windows {
			w.Seq = max(w.Seq, len(win.words)+2)
		}
	}
	n := w.Size * w.Seq
	w.Starts, w.Ends, w.Types = make([]int, n), make([]int, n), make([]int, n)
	for e, ex := range b.exs {
		unit := make([]int, len(ex.words))
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
	b.words = w
}

// groupedBatches cuts examples (indices, in order) into batches of size
// with similar lengths (as length measures them, see batchLength): pools of
// 50 batches are sorted by length before being cut, then the batches are
// shuffled by shuffle (nil: kept in order, longest first).
func groupedBatches(idx []int, exs []*example, size int, length func(*example) int, shuffle func(n int, swap func(i, j int))) [][]int {
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

// batchLength returns the length batches are grouped by: pieces, or, when
// words are pooled after hidden state after = 0 (every layer runs on
// words), the units (words and specials), so that a batch padded to its
// longest sentence in words wastes little. Pooling after a layer keeps
// grouping by pieces: the layers below it run on padded pieces, and on EWT
// grouping by words (or by a mix of both lengths) pads them more than it
// saves above (docs/performance.md#word-pooling).
func batchLength(after int) func(*example) int {
	if after == 0 {
		return func(ex *example) int { return ex.units }
	}
	return func(ex *example) int { return ex.size }
}
