package tokenizer

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// span is a byte range [0]..[1] of the original text.
type span = [2]int

// nstr is text under normalization: its characters and, for each one, the
// span of the original text it came from (HF's "alignments"). A character
// produced from another one inherits its span, so token offsets can always be
// mapped back to the original text.
type nstr struct {
	r    []rune
	span []span
}

// newNstr wraps text. Invalid UTF-8 bytes become U+FFFD characters spanning
// one byte.
func newNstr(text string) nstr {
	n := nstr{r: make([]rune, 0, len(text)), span: make([]span, 0, len(text))}
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		n.r = append(n.r, r)
		n.span = append(n.span, span{i, i + w})
		i += w
	}
	return n
}

func (n nstr) slice(a, b int) nstr { return nstr{r: n.r[a:b], span: n.span[a:b]} }

// mapRunes replaces every character i by the characters f appends to dst;
// they all inherit the span of character i.
func (n nstr) mapRunes(f func(dst []rune, i int) []rune) nstr {
	out := nstr{r: make([]rune, 0, len(n.r)), span: make([]span, 0, len(n.r))}
	for i := range n.r {
		k := len(out.r)
		out.r = f(out.r, i)
		for range out.r[k:] {
			out.span = append(out.span, n.span[i])
		}
	}
	return out
}

// filter keeps the characters for which keep is true.
func (n nstr) filter(keep func(r rune) bool) nstr {
	return n.mapRunes(func(dst []rune, i int) []rune {
		if keep(n.r[i]) {
			dst = append(dst, n.r[i])
		}
		return dst
	})
}

// unicodeNorm applies a Unicode normalization form. Each normalization
// segment (a starter and its combining marks) is normalized on its own; a
// decomposed character's parts inherit its span and a composed character
// takes the span of its first source character, as in HF.
func (n nstr) unicodeNorm(f norm.Form) nstr {
	s := string(n.r)
	if f.IsNormalString(s) {
		return n
	}
	out := nstr{r: make([]rune, 0, len(n.r)), span: make([]span, 0, len(n.r))}
	i := 0 // index of the segment's first character in n
	for len(s) > 0 {
		b := f.NextBoundaryInString(s, true)
		if b <= 0 || b > len(s) {
			b = len(s)
		}
		seg := s[:b]
		s = s[b:]
		in := utf8.RuneCountInString(seg)
		for k, r := range []rune(f.String(seg)) {
			src := i + min(k, in-1)
			out.r = append(out.r, r)
			out.span = append(out.span, n.span[src])
		}
		i += in
	}
	return out
}

// replaceRange returns n with characters [a, b) replaced by repl. The new
// characters take the span of the last replaced character, or for an
// insertion that of the character before it, as HF's replace does.
func (n nstr) replaceRange(a, b int, repl []rune) nstr {
	var sp span
	switch {
	case b > a:
		sp = n.span[b-1]
	case a > 0:
		sp = n.span[a-1]
	case len(n.span) > 0:
		sp = span{n.span[0][0], n.span[0][0]}
	}
	out := nstr{r: make([]rune, 0, len(n.r)-(b-a)+len(repl)), span: make([]span, 0, len(n.r)-(b-a)+len(repl))}
	out.r = append(append(append(out.r, n.r[:a]...), repl...), n.r[b:]...)
	out.span = append(out.span, n.span[:a]...)
	for range repl {
		out.span = append(out.span, sp)
	}
	out.span = append(out.span, n.span[b:]...)
	return out
}

// prepend adds s before the first character of a non-empty n, with that
// character's span.
func (n nstr) prepend(s string) nstr {
	if len(n.r) == 0 {
		return n
	}
	p := []rune(s)
	out := nstr{r: append(p, n.r...), span: make([]span, 0, len(p)+len(n.r))}
	for range p {
		out.span = append(out.span, n.span[0])
	}
	out.span = append(out.span, n.span...)
	return out
}

// A normalizer rewrites text before pre-tokenization.
type normalizer func(nstr) nstr

// sequence chains normalizers.
func sequence(ns []normalizer) normalizer {
	return func(n nstr) nstr {
		for _, f := range ns {
			n = f(n)
		}
		return n
	}
}

