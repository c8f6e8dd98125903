package tokenizer

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxWordChars is the max_input_chars_per_word of the WordPiece model that
// WriteJSON saves: longer words are [UNK] whatever the vocabulary.
const maxWordChars = 100

// subwordPrefix marks a token that continues a word.
const subwordPrefix = "##"

// TrainOptions configure a Trainer.
type TrainOptions struct {
	// VocabSize is the number of tokens to reach, special tokens and
	// alphabet included. Training stops short of it when no pair is left
	// to merge.
	VocabSize int
	// MinFrequency stops training once the most frequent pair is seen
	// fewer times than this.
	MinFrequency int
	// LimitAlphabet, if positive, keeps only the LimitAlphabet characters
	// seen most often, counting every occurrence (ties: lower code point
	// first). Words holding any other character are left out of training,
	// since the tokenizer will make them [UNK] anyway. (HF instead drops
	// the character from the word.)
	LimitAlphabet int
	// Lowercase trains an uncased vocabulary: text is lower-cased and
	// accents are stripped, as with BertOptions.Lowercase.
	Lowercase bool
	// Progress, if not nil, is called by Train every 1000 merges and once
	// at the end with the number of merges done and the vocabulary size.
	Progress func(merges, size int)
}

// Trainer learns a BERT WordPiece vocabulary from text, as HuggingFace
// tokenizers' WordPieceTrainer does: it counts the words of the text, starts
// from their characters, and repeatedly merges the most frequent pair of
// adjacent tokens (byte-pair encoding with the "##" continuation prefix).
// A Trainer is not safe for concurrent use.
type Trainer struct {
	opt       TrainOptions
	normalize normalizer
	specials  addedMatcher // special tokens written in the text, which are not words
	counts    map[string]int
	words     int
	merges    [][2]string
}

// NewTrainer returns a Trainer with no text yet.
func NewTrainer(opt TrainOptions) *Trainer {
	// The text pipeline of the tokenizer that NewBert and WriteJSON make:
	// special tokens matched in the raw text, then the BertNormalizer
	// (strip_accents follows lowercase) and the BertPreTokenizer.
	added := make([]addedToken, len(bertSpecials))
	pats := make([][]rune, len(bertSpecials))
	for i, s := range bertSpecials {
		added[i] = addedToken{content: s, id: i, special: true}
		pats[i] = []rune(s)
	}
	return &Trainer{
		opt: opt,
		normalize: bertNormalizer{cleanText: true, chineseChars: true,
			stripAccents: opt.Lowercase, lowercase: opt.Lowercase}.normalize,
		specials: newAddedMatcher(added, pats),
		counts:   make(map[string]int),
	}
}

// Add counts the words of text (a line or a document). Text is split into
// words exactly as the trained tokenizer will split it; invalid UTF-8 bytes
// are dropped like the tokenizer's text cleaning drops them.
func (t *Trainer) Add(text string) {
	for _, seg := range t.specials.split(newNstr(text)) {
		if seg.id >= 0 {
			continue
		}
		for _, w := range bertPre(t.normalize(seg.n), preCtx{}) {
			t.counts[string(w.r)]++ // bertPre makes no empty words
			t.words++
		}
	}
}

// Words returns the number of words added so far, and of distinct ones.
func (t *Trainer) Words() (total, distinct int) { return t.words, len(t.counts) }

// Merges returns the pairs of tokens that the last call to Train merged, in
// order. The tokens they made end the vocabulary, in the same order.
func (t *Trainer) Merges() [][2]string { return slices.Clone(t.merges) }

