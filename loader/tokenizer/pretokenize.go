package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// preCtx tells a pre-tokenizer where its input comes from.
type preCtx struct {
	atStart bool // the text starts the input (Metaspace prepend_scheme "first")
	words   bool // the text is one pre-tokenized word (EncodeWords)
}

// A preTokenizer splits normalized text into words; it may also rewrite them
// (ByteLevel, Metaspace). Empty words are dropped by the caller.
type preTokenizer func(n nstr, ctx preCtx) []nstr

// preSequence applies pre-tokenizers one after the other to every word.
func preSequence(ps []preTokenizer) preTokenizer {
	return func(n nstr, ctx preCtx) []nstr {
		words := []nstr{n}
		for _, p := range ps {
			var next []nstr
			for _, w := range words {
				next = append(next, p(w, ctx)...)
			}
			words = next
		}
		return words
	}
}

// splitRemoved splits at characters for which isSep is true, dropping them.
func splitRemoved(n nstr, isSep func(rune) bool) []nstr {
	var out []nstr
	start := 0
	for i, r := range n.r {
		if isSep(r) {
			if i > start {
				out = append(out, n.slice(start, i))
			}
			start = i + 1
		}
	}
	if start < len(n.r) {
		out = append(out, n.slice(start, len(n.r)))
	}
	return out
}

// splitIsolated splits so that every character for which isSep is true is a
// word of its own.
func splitIsolated(n nstr, isSep func(rune) bool) []nstr {
	var out []nstr
	start := 0
	for i, r := range n.r {
		if isSep(r) {
			if i > start {
				out = append(out, n.slice(start, i))
			}
			out = append(out, n.slice(i, i+1))
			start = i + 1
		}
	}
	if start < len(n.r) {
		out = append(out, n.slice(start, len(n.r)))
	}
	return out
}

// bertPre is HF's BertPreTokenizer: split on whitespace, then isolate every
// punctuation character.
func bertPre(n nstr, _ preCtx) []nstr {
	var out []nstr
	for _, w := range splitRemoved(n, isSpace) {
		out = append(out, splitIsolated(w, isBertPunct)...)
	}
	return out
}

// whitespaceSplitPre is HF's WhitespaceSplit.
func whitespaceSplitPre(n nstr, _ preCtx) []nstr { return splitRemoved(n, isSpace) }

// whitespacePre is HF's Whitespace: the matches of \w+|[^\w\s]+.
func whitespacePre(n nstr, _ preCtx) []nstr {
	var out []nstr
	for i := 0; i < len(n.r); {
		if isSpace(n.r[i]) {
			i++
			continue
		}
		word := isWordChar(n.r[i])
		j := i + 1
		for j < len(n.r) && !isSpace(n.r[j]) && isWordChar(n.r[j]) == word {
			j++
		}
		out = append(out, n.slice(i, j))
		i = j
	}
	return out
}

// basicPre is the word splitting of Python's BertTokenizer (BasicTokenizer
// after text cleaning): split on whitespace; leave never-split words alone;
// strip accents; isolate punctuation.
type basicPre struct {
	stripAccents, splitPunct bool
	neverSplit               map[string]bool
}

func (b basicPre) split(n nstr, _ preCtx) []nstr {
	var out []nstr
	for _, w := range splitRemoved(n, isSpace) {
		if b.neverSplit[string(w.r)] {
			out = append(out, w)
			continue
		}
		if b.stripAccents {
			w = stripAccents(w)
		}
		if b.splitPunct {
			out = append(out, splitIsolated(w, isBertPunct)...)
		} else if len(w.r) > 0 {
			out = append(out, w)
		}
	}
	return out
}

// byteLevel is HF's ByteLevel pre-tokenizer: optionally add a leading space,
// split with the GPT-2 regular expression, and map every UTF-8 byte to its
// printable stand-in character.
type byteLevel struct {
	addPrefixSpace, useRegex bool
}

