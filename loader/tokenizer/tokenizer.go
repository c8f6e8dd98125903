// Package tokenizer turns text into the token ids of BERT-family checkpoints
// exactly as HuggingFace tokenizers (tokenizer.json) and transformers'
// BertTokenizer (vocab.txt) do: WordPiece (BERT, ELECTRA, MiniLM), byte-level
// BPE (RoBERTa, GPT-2) and sentencepiece Unigram (XLM-RoBERTa).
//
// Load reads a checkpoint directory (FromFile a single file); Encode and
// EncodeWords give the pieces of a text or of pre-tokenized words; Windows,
// Single and Pair add the special tokens ([CLS] … [SEP] or <s> … </s>) to make
// model inputs. NewBert, WriteJSON and WriteVocabTxt serve newly trained
// WordPiece vocabularies.
//
// Fidelity: ids, offsets and word indexes were checked against HF tokenizers
// 0.23 and, for vocab.txt, a plain-Python BertTokenizer (see the tests).
// Known limits: Unicode tables are Go's (15.0), so characters assigned
// recently may be classified unlike Python 3.11 or Rust would; the grapheme
// clusters of the Precompiled normalizer follow only the UAX #29 rules that
// matter for clusters shorter than 6 bytes; regular expressions of Replace
// normalizers use Go's syntax.
//
// A Tokenizer is safe for concurrent use.
package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// Encoding is the result of tokenizing one text or one list of words,
// without special tokens.
type Encoding struct {
	IDs    []int
	Tokens []string
	// Offsets are the byte ranges of the pieces: in the text for Encode,
	// in the piece's own word for EncodeWords.
	Offsets [][2]int
	// WordIndex gives the word of each piece: the index of the
	// pre-tokenizer word (as HF's word_ids) for Encode, the index in the
	// input list for EncodeWords.
	WordIndex []int
}

// Len returns the number of pieces.
func (e Encoding) Len() int { return len(e.IDs) }

// Specials holds the ids of a tokenizer's special tokens, -1 for those it
// lacks. CLS and SEP are the tokens its template puts around a sequence
// ([CLS]/[SEP] for BERT, <s>/</s> for RoBERTa).
type Specials struct {
	CLS, SEP, PAD, MASK, UNK int
}

// Tokenizer is a loaded tokenizer. The zero value is not usable; see Load.
type Tokenizer struct {
	model     model
	normalize normalizer   // nil: none
	pre       preTokenizer // nil: the whole text is one word
	raw, norm addedMatcher // added tokens matched before / after normalization
	tokens    []string     // id → token, "" for unused ids
	ids       map[string]int
	special   map[int]bool // added tokens flagged special (skipped by Decode)
	decoder   decoder
	single    []templateItem // template for one sequence
	pair      []templateItem // template for two sequences
	specials  Specials
	// ByteLevel post-processing: trim whitespace from offsets.
	trimOffsets, trimPrefixSpace bool
}

// Encode tokenizes text without adding special tokens. Added tokens such as
// "[MASK]" written in the text become their own ids.
func (t *Tokenizer) Encode(text string) Encoding {
	b := newBuilder(len(text)/4 + 1)
	word := 0
	t.encodeInto(&b, newNstr(text), false, func() int { word++; return word - 1 })
	return t.finish(b, false)
}

// EncodeWords tokenizes pre-tokenized words (such as CoNLL-U forms), each on
// its own, as HF does with is_split_into_words=True: byte-level BPE and
// Metaspace give every word its leading space. Unlike HF, a word that yields
// no piece at all (one made only of control characters) gets the unknown
// token when the tokenizer has one, so that every word has a first piece.
func (t *Tokenizer) EncodeWords(words []string) Encoding {
	b := newBuilder(2 * len(words))
	for i, w := range words {
		n := len(b.e.IDs)
		t.encodeInto(&b, newNstr(w), true, func() int { return i })
		if len(b.e.IDs) == n && t.specials.UNK >= 0 {
			b.add(t.specials.UNK, t.tokens[t.specials.UNK], w, span{0, len(w)}, i)
		}
	}
	return t.finish(b, true)
}

// builder collects an Encoding and, for offset trimming, the text each
// piece was made from.
type builder struct {
	e   Encoding
	raw []string
}

func newBuilder(capacity int) builder {
	return builder{
		e: Encoding{IDs: make([]int, 0, capacity), Tokens: make([]string, 0, capacity),
			Offsets: make([][2]int, 0, capacity), WordIndex: make([]int, 0, capacity)},
		raw: make([]string, 0, capacity),
	}
}

func (b *builder) add(id int, tok, raw string, sp span, word int) {
	b.e.IDs = append(b.e.IDs, id)
	b.e.Tokens = append(b.e.Tokens, tok)
	b.e.Offsets = append(b.e.Offsets, sp)
	b.e.WordIndex = append(b.e.WordIndex, word)
	b.raw = append(b.raw, raw)
}

