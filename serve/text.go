package serve

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hiertune/hiertune/loader/tokenizer"
)

// Sentences splits raw text into sentences — after ".", "!" or "?" (and any
// closing quotes or brackets) followed by white space and an upper-case
// letter, a digit or an opening quote, and at blank lines — and each
// sentence into words by the tokenizer's pre-tokenizer (white space and
// punctuation, as BERT's). It returns each sentence's words and their byte
// offsets [start, end) in text. It is a simple rule-based splitter: it
// does not know abbreviations ("Dr. Smith" is split).
func Sentences(tok *tokenizer.Tokenizer, text string) (words [][]string, offsets [][][2]int) {
	for _, span := range splitSentences(text) {
		e := tok.Encode(text[span[0]:span[1]])
		var ws []string
		var os [][2]int
		for p, w := range e.WordIndex {
			off := e.Offsets[p]
			if w >= len(ws) {
				ws, os = append(ws, ""), append(os, off)
			}
			os[w][0], os[w][1] = min(os[w][0], off[0]), max(os[w][1], off[1])
		}
		for i := range ws {
			os[i][0], os[i][1] = os[i][0]+span[0], os[i][1]+span[0]
			ws[i] = text[os[i][0]:os[i][1]]
		}
		if len(ws) > 0 {
			words, offsets = append(words, ws), append(offsets, os)
		}
	}
	return words, offsets
}

// splitSentences returns the byte spans of text's sentences, trimmed.
func splitSentences(text string) [][2]int {
	var out [][2]int
	start := 0
	emit := func(end int) {
		s := strings.TrimSpace(text[start:end])
		if s != "" {
			lead := strings.Index(text[start:end], s)
			out = append(out, [2]int{start + lead, start + lead + len(s)})
		}
		start = end
	}
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == '\n' && strings.HasPrefix(strings.TrimLeft(text[i+n:], " \t\r"), "\n"):
			emit(i + n)
		case r == '.' || r == '!' || r == '?':
			j := i + n
			for j < len(text) && strings.ContainsRune(`.!?"'”’)]`, rune(text[j])) {
				j++
			}
			k := j
			for k < len(text) && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' || text[k] == '\r') {
				k++
			}
			if k > j && k < len(text) {
				next, _ := utf8.DecodeRuneInString(text[k:])
				if unicode.IsUpper(next) || unicode.IsDigit(next) || strings.ContainsRune(`"'“‘(`, next) {
					emit(j)
				}
			}
			i = j
			continue
		}
		i += n
	}
	emit(len(text))
	return out
}
