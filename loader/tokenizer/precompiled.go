package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// precompiled is sentencepiece's precompiled_charsmap, read like HF's
// spm_precompiled crate: a little-endian uint32 byte size of a Darts
// double-array trie, the trie's uint32 units, then NUL-terminated
// replacement strings that the trie's leaf values point into.
type precompiled struct {
	trie       []uint32
	normalized string
}

func parsePrecompiled(b []byte) (*precompiled, error) {
	if len(b) < 4 {
		return nil, errors.New("precompiled_charsmap: shorter than its 4-byte header")
	}
	n := int(binary.LittleEndian.Uint32(b) / 4)
	if n == 0 || n > (len(b)-4)/4 {
		return nil, fmt.Errorf("precompiled_charsmap: trie of %d units does not fit in %d bytes", n, len(b))
	}
	p := &precompiled{trie: make([]uint32, n)}
	for i := range p.trie {
		p.trie[i] = binary.LittleEndian.Uint32(b[4+4*i:])
	}
	rest := b[4+4*n:]
	if !utf8.Valid(rest) {
		return nil, errors.New("precompiled_charsmap: replacement strings are not valid UTF-8")
	}
	p.normalized = string(rest)
	return p, nil
}

// Darts unit fields, as in spm_precompiled.
func unitHasLeaf(u uint32) bool { return u>>8&1 == 1 }
func unitValue(u uint32) int    { return int(u & (1<<31 - 1)) }
func unitLabel(u uint32) uint32 { return u & (1<<31 | 0xFF) }
func unitOffset(u uint32) int   { return int(u>>10) << (u & (1 << 9) >> 6) }

// transform returns the replacement of the shortest key that is a prefix of
// chunk. HF's Precompiled uses the first common-prefix match, not a whole-chunk
// match. A malformed trie gives no match where HF would panic.
func (p *precompiled) transform(chunk string) (string, bool) {
	pos := unitOffset(p.trie[0])
	for i := 0; i < len(chunk) && chunk[i] != 0; i++ {
		c := uint32(chunk[i])
		pos ^= int(c)
		if pos < 0 || pos >= len(p.trie) {
			return "", false
		}
		u := p.trie[pos]
		if unitLabel(u) != c {
			return "", false
		}
		pos ^= unitOffset(u)
		if unitHasLeaf(u) {
			if pos < 0 || pos >= len(p.trie) {
				return "", false
			}
			return p.at(unitValue(p.trie[pos]))
		}
	}
	return "", false
}

// at returns the NUL-terminated replacement starting at byte i.
func (p *precompiled) at(i int) (string, bool) {
	if i > len(p.normalized) {
		return "", false
	}
	j := i
	for j < len(p.normalized) && p.normalized[j] != 0 {
		j++
	}
	s := p.normalized[i:j]
	return s, utf8.ValidString(s)
}

// normalize applies the charsmap as HF's Precompiled normalizer does: a
// grapheme cluster shorter than 6 bytes is replaced whole when it (or a
// prefix of it) is in the trie; otherwise each character is looked up alone.
// The replacement takes the span of the cluster's first character. (HF's
// offsets drift after a character that expands, such as "ﬁ" → "fi"; ids are
// unaffected.)
func (p *precompiled) normalize(n nstr) nstr {
	out := nstr{r: make([]rune, 0, len(n.r)), span: make([]span, 0, len(n.r))}
	emit := func(s string, sp span) {
		for _, r := range s {
			out.r = append(out.r, r)
			out.span = append(out.span, sp)
		}
	}
	for i := 0; i < len(n.r); {
		j := graphemeEnd(n.r, i)
		if g := string(n.r[i:j]); len(g) < 6 {
			if repl, ok := p.transform(g); ok {
				emit(repl, n.span[i])
				i = j
				continue
			}
		}
		for ; i < j; i++ {
			if repl, ok := p.transform(string(n.r[i])); ok {
				emit(repl, n.span[i])
			} else {
				out.r = append(out.r, n.r[i])
				out.span = append(out.span, n.span[i])
			}
		}
	}
	return out
}

// graphemeEnd returns the end of the extended grapheme cluster (UAX #29)
// that starts at r[i]. Only the rules that can form clusters shorter than 6
// bytes matter to Precompiled, so this follows GB3-GB5 (CR LF, controls) and
// GB9/GB9a (extending marks, ZWJ, spacing marks); Hangul, regional-indicator,
// emoji ZWJ and prepend sequences are at least 6 bytes long or very rare, and
// those characters are looked up one by one.
func graphemeEnd(r []rune, i int) int {
	c := r[i]
	j := i + 1
	if c == '\r' {
		if j < len(r) && r[j] == '\n' {
			j++
		}
		return j
	}
	if isGraphemeControl(c) {
		return j
	}
	for j < len(r) && isGraphemeExtend(r[j]) {
		j++
	}
	return j
}

func isGraphemeControl(r rune) bool {
	if r == 0x200C || r == 0x200D {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Zl, unicode.Zp) ||
		unicode.Is(unicode.Cf, r) && !unicode.Is(unicode.Prepended_Concatenation_Mark, r)
}

// isGraphemeExtend covers Grapheme_Cluster_Break Extend (with the emoji skin
// tone modifiers), ZWJ and SpacingMark.
func isGraphemeExtend(r rune) bool {
	return r == 0x200D || r == 0x0E33 || r == 0x0EB3 || r >= 0x1F3FB && r <= 0x1F3FF ||
		unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc, unicode.Other_Grapheme_Extend)
}
