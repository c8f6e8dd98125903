package tokenizer

import (
	"container/heap"
	"fmt"
	"math"
	"sort"
	"sync"
	"unicode/utf8"
)

// A piece is one token of a word, with its byte range in the word.
type piece struct {
	id         int
	start, end int
}

// A model splits one pre-tokenized word into vocabulary pieces.
type model interface {
	tokenize(word string) []piece
}

// prefixIndex finds the vocabulary entries that are prefixes of a string by
// narrowing a range of sorted keys one byte at a time.
type prefixIndex struct {
	keys []string
	ids  []int
}

func newPrefixIndex(vocab map[string]int) prefixIndex {
	p := prefixIndex{keys: make([]string, 0, len(vocab))}
	for k := range vocab {
		if k != "" {
			p.keys = append(p.keys, k)
		}
	}
	sort.Strings(p.keys)
	p.ids = make([]int, len(p.keys))
	for i, k := range p.keys {
		p.ids[i] = vocab[k]
	}
	return p
}

// each calls f(n, id) for every key s[:n], shortest first.
func (p *prefixIndex) each(s string, f func(n, id int)) {
	lo, hi := 0, len(p.keys)
	for k := 0; k < len(s) && lo < hi; k++ {
		if len(p.keys[lo]) == k { // the key s[:k], already reported
			lo++
		}
		// All keys in [lo, hi) start with s[:k] and are longer; narrow to
		// those whose byte k is s[k].
		c := s[k]
		if c == 0xFF { // never in UTF-8, so in no key
			return
		}
		lo = p.search(lo, hi, k, c)
		hi = p.search(lo, hi, k, c+1)
		if lo < hi && len(p.keys[lo]) == k+1 {
			f(k+1, p.ids[lo])
		}
	}
}

// search returns the first index in [lo, hi) whose key has byte k >= c.
func (p *prefixIndex) search(lo, hi, k int, c byte) int {
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if p.keys[m][k] < c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// longest returns the length and id of the longest key that is a prefix of
// s, or n = 0.
func (p *prefixIndex) longest(s string) (n, id int) {
	p.each(s, func(m, i int) { n, id = m, i })
	return n, id
}

// wordPiece is greedy longest-match-first WordPiece, as BERT's
// WordpieceTokenizer and HF's WordPiece model.
type wordPiece struct {
	vocab       vocabulary  // for the common case of a whole word in the vocabulary
	start, cont prefixIndex // all entries; entries with the prefix, prefix removed
	unk         int
	maxChars    int
}

func newWordPiece(vocab vocabulary, prefix string, unk, maxChars int) *wordPiece {
	cont := make(map[string]int)
	for k, id := range vocab {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			cont[k[len(prefix):]] = id
		}
	}
	return &wordPiece{vocab: vocab, start: newPrefixIndex(vocab), cont: newPrefixIndex(cont), unk: unk, maxChars: maxChars}
}

// tokenize splits word into the longest vocabulary entry at its start, then
// the longest continuation entries; a word that cannot be covered, or has
// more than maxChars characters, is a single unknown piece.
func (w *wordPiece) tokenize(word string) []piece {
	unk := []piece{{w.unk, 0, len(word)}}
	if utf8.RuneCountInString(word) > w.maxChars {
		return unk
	}
	if id, ok := w.vocab[word]; ok { // the longest match, found without a search
		return []piece{{id, 0, len(word)}}
	}
	var out []piece
	for start := 0; start < len(word); {
		idx := &w.start
		if start > 0 {
			idx = &w.cont
		}
		n, id := idx.longest(word[start:])
		if n == 0 {
			return unk
		}
		out = append(out, piece{id, start, start + n})
		start += n
	}
	return out
}

// bpe is HF's BPE model: a word starts as characters (with an optional
// continuation prefix and end-of-word suffix) and adjacent symbols are
// merged in merge-rank order.
type bpe struct {
	vocab                 map[string]int
	merges                map[[2]int]merge
	unk                   int // -1: none
	prefix, suffix        string
	fuseUnk, byteFallback bool
	ignoreMerges          bool
	mu                    sync.RWMutex
	cache                 map[string][]symbol
}

