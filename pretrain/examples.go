package pretrain

import (
	"math/rand/v2"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

// ignore marks a position without a masked-LM target.
const ignore = -100

// masker turns stored sequences into training examples.
type masker struct {
	specials  tokenizer.Specials
	vocab     int
	prob      float64
	wholeWord bool
	replace   [3]float64 // [MASK], random, unchanged
	sentence  string     // "none", "nsp" or "sop"
}

// example is one input sequence with its targets.
type example struct {
	ids, types []int
	labels     []int // the original id at masked positions, ignore elsewhere
	sentence   int   // the sentence-objective label (1: swapped or random), -1 without one
}

// example builds the input of sequence seq (pieces with flags): the
// sentence-level pair when asked for (other is then another sequence, for
// NSP), the special tokens, and the masking, all drawn from rng.
func (k *masker) example(seq, other []uint32, rng *rand.Rand) example {
	ex := example{sentence: -1}
	cls, sep := k.specials.CLS, k.specials.SEP
	var a, b []uint32
	if k.sentence == "none" {
		a = seq
	} else {
		a, b = splitSegments(seq, rng)
		ex.sentence = 0
		if len(b) > 0 && rng.Float64() < 0.5 {
			ex.sentence = 1
			if k.sentence == "sop" {
				a, b = b, a
			} else { // nsp: a second segment from another sequence, no longer than this one's
				_, ob := splitSegments(other, rng)
				if len(ob) == 0 {
					ob = other
				}
				b = ob[:min(len(ob), len(b))]
			}
		}
	}
	pieces := make([]uint32, 0, len(a)+len(b)+3)
	ex.ids = append(ex.ids, cls)
	ex.types = append(ex.types, 0)
	pieces = append(pieces, 0)
	for _, p := range a {
		ex.ids, ex.types, pieces = append(ex.ids, int(p&idMask)), append(ex.types, 0), append(pieces, p)
	}
	ex.ids, ex.types, pieces = append(ex.ids, sep), append(ex.types, 0), append(pieces, 0)
	if b != nil {
		for _, p := range b {
			ex.ids, ex.types, pieces = append(ex.ids, int(p&idMask)), append(ex.types, 1), append(pieces, p)
		}
		ex.ids, ex.types, pieces = append(ex.ids, sep), append(ex.types, 1), append(pieces, 0)
	}
	ex.labels = k.mask(ex.ids, pieces, rng)
	return ex
}

// splitSegments cuts a sequence in two at a line start (or, within a
// single line, at a word start) chosen at random, for the sentence-level
// objectives. A sequence of one piece gives an empty second segment.
func splitSegments(seq []uint32, rng *rand.Rand) (a, b []uint32) {
	var cuts []int
	for i := 1; i < len(seq); i++ {
		if seq[i]&startsLine != 0 {
			cuts = append(cuts, i)
		}
	}
	if len(cuts) == 0 {
		for i := 1; i < len(seq); i++ {
			if seq[i]&startsWord != 0 {
				cuts = append(cuts, i)
			}
		}
	}
	if len(cuts) == 0 {
		cut := len(seq) / 2
		return seq[:max(cut, 1)], seq[max(cut, 1):]
	}
	cut := cuts[rng.IntN(len(cuts))]
	return seq[:cut], seq[cut:]
}

// mask chooses the masked positions of ids (pieces carries the word-start
// flags; special tokens have pieces[i] == 0 and are never chosen) and
// applies the replacement rule in place. With whole-word masking every piece
// of a chosen word is masked, as in BERT's whole-word-masking models and
// HuggingFace's DataCollatorForWholeWordMask: words are drawn in random
// order until the masked pieces reach mask_probability of the sequence, and
// a word that would overshoot is skipped.
func (k *masker) mask(ids []int, pieces []uint32, rng *rand.Rand) []int {
	labels := make([]int, len(ids))
	for i := range labels {
		labels[i] = ignore
	}
	var words [][2]int // piece ranges
	for i := range ids {
		if pieces[i] == 0 {
			continue
		}
		if !k.wholeWord || pieces[i]&startsWord != 0 || len(words) == 0 || words[len(words)-1][1] != i {
			words = append(words, [2]int{i, i + 1})
		} else {
			words[len(words)-1][1] = i + 1
		}
	}
	n := 0
	for _, w := range words {
		n += w[1] - w[0]
	}
	if n == 0 {
		return labels
	}
	budget := max(1, int(float64(n)*k.prob+0.5))
	rng.Shuffle(len(words), func(i, j int) { words[i], words[j] = words[j], words[i] })
	covered := 0
	for _, w := range words {
		if covered >= budget {
			break
		}
		if covered+w[1]-w[0] > budget {
			continue
		}
		covered += w[1] - w[0]
		for i := w[0]; i < w[1]; i++ {
			labels[i] = ids[i]
			switch r := rng.Float64(); {
			case r < k.replace[0]:
				ids[i] = k.specials.MASK
			case r < k.replace[0]+k.replace[1]:
				ids[i] = rng.IntN(k.vocab)
			}
		}
	}
	return labels
}

// batch is a padded batch of examples ready for the model.
type batch struct {
	enc       *encoder.Batch
	rows      []int // flat positions of the masked pieces
	targets   []int // their original ids
	sentences []int // sentence-objective labels, one per sequence, or nil
	tokens    int   // real (non-padding) tokens
}

// makeBatch pads examples to the longest and collects the masked positions.
func makeBatch(exs []example, pad int) *batch {
	seq := 0
	for _, ex := range exs {
		seq = max(seq, len(ex.ids))
	}
	b := &batch{enc: &encoder.Batch{Size: len(exs), Seq: seq}}
	n := len(exs) * seq
	b.enc.InputIDs, b.enc.TokenTypeIDs, b.enc.AttentionMask = make([]int, n), make([]int, n), make([]int64, n)
	for s, ex := range exs {
		for i := 0; i < seq; i++ {
			p := s*seq + i
			if i >= len(ex.ids) {
				b.enc.InputIDs[p] = pad
				continue
			}
			b.enc.InputIDs[p], b.enc.TokenTypeIDs[p], b.enc.AttentionMask[p] = ex.ids[i], ex.types[i], 1
			b.tokens++
			if ex.labels[i] != ignore {
				b.rows = append(b.rows, p)
				b.targets = append(b.targets, ex.labels[i])
			}
		}
		if ex.sentence >= 0 {
			b.sentences = append(b.sentences, ex.sentence)
		}
	}
	return b
}