// Train returns the vocabulary learned from the text added so far, the id of
// a token being its index: [PAD], [UNK], [CLS], [SEP], [MASK]; every
// character of the alphabet, by code point; "##c" for every character c seen
// inside a word, by code point; then the merged tokens in the order they
// were made. Words longer than 100 characters do not count, as the
// tokenizer makes them [UNK].
//
// Merging (a, ##b) makes ab and (##a, ##b) makes ##ab. Among pairs seen
// equally often, the one whose first token, then second token, has the
// smaller id is merged first. That is HF's rule; but there the "##c" ids
// follow hash order, so that HF's vocabulary varies slightly between runs
// while this one is reproducible.
func (t *Trainer) Train() ([]string, error) {
	t.merges = nil
	if t.opt.VocabSize <= 0 {
		return nil, fmt.Errorf("tokenizer: vocabulary size %d is not positive", t.opt.VocabSize)
	}
	m, err := t.newMerger()
	if err != nil {
		return nil, err
	}
	if len(m.tokens) > t.opt.VocabSize {
		return nil, fmt.Errorf("tokenizer: vocabulary size %d is too small for the %d special tokens and %d character tokens "+
			"of the text (limit the alphabet)", t.opt.VocabSize, len(bertSpecials), len(m.tokens)-len(bertSpecials))
	}
	minCount := max(t.opt.MinFrequency, 1)
	for len(m.tokens) < t.opt.VocabSize && m.queue.Len() > 0 {
		top := heap.Pop(&m.queue).(queuedPair)
		st := m.pairs[top.pair]
		if st == nil || st.count <= 0 {
			continue // merged already, or no longer in any word
		}
		if st.count != top.count {
			top.count = st.count // stale: requeue with the current count
			heap.Push(&m.queue, top)
			continue
		}
		if top.count < minCount {
			break
		}
		t.merges = append(t.merges, [2]string{m.tokens[top.pair.a], m.tokens[top.pair.b]})
		m.merge(top.pair)
		if t.opt.Progress != nil && len(t.merges)%1000 == 0 {
			t.opt.Progress(len(t.merges), len(m.tokens))
		}
	}
	if t.opt.Progress != nil {
		t.opt.Progress(len(t.merges), len(m.tokens))
	}
	return m.tokens, nil
}

// A trainPair is two adjacent token ids.
type trainPair struct{ a, b int32 }

// pairStat is how often a pair occurs in the text and an index of the words
// it occurs in. The index may hold words where the pair no longer is, and a
// word more than once; merging skips those.
type pairStat struct {
	count int
	words []int32
	step  int // the last merge step that queued the pair
}

// trainWord is a distinct word of the text as its current tokens.
type trainWord struct {
	syms  []int32
	count int
}

// merger is the state of byte-pair training: the vocabulary so far, the
// words as tokens, and the pairs with a priority queue of them.
type merger struct {
	tokens []string
	ids    map[string]int32
	words  []trainWord
	pairs  map[trainPair]*pairStat
	queue  pairQueue
	step   int
	queued []trainPair // pairs whose count grew in this step
}