func (b byteLevel) split(n nstr, ctx preCtx) []nstr {
	// HF requires add_prefix_space for pre-tokenized input; each word then
	// gets its leading space, as with is_split_into_words=True.
	if (b.addPrefixSpace || ctx.words) && len(n.r) > 0 && n.r[0] != ' ' {
		n = n.prepend(" ")
	}
	var words []nstr
	if b.useRegex {
		for i := 0; i < len(n.r); {
			j := gpt2Match(n.r, i)
			words = append(words, n.slice(i, j))
			i = j
		}
	} else if len(n.r) > 0 {
		words = []nstr{n}
	}
	for k, w := range words {
		words[k] = toByteChars(w)
	}
	return words
}

// toByteChars replaces each character by the byte-level characters of its
// UTF-8 bytes; they all keep the character's span.
func toByteChars(n nstr) nstr {
	var buf [utf8.UTFMax]byte
	return n.mapRunes(func(dst []rune, i int) []rune {
		k := utf8.EncodeRune(buf[:], n.r[i])
		for _, c := range buf[:k] {
			dst = append(dst, byteChar[c])
		}
		return dst
	})
}

// byteChar is GPT-2's bytes_to_unicode table: printable Latin-1 bytes map to
// themselves, the others to U+0100 onwards in byte order.
var byteChar, charByte = byteTables()

func byteTables() ([256]rune, map[rune]byte) {
	var b2c [256]rune
	c2b := make(map[rune]byte, 256)
	next := rune(256)
	for b := range 256 {
		printable := b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE
		if printable {
			b2c[b] = rune(b)
		} else {
			b2c[b] = next
			next++
		}
		c2b[b2c[b]] = byte(b)
	}
	return b2c, c2b
}

// gpt2Match returns the end of the match of GPT-2's pre-tokenizer pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// that starts at r[i], trying the alternatives in order as a backtracking
// engine does. Every character is matched by some alternative, so the
// matches tile the text.
func gpt2Match(r []rune, i int) int {
	n := len(r)
	if r[i] == '\'' && i+1 < n {
		switch r[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < n && r[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < n && r[i+2] == 'l' {
				return i + 3
			}
		}
	}
	// " ?X+" for the classes letter, number and other: an ASCII space may
	// lead a run of any of them.
	start := i
	if r[i] == ' ' && i+1 < n && !isSpace(r[i+1]) {
		start = i + 1
	}
	if c := gpt2Class(r[start]); c != classSpace {
		j := start + 1
		for j < n && gpt2Class(r[j]) == c {
			j++
		}
		return j
	}
	// Whitespace: \s+(?!\S) leaves the last whitespace character before a
	// non-space for the next match; a lone one is taken by \s+.
	j := i
	for j < n && isSpace(r[j]) {
		j++
	}
	if j < n && j-i > 1 {
		return j - 1
	}
	return j
}

const (
	classSpace = iota
	classLetter
	classNumber
	classOther
)

func gpt2Class(r rune) int {
	switch {
	case isSpace(r):
		return classSpace
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	}
	return classOther
}

// Metaspace prepend schemes.
const (
	prependAlways = "always"
	prependFirst  = "first"
	prependNever  = "never"
)

// metaspace is HF's Metaspace pre-tokenizer: spaces become the replacement
// character, which is prepended as configured, and each replacement
// character starts a new word.
type metaspace struct {
	replacement rune
	prepend     string
	split       bool
}

func (m metaspace) pre(n nstr, ctx preCtx) []nstr {
	n = n.mapRunes(func(dst []rune, i int) []rune {
		if n.r[i] == ' ' {
			return append(dst, m.replacement)
		}
		return append(dst, n.r[i])
	})
	if len(n.r) > 0 && n.r[0] != m.replacement &&
		(m.prepend == prependAlways || m.prepend == prependFirst && (ctx.atStart || ctx.words)) {
		n = n.prepend(string(m.replacement))
	}
	if !m.split {
		return []nstr{n}
	}
	var out []nstr
	start := 0
	for i, r := range n.r {
		if r == m.replacement && i > start {
			out = append(out, n.slice(start, i))
			start = i
		}
	}
	if start < len(n.r) {
		out = append(out, n.slice(start, len(n.r)))
	}
	return out
}
