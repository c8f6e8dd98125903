package tokenizer

import "unicode"

// Character classes shared by the normalizers and pre-tokenizers. Go's
// tables follow Unicode 15.0; Python 3.11 (transformers) uses 14.0 and the
// Rust tokenizers crate its own tables, so characters assigned in recent
// Unicode versions may be classified differently.

// isSpace reports White_Space, which is what Rust's char::is_whitespace,
// Oniguruma's and Rust regex's \s test.
func isSpace(r rune) bool { return unicode.IsSpace(r) }

// isBertControl is the "control" test of BERT text cleaning: category C
// except tab, newline and carriage return, which count as whitespace.
// Python's BertTokenizer counts unassigned code points (Cn) as control too
// (Go's unicode.C includes them); HF tokenizers (checked against 0.23) does
// not, so unassigned selects Python's rule.
func isBertControl(r rune, unassigned bool) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if unassigned {
		return unicode.Is(unicode.C, r)
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// isBertWhitespace is BERT's whitespace test for text cleaning. Python's
// version is " \t\n\r" or Zs; Rust uses White_Space. The extra Rust members
// are either removed earlier as control characters (\v, \f, U+0085) or are
// U+2028/U+2029, which Python's str.split also splits on, so the results agree.
func isBertWhitespace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || isSpace(r)
}

// isBertPunct is BERT's _is_punctuation: all ASCII non-alphanumeric printable
// characters (so "^", "$" and "`" count although they are symbols) plus
// Unicode category P.
func isBertPunct(r rune) bool {
	if r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126 {
		return true
	}
	return unicode.IsPunct(r)
}

// isChineseChar is BERT's _is_chinese_char: the CJK Unified Ideographs blocks
// (not Hangul, Hiragana or Katakana). HF tokenizers starts the Extension E
// range at U+2B920 instead of U+2B820; rustRanges selects its version.
func isChineseChar(r rune, rustRanges bool) bool {
	extE := rune(0x2B820)
	if rustRanges {
		extE = 0x2B920
	}
	return r >= 0x4E00 && r <= 0x9FFF ||
		r >= 0x3400 && r <= 0x4DBF ||
		r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F ||
		r >= extE && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF ||
		r >= 0x2F800 && r <= 0x2FA1F
}

// isWordChar is the Unicode \w of Rust's regex crate: Alphabetic, marks,
// decimal digits, connector punctuation and the joiners.
func isWordChar(r rune) bool {
	if r < 0x80 {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
	}
	return unicode.In(r, unicode.L, unicode.Nl, unicode.Other_Alphabetic, unicode.M, unicode.Nd,
		unicode.Pc, unicode.Join_Control)
}

// lowerRust appends the lower-case form of r as Rust's char::to_lowercase
// gives it: the simple mapping, except U+0130 which becomes "i̇". Python's
// BertTokenizer lower-cases its input one character at a time too (so
// Python's Final_Sigma rule never applies there) and gets the same result.
func lowerRust(dst []rune, r rune) []rune {
	if r == 0x130 {
		return append(dst, 'i', 0x307)
	}
	return append(dst, unicode.ToLower(r))
}
