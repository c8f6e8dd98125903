package tokenizer

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// A decoder turns tokens back into text pieces, like HF's decode_chain; the
// pieces are then concatenated.
type decoder func(tokens []string) []string

func decoderSequence(ds []decoder) decoder {
	return func(toks []string) []string {
		for _, d := range ds {
			toks = d(toks)
		}
		return toks
	}
}

// wordPieceDecoder joins pieces with spaces, gluing continuation pieces to
// the previous one, and optionally undoes the spaces tokenization put before
// punctuation and contractions.
func wordPieceDecoder(prefix string, cleanup bool) decoder {
	return func(toks []string) []string {
		out := make([]string, len(toks))
		for i, tok := range toks {
			if i > 0 {
				if rest, ok := strings.CutPrefix(tok, prefix); ok {
					tok = rest
				} else {
					tok = " " + tok
				}
			}
			if cleanup {
				tok = cleanupSpaces(tok)
			}
			out[i] = tok
		}
		return out
	}
}

// cleanupSpaces is HF's clean_up_tokenization: replacements applied one
// after the other.
func cleanupSpaces(s string) string {
	for _, r := range [...][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// byteLevelDecoder maps byte-level characters back to bytes and decodes them
// as UTF-8, replacing invalid sequences with U+FFFD. Tokens with characters
// outside the byte alphabet are kept as they are.
func byteLevelDecoder(toks []string) []string {
	var buf []byte
	for _, tok := range toks {
		bytes := make([]byte, 0, len(tok))
		ok := true
		for _, r := range tok {
			b, in := charByte[r]
			if !in {
				ok = false
				break
			}
			bytes = append(bytes, b)
		}
		if !ok {
			bytes = []byte(tok)
		}
		buf = append(buf, bytes...)
	}
	return []string{strings.ToValidUTF8(string(buf), "\uFFFD")}
}

// metaspaceDecoder turns the replacement character back into spaces and
// drops the one the pre-tokenizer prepended to the first token.
func metaspaceDecoder(replacement rune, prepend string) decoder {
	return func(toks []string) []string {
		out := make([]string, len(toks))
		for i, tok := range toks {
			s := strings.ReplaceAll(tok, string(replacement), " ")
			if i == 0 && prepend != prependNever {
				s = strings.TrimPrefix(s, " ")
			}
			out[i] = s
		}
		return out
	}
}

// replaceDecoder replaces a literal in every token.
func replaceDecoder(pattern, content string) decoder {
	return func(toks []string) []string {
		out := make([]string, len(toks))
		for i, tok := range toks {
			out[i] = strings.ReplaceAll(tok, pattern, content)
		}
		return out
	}
}

// fuseDecoder joins all tokens into one.
func fuseDecoder(toks []string) []string { return []string{strings.Join(toks, "")} }

// stripDecoder removes up to left leading and right trailing copies of
// content from every token.
func stripDecoder(content string, left, right int) decoder {
	return func(toks []string) []string {
		if content == "" {
			return toks
		}
		out := make([]string, len(toks))
		for i, tok := range toks {
			for k := 0; k < left && strings.HasPrefix(tok, content); k++ {
				tok = tok[len(content):]
			}
			for k := 0; k < right && strings.HasSuffix(tok, content); k++ {
				tok = tok[:len(tok)-len(content)]
			}
			out[i] = tok
		}
		return out
	}
}

// byteFallbackDecoder turns runs of <0xXX> tokens into the text of their
// bytes; a run that is not valid UTF-8 gives one U+FFFD per byte, as in HF.
func byteFallbackDecoder(toks []string) []string {
	var out []string
	var run []byte
	flush := func() {
		if len(run) == 0 {
			return
		}
		if utf8.Valid(run) {
			out = append(out, string(run))
		} else {
			for range run {
				out = append(out, "\uFFFD")
			}
		}
		run = run[:0]
	}
	for _, tok := range toks {
		if len(tok) == 6 && strings.HasPrefix(tok, "<0x") && tok[5] == '>' {
			if b, err := strconv.ParseUint(tok[3:5], 16, 8); err == nil {
				run = append(run, byte(b))
				continue
			}
		}
		flush()
		out = append(out, tok)
	}
	flush()
	return out
}