// newMerger sets up training: the special tokens, the alphabet, the words
// split into characters, and the counts of their pairs.
func (t *Trainer) newMerger() (*merger, error) {
	if t.words == 0 {
		return nil, errors.New("tokenizer: no words to train on")
	}
	// Character frequencies over the words the tokenizer will not make [UNK].
	chars := make(map[rune]int)
	for w, c := range t.counts {
		if utf8.RuneCountInString(w) <= maxWordChars {
			for _, r := range w {
				chars[r] += c
			}
		}
	}
	if len(chars) == 0 {
		return nil, fmt.Errorf("tokenizer: no words to train on: the %d distinct words are all longer than %d characters", len(t.counts), maxWordChars)
	}
	alphabet := make([]rune, 0, len(chars))
	for r := range chars {
		alphabet = append(alphabet, r)
	}
	if t.opt.LimitAlphabet > 0 && len(alphabet) > t.opt.LimitAlphabet {
		slices.SortFunc(alphabet, func(x, y rune) int { return cmp.Or(cmp.Compare(chars[y], chars[x]), cmp.Compare(x, y)) })
		for _, r := range alphabet[t.opt.LimitAlphabet:] {
			delete(chars, r)
		}
		alphabet = alphabet[:t.opt.LimitAlphabet]
	}
	slices.Sort(alphabet)

	// The words made only of kept characters, and the characters seen
	// inside them.
	var kept []string
	inner := make(map[rune]bool)
	for w := range t.counts {
		if utf8.RuneCountInString(w) > maxWordChars || strings.ContainsFunc(w, func(r rune) bool { _, ok := chars[r]; return !ok }) {
			continue
		}
		kept = append(kept, w)
		for i, r := range w {
			if i > 0 {
				inner[r] = true
			}
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("tokenizer: no words to train on: the %d distinct words all hold characters cut by the alphabet limit of %d", len(t.counts), t.opt.LimitAlphabet)
	}
	slices.Sort(kept) // for reproducible word indexes

	m := &merger{ids: make(map[string]int32), pairs: make(map[trainPair]*pairStat)}
	for _, s := range bertSpecials {
		m.add(s)
	}
	for _, r := range alphabet {
		m.add(string(r))
	}
	for _, r := range alphabet {
		if inner[r] {
			m.add(subwordPrefix + string(r))
		}
	}
	m.words = make([]trainWord, len(kept))
	for wi, w := range kept {
		syms := make([]int32, 0, len(w))
		for i, r := range w {
			s := string(r)
			if i > 0 {
				s = subwordPrefix + s
			}
			syms = append(syms, m.ids[s])
		}
		c := t.counts[w]
		m.words[wi] = trainWord{syms: syms, count: c}
		for i := 1; i < len(syms); i++ {
			m.change(trainPair{syms[i-1], syms[i]}, c, int32(wi))
		}
	}
	m.requeue()
	return m, nil
}

// add returns the id of token s, adding it to the vocabulary if it is new
// (a merge making a token again keeps its first id).
func (m *merger) add(s string) int32 {
	if id, ok := m.ids[s]; ok {
		return id
	}
	id := int32(len(m.tokens))
	m.tokens = append(m.tokens, s)
	m.ids[s] = id
	return id
}

// change adds delta to the count of pair p; a growing pair is indexed
// under word wi and will be queued.
func (m *merger) change(p trainPair, delta int, wi int32) {
	st := m.pairs[p]
	if st == nil {
		st = &pairStat{step: -1}
		m.pairs[p] = st
	}
	st.count += delta
	if delta <= 0 {
		return
	}
	if n := len(st.words); n == 0 || st.words[n-1] != wi {
		st.words = append(st.words, wi)
	}
	if st.step != m.step {
		st.step = m.step
		m.queued = append(m.queued, p)
	}
}

// merge replaces every occurrence of pair p by its merged token, updating
// the counts of the pairs around each occurrence.
func (m *merger) merge(p trainPair) {
	a, b := p.a, p.b
	n := m.add(m.tokens[a] + strings.TrimPrefix(m.tokens[b], subwordPrefix))
	st := m.pairs[p]
	for _, wi := range st.words {
		w := &m.words[wi]
		s, c := w.syms, w.count
		out := s[:0] // merged in place: out never overtakes the reading position
		for i := 0; i < len(s); i++ {
			if i+1 >= len(s) || s[i] != a || s[i+1] != b {
				out = append(out, s[i])
				continue
			}
			m.change(p, -c, wi)
			if k := len(out); k > 0 {
				m.change(trainPair{out[k-1], a}, -c, wi)
				m.change(trainPair{out[k-1], n}, c, wi)
			}
			if i+2 < len(s) {
				m.change(trainPair{b, s[i+2]}, -c, wi)
				m.change(trainPair{n, s[i+2]}, c, wi)
			}
			out = append(out, n)
			i++
		}
		w.syms = out
	}
	delete(m.pairs, p) // its count is now 0
	m.requeue()
}

// requeue queues the pairs whose count grew in this step with their new
// count, and starts the next step.
func (m *merger) requeue() {
	for _, p := range m.queued {
		if st := m.pairs[p]; st != nil && st.count > 0 {
			heap.Push(&m.queue, queuedPair{p, st.count})
		}
	}
	m.queued = m.queued[:0]
	m.step++
}

// queuedPair is an entry of the priority queue: a pair with its count when
// queued, which may since have fallen (entries are dropped lazily).
type queuedPair struct {
	pair  trainPair
	count int
}

// pairQueue is a max-heap of pairs by count, ties broken by the pairs'
// token ids: first token, then second token, smallest first.
type pairQueue []queuedPair

func (q pairQueue) Len() int { return len(q) }
func (q pairQueue) Less(i, j int) bool {
	x, y := q[i], q[j]
	if x.count != y.count {
		return x.count > y.count
	}
	if x.pair.a != y.pair.a {
		return x.pair.a < y.pair.a
	}
	return x.pair.b < y.pair.b
}
func (q pairQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pairQueue) Push(x any)   { *q = append(*q, x.(queuedPair)) }
func (q *pairQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