func nfcNorm(n nstr) nstr  { return n.unicodeNorm(norm.NFC) }
func nfdNorm(n nstr) nstr  { return n.unicodeNorm(norm.NFD) }
func nfkcNorm(n nstr) nstr { return n.unicodeNorm(norm.NFKC) }
func nfkdNorm(n nstr) nstr { return n.unicodeNorm(norm.NFKD) }

// lowercaseNorm is HF's Lowercase: per-character Rust lower-casing.
func lowercaseNorm(n nstr) nstr {
	return n.mapRunes(func(dst []rune, i int) []rune { return lowerRust(dst, n.r[i]) })
}

// stripMarks is HF's StripAccents normalizer: it only drops non-spacing
// marks; decomposition is left to a preceding NFD/NFKD.
func stripMarks(n nstr) nstr {
	return n.filter(func(r rune) bool { return !unicode.Is(unicode.Mn, r) })
}

// stripAccents decomposes and drops non-spacing marks (BERT's accent removal).
func stripAccents(n nstr) nstr { return stripMarks(nfdNorm(n)) }

// stripNorm is HF's Strip: it trims White_Space on the chosen sides.
func stripNorm(left, right bool) normalizer {
	return func(n nstr) nstr {
		a, b := 0, len(n.r)
		for left && a < b && isSpace(n.r[a]) {
			a++
		}
		for right && b > a && isSpace(n.r[b-1]) {
			b--
		}
		return n.slice(a, b)
	}
}

// prependNorm is HF's Prepend normalizer.
func prependNorm(s string) normalizer { return func(n nstr) nstr { return n.prepend(s) } }

// replaceNorm is HF's Replace: every match of a literal or a regular
// expression is replaced by content.
func replaceNorm(literal string, re *regexp.Regexp, content string) normalizer {
	repl := []rune(content)
	return func(n nstr) nstr {
		s := string(n.r)
		var matches [][]int
		if re != nil {
			matches = re.FindAllStringIndex(s, -1)
		} else if literal != "" {
			for i := 0; ; {
				k := strings.Index(s[i:], literal)
				if k < 0 {
					break
				}
				matches = append(matches, []int{i + k, i + k + len(literal)})
				i += k + len(literal)
			}
		}
		if len(matches) == 0 {
			return n
		}
		// Map byte offsets of s to character indexes of n.
		idx := make([]int, len(s)+1)
		c := 0
		for i := range s {
			idx[i] = c
			c++
		}
		idx[len(s)] = c
		// Replace from the right so earlier indexes stay valid.
		for k := len(matches) - 1; k >= 0; k-- {
			n = n.replaceRange(idx[matches[k][0]], idx[matches[k][1]], repl)
		}
		return n
	}
}

// bertNormalizer is HF's BertNormalizer. Steps run in HF's order: clean
// text, pad CJK ideographs with spaces, strip accents, lower-case.
type bertNormalizer struct {
	cleanText, chineseChars, stripAccents, lowercase bool
}

func (b bertNormalizer) normalize(n nstr) nstr {
	// Lower-casing joins the first pass unless accent stripping comes
	// between them.
	n = bertClean(n, b.cleanText, b.chineseChars, b.lowercase && !b.stripAccents, false)
	if b.stripAccents {
		d := nfdNorm(n)
		n = d.mapRunes(func(dst []rune, i int) []rune {
			r := d.r[i]
			switch {
			case unicode.Is(unicode.Mn, r):
				return dst
			case b.lowercase:
				return lowerRust(dst, r)
			}
			return append(dst, r)
		})
	}
	return n
}

// bertClean does BERT's text cleaning (remove NUL, U+FFFD and control
// characters, map whitespace to " "), surrounds CJK ideographs with spaces so
// each becomes a word, and lower-cases, as selected, in one pass. (Cleaning
// and CJK tests give the same answer before and after lower-casing.) python
// selects the rules of Python's BertTokenizer over HF tokenizers' where they
// differ (unassigned code points, the CJK Extension E range).
func bertClean(n nstr, clean, chinese, lower, python bool) nstr {
	return n.mapRunes(func(dst []rune, i int) []rune {
		r := n.r[i]
		switch {
		case clean && (r == 0 || r == 0xFFFD || isBertControl(r, python)):
			return dst
		case clean && isBertWhitespace(r):
			return append(dst, ' ')
		case chinese && isChineseChar(r, !python):
			return append(dst, ' ', r, ' ')
		case lower:
			return lowerRust(dst, r)
		}
		return append(dst, r)
	})
}