// encodeInto runs the pipeline on n: raw added tokens, normalizer,
// normalized added tokens, pre-tokenizer, model.
func (t *Tokenizer) encodeInto(b *builder, n nstr, words bool, nextWord func() int) {
	for _, seg := range t.raw.split(n) {
		if seg.id >= 0 {
			b.add(seg.id, t.token(seg.id), string(seg.n.r), outer(seg.n), nextWord())
			continue
		}
		norm := seg.n
		if t.normalize != nil {
			norm = t.normalize(norm)
		}
		for _, seg := range t.norm.split(norm) {
			if len(seg.n.r) == 0 {
				continue
			}
			if seg.id >= 0 {
				b.add(seg.id, t.token(seg.id), string(seg.n.r), outer(seg.n), nextWord())
				continue
			}
			ws := []nstr{seg.n}
			if t.pre != nil {
				ws = t.pre(seg.n, preCtx{atStart: seg.n.span[0][0] == 0, words: words})
			}
			for _, w := range ws {
				if len(w.r) > 0 {
					t.addPieces(b, w, nextWord())
				}
			}
		}
	}
}

// addPieces runs the model on one word and maps the pieces' byte ranges
// back to the original text.
func (t *Tokenizer) addPieces(b *builder, w nstr, word int) {
	s := string(w.r)
	var runeAt []int // byte offset in s → index in w of the character holding it
	if len(s) != len(w.r) {
		runeAt = make([]int, len(s)+1)
		c := -1
		for i := range runeAt {
			if i == len(s) || utf8.RuneStart(s[i]) {
				c++
			}
			runeAt[i] = c
		}
	}
	idx := func(i int) int {
		if runeAt != nil {
			i = runeAt[i]
		}
		return min(i, len(w.r)-1)
	}
	for _, p := range t.model.tokenize(s) {
		a, z := idx(p.start), idx(max(p.end-1, p.start))
		tok := t.token(p.id)
		b.add(p.id, tok, tok, span{w.span[a][0], w.span[max(a, z)][1]}, word)
	}
}

// outer is the original span of a non-empty nstr.
func outer(n nstr) span { return span{n.span[0][0], n.span[len(n.span)-1][1]} }

// finish applies the ByteLevel offset trimming of HF's post-processors.
// Pre-tokenized words all got a leading space, as with add_prefix_space.
func (t *Tokenizer) finish(b builder, words bool) Encoding {
	if !t.trimOffsets {
		return b.e
	}
	for i, raw := range b.raw {
		off := &b.e.Offsets[i]
		lead, trail := spaceRuns(raw)
		if lead > 0 {
			if (i == 0 || off[0] == 0) && (t.trimPrefixSpace || words) && lead == 1 {
				lead = 0 // the space the pre-tokenizer added
			}
			off[0] = min(off[0]+lead, off[1])
		}
		if trail > 0 && off[1] >= trail {
			off[1] = max(off[1]-trail, off[0])
		}
	}
	return b.e
}

// spaceRuns counts the leading and trailing characters of tok that are
// whitespace or the byte-level space "Ġ".
func spaceRuns(tok string) (lead, trail int) {
	isSp := func(r rune) bool { return r == byteChar[' '] || isSpace(r) }
	for _, r := range tok {
		if !isSp(r) {
			break
		}
		lead++
	}
	for s := tok; s != ""; {
		r, n := utf8.DecodeLastRuneInString(s)
		if !isSp(r) {
			break
		}
		trail++
		s = s[:len(s)-n]
	}
	return lead, trail
}

func (t *Tokenizer) token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// Specials returns the ids of the special tokens.
func (t *Tokenizer) Specials() Specials { return t.specials }

// VocabSize returns one more than the largest token id: the number of rows
// an embedding matrix for this tokenizer needs.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// IDToToken returns the token with the given id.
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	if id < 0 || id >= len(t.tokens) {
		return "", false
	}
	tok := t.tokens[id]
	if tok == "" { // an unused id, unless "" is itself a token
		other, ok := t.ids[tok]
		return tok, ok && other == id
	}
	return tok, true
}

// TokenToID returns the id of a token (a vocabulary entry or added token).
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	id, ok := t.ids[tok]
	return id, ok
}

// IsSpecial reports whether id is a special added token ([CLS], <pad>, …).
func (t *Tokenizer) IsSpecial(id int) bool { return t.special[id] }

// Decode turns ids back into text with the tokenizer's decoder, skipping
// special tokens and ids outside the vocabulary.
func (t *Tokenizer) Decode(ids []int) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if tok, ok := t.IDToToken(id); ok && !t.special[id] {
			toks = append(toks, tok)
		}
	}
	if t.decoder == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.decoder(toks), "")
}