type merge struct{ rank, id int }

// symbol is a BPE symbol: a vocabulary id covering n bytes of the word.
type symbol struct {
	id, n      int
	prev, next int
}

// Limits of the per-word cache, as in HF.
const (
	bpeCacheSize    = 10000
	bpeCacheWordLen = 256
)

func (b *bpe) tokenize(word string) []piece {
	if word == "" {
		return nil
	}
	if id, ok := b.vocab[word]; ok && b.ignoreMerges {
		return []piece{{id, 0, len(word)}}
	}
	b.mu.RLock()
	syms, ok := b.cache[word]
	b.mu.RUnlock()
	if !ok {
		syms = b.mergeWord(word)
		if len(word) < bpeCacheWordLen {
			b.mu.Lock()
			if len(b.cache) < bpeCacheSize {
				b.cache[word] = syms
			}
			b.mu.Unlock()
		}
	}
	out := make([]piece, len(syms))
	pos := 0
	for i, s := range syms {
		out[i] = piece{s.id, pos, pos + s.n}
		pos += s.n
	}
	return out
}

// mergeWord follows HF's merge_word and Word::merge_all. Characters missing
// from the vocabulary become byte-fallback pieces, the unknown token (fused
// when fuseUnk), or, without an unknown token, are dropped as HF drops them.
func (b *bpe) mergeWord(word string) []symbol {
	var syms []symbol
	add := func(id, n int) {
		syms = append(syms, symbol{id: id, n: n, prev: len(syms) - 1, next: -1})
		if len(syms) > 1 {
			syms[len(syms)-2].next = len(syms) - 1
		}
	}
	unkLen := 0 // bytes of a pending unknown symbol
	for i := 0; i < len(word); {
		_, n := utf8.DecodeRuneInString(word[i:])
		s := word[i : i+n]
		if i > 0 {
			s = b.prefix + s
		}
		if i+n == len(word) {
			s += b.suffix
		}
		i += n
		if id, ok := b.vocab[s]; ok {
			if unkLen > 0 {
				add(b.unk, unkLen)
				unkLen = 0
			}
			add(id, n)
			continue
		}
		if b.byteFallback && b.addBytes(s, add) {
			continue
		}
		if b.unk < 0 {
			continue
		}
		if unkLen > 0 && !b.fuseUnk {
			add(b.unk, unkLen)
			unkLen = 0
		}
		unkLen += n
	}
	if unkLen > 0 {
		add(b.unk, unkLen)
	}
	b.mergeAll(syms)
	out := syms[:0]
	for _, s := range syms {
		if s.n > 0 {
			out = append(out, s)
		}
	}
	return out
}

// addBytes adds the <0xXX> pieces of s if the vocabulary has all of them.
func (b *bpe) addBytes(s string, add func(id, n int)) bool {
	ids := make([]int, len(s))
	for k := range len(s) {
		id, ok := b.vocab[fmt.Sprintf("<0x%02X>", s[k])]
		if !ok {
			return false
		}
		ids[k] = id
	}
	for _, id := range ids {
		add(id, 1)
	}
	return true
}

// mergeAll applies merges lowest rank first (leftmost on ties), skipping
// queue entries made stale by earlier merges. Merged-away symbols get n = 0.
func (b *bpe) mergeAll(syms []symbol) {
	q := &mergeQueue{}
	for i := 0; i+1 < len(syms); i++ {
		if m, ok := b.merges[[2]int{syms[i].id, syms[i+1].id}]; ok {
			*q = append(*q, queued{pos: i, merge: m})
		}
	}
	heap.Init(q)
	for q.Len() > 0 {
		top := heap.Pop(q).(queued)
		cur := &syms[top.pos]
		if cur.n == 0 || cur.next < 0 {
			continue
		}
		right := syms[cur.next]
		if m, ok := b.merges[[2]int{cur.id, right.id}]; !ok || m.id != top.id {
			continue
		}
		cur.id = top.id
		cur.n += right.n
		syms[cur.next].n = 0
		cur.next = right.next
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if m, ok := b.merges[[2]int{syms[cur.prev].id, cur.id}]; ok {
				heap.Push(q, queued{pos: cur.prev, merge: m})
			}
		}
		if cur.next >= 0 {
			if m, ok := b.merges[[2]int{cur.id, syms[cur.next].id}]; ok {
				heap.Push(q, queued{pos: top.pos, merge: m})
			}
		}
	}
}

