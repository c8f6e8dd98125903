package tokenizer

import "fmt"

// templateItem is one element of a post-processing template: special
// tokens (seq -1) or the first (0) or second (1) sequence.
type templateItem struct {
	seq    int
	ids    []int
	typeID int
}

// Input is a model input: token ids including special tokens, and their
// token type ids.
type Input struct {
	IDs, TypeIDs []int
}

// build lays out a template with the given sequences.
func build(tmpl []templateItem, seqs ...[]int) Input {
	var in Input
	for _, it := range tmpl {
		ids := it.ids
		if it.seq >= 0 {
			ids = seqs[it.seq]
		}
		in.IDs = append(in.IDs, ids...)
		for range ids {
			in.TypeIDs = append(in.TypeIDs, it.typeID)
		}
	}
	return in
}

// numSpecial counts the special tokens a template adds.
func numSpecial(tmpl []templateItem) int {
	n := 0
	for _, it := range tmpl {
		if it.seq < 0 {
			n += len(it.ids)
		}
	}
	return n
}

// Single adds the special tokens around one sequence ([CLS] a [SEP] for
// BERT, <s> a </s> for RoBERTa). When maxLen > 0 pieces are dropped from the
// end so that at most maxLen ids remain (never fewer than the special
// tokens); use Windows to keep everything.
func (t *Tokenizer) Single(e Encoding, maxLen int) Input {
	ids := e.IDs
	if maxLen > 0 {
		ids = ids[:min(len(ids), max(0, maxLen-numSpecial(t.single)))]
	}
	return build(t.single, ids)
}

// Pair encodes a sentence pair: [CLS] a [SEP] b [SEP] with type ids 0 then
// 1 for BERT, <s> a </s></s> b </s> (all type 0) for RoBERTa. When maxLen > 0
// the longer sequence loses its last piece until the ids fit (the second one
// on ties), as transformers' "longest_first" truncation.
func (t *Tokenizer) Pair(a, b Encoding, maxLen int) Input {
	na, nb := a.Len(), b.Len()
	if maxLen > 0 {
		budget := max(0, maxLen-numSpecial(t.pair))
		for na+nb > budget {
			if na > nb {
				na--
			} else {
				nb--
			}
		}
	}
	return build(t.pair, a.IDs[:na], b.IDs[:nb])
}

// Window is one model input cut from a long encoding: pieces Start..End-1,
// with the special tokens of a single sequence around them. Consecutive
// windows overlap; each piece is owned by exactly one window, the one where
// it has the most context, so per-piece predictions can be merged by taking
// each piece from its owner.
type Window struct {
	Input
	Start, End       int // the pieces held
	OwnStart, OwnEnd int // the pieces owned, within Start..End
	Offset           int // position in IDs of piece Start
}

// Pos returns the position in w.IDs of piece i (Start <= i < End).
func (w Window) Pos(i int) int { return w.Offset + i - w.Start }

// Windows splits e into windows of at most maxLen ids including the special
// tokens, consecutive windows sharing stride pieces. Nothing is truncated. A
// piece in the overlap of two windows is owned by the earlier one if it has
// at least as many pieces after it there as before it in the later one. An
// empty encoding gives one window holding only the special tokens.
func (t *Tokenizer) Windows(e Encoding, maxLen, stride int) ([]Window, error) {
	room := maxLen - numSpecial(t.single)
	if room < 1 {
		return nil, fmt.Errorf("tokenizer: windows of %d ids leave no room beside %d special tokens", maxLen, numSpecial(t.single))
	}
	if stride < 0 || stride >= room {
		return nil, fmt.Errorf("tokenizer: window stride %d must be in [0, %d)", stride, room)
	}
	offset := 0
	for _, it := range t.single {
		if it.seq >= 0 {
			break
		}
		offset += len(it.ids)
	}
	n := e.Len()
	var ws []Window
	for start := 0; ; start += room - stride {
		end := min(start+room, n)
		ws = append(ws, Window{Input: build(t.single, e.IDs[start:end]), Start: start, End: end, OwnStart: start, OwnEnd: end, Offset: offset})
		if end == n {
			break
		}
	}
	for k := 0; k+1 < len(ws); k++ {
		b := (ws[k].End-1+ws[k+1].Start)/2 + 1
		ws[k].OwnEnd, ws[k+1].OwnStart = b, b
	}
	return ws, nil
}
