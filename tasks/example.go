package tasks

import (
	"fmt"

	"github.com/hiertune/hiertune/loader/tokenizer"
)

// Example is one sentence (or text, or text pair) of a dataset: what the
// encoder reads, its gold annotation, and its encoding.
type Example struct {
	// Words are a word-level example's words.
	Words []string
	// Text and Pair are a sentence-level example's text(s).
	Text, Pair string
	// Line is the example's line in its file, for messages.
	Line int
	// Gold is the example's annotation as its dataset's format reads it.
	Gold Annotation

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

// Annotation is an example's annotation: columns of values by name, one
// value per word for word-level columns (upos, head...), one value for a
// sentence-level column (label).
type Annotation interface {
	// Column returns the named column, or nil when the example has none.
	Column(name string) []string
}

// Prediction is what a task predicts for one example: values by column, as
// Annotation holds them.
type Prediction map[string][]string

// window is one encoder input: ids and types, and the words it holds
// whole, in order, as piece ranges (for pooling words in the encoder).
type window struct {
	ids, types []int
	words      []wordPiece // window: the word's index in the example
}

type wordPiece struct{ window, start, end int }

// Size returns the number of ids in the example's windows.
func (ex *Example) Size() int { return ex.size }

// Units returns the length of the example's windows once words are
// pooled: their whole words, [CLS] and [SEP].
func (ex *Example) Units() int { return ex.units }

// Windows returns the number of encoder inputs the example takes.
func (ex *Example) Windows() int { return len(ex.windows) }

// Longest returns the length of the example's longest window.
func (ex *Example) Longest() int {
	n := 0
	for _, w := range ex.windows {
		n = max(n, len(w.ids))
	}
	return n
}

// EncodeWords tokenizes a word-level example and splits it into windows of
// at most maxLen ids that share stride pieces: every word keeps all its
// pieces in the window that owns it, so nothing is truncated.
func (ex *Example) EncodeWords(tok *tokenizer.Tokenizer, maxLen, stride int) error {
	e := tok.EncodeWords(ex.Words)
	ws, err := tok.Windows(e, maxLen, stride)
	if err != nil {
		return err
	}
	ex.windows, ex.size, ex.units = nil, 0, 0
	ex.wordSeg = make([]wordPiece, len(ex.Words))
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
			return fmt.Errorf("word %d (%q) has no piece", i+1, ex.Words[i])
		}
	}
	return nil
}

// EncodeText tokenizes a sentence-level example: one window, [CLS] text
// [SEP] (and the second text after it), cut to maxLen ids — longest text
// first — as sequence classifiers do. It reports whether it had to cut.
func (ex *Example) EncodeText(tok *tokenizer.Tokenizer, maxLen int) bool {
	a := tok.Encode(ex.Text)
	var in tokenizer.Input
	full := 0
	if ex.Pair == "" {
		in = tok.Single(a, maxLen)
		full = len(tok.Single(a, 0).IDs)
	} else {
		b := tok.Encode(ex.Pair)
		in = tok.Pair(a, b, maxLen)
		full = len(tok.Pair(a, b, 0).IDs)
	}
	ex.windows = []window{{ids: in.IDs, types: in.TypeIDs}}
	ex.size = len(in.IDs)
	return len(in.IDs) < full
}