type queued struct {
	pos int
	merge
}

// mergeQueue is a min-heap on (rank, pos).
type mergeQueue []queued

func (q mergeQueue) Len() int { return len(q) }
func (q mergeQueue) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].pos < q[j].pos
}
func (q mergeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *mergeQueue) Push(x any)   { *q = append(*q, x.(queued)) }
func (q *mergeQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// unigram is a sentencepiece unigram model: the segmentation with the
// highest total score, found by Viterbi as in HF's encode_optimized.
// Characters with no single-character piece get the unknown piece with score
// min_score - 10; consecutive unknown pieces are fused.
type unigram struct {
	scores       []float64
	ids          map[string]int
	index        prefixIndex
	unk          int
	unkScore     float64
	byteFallback bool
}

func newUnigram(pieces []string, scores []float64, unk int, byteFallback bool) *unigram {
	u := &unigram{scores: scores, ids: make(map[string]int, len(pieces)), unk: unk, byteFallback: byteFallback}
	minScore := math.Inf(1)
	for i, p := range pieces {
		u.ids[p] = i
		minScore = min(minScore, scores[i])
	}
	u.index = newPrefixIndex(u.ids)
	u.unkScore = minScore - 10
	return u
}

func (u *unigram) tokenize(word string) []piece {
	if word == "" {
		return nil
	}
	type node struct {
		id    int
		score float64
		start int // -1: not reached
	}
	best := make([]node, len(word)+1)
	for i := 1; i < len(best); i++ {
		best[i].start = -1
	}
	for start := 0; start < len(word); {
		_, charLen := utf8.DecodeRuneInString(word[start:])
		base := best[start].score
		single := false
		relax := func(n, id int, score float64) {
			t := &best[start+n]
			if s := base + score; t.start < 0 || s > t.score {
				*t = node{id: id, score: s, start: start}
			}
		}
		u.index.each(word[start:], func(n, id int) {
			relax(n, id, u.scores[id])
			single = single || n == charLen
		})
		if !single {
			relax(charLen, u.unk, u.unkScore)
		}
		start += charLen
	}
	// Walk back, fusing runs of unknown pieces.
	var rev []piece
	for end := len(word); end > 0; {
		nd := best[end]
		if nd.id == u.unk && len(rev) > 0 && rev[len(rev)-1].id == u.unk && rev[len(rev)-1].start == end {
			rev[len(rev)-1].start = nd.start
		} else {
			rev = append(rev, piece{nd.id, nd.start, end})
		}
		end = nd.start
	}
	out := make([]piece, 0, len(rev))
	for i := len(rev) - 1; i >= 0; i-- {
		p := rev[i]
		if p.id == u.unk {
			out = u.unknown(out, word[p.start:p.end], p)
		} else {
			out = append(out, p)
		}
	}
	return out
}

// unknown resolves a fused unknown piece as HF's Unigram::tokenize does: a
// string that is itself a piece keeps its id; otherwise byte fallback when
// every byte has a <0xXX> piece, else the unknown id.
func (u *unigram) unknown(out []piece, s string, p piece) []piece {
	if id, ok := u.ids[s]; ok {
		return append(out, piece{id, p.start, p.end})
	}
	if u.byteFallback {
		ids := make([]int, len(s))
		ok := true
		for k := 0; k < len(s) && ok; k++ {
			ids[k], ok = u.ids[fmt.Sprintf("<0x%02X>", s[k])]
		}
		if ok {
			for _, id := range ids {
				out = append(out, piece{id, p.start, p.end})
			}
			return out
		}
	}
	return append(out, p)
}
