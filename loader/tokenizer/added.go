package tokenizer

// addedToken is an entry of tokenizer.json's added_tokens (or a special
// token of a vocab.txt tokenizer): text that is matched before the model runs
// and becomes a single token.
type addedToken struct {
	content                    string
	id                         int
	special                    bool
	singleWord, lstrip, rstrip bool
	normalized                 bool // matched in normalized rather than raw text
}

// addedMatcher finds added tokens in text: leftmost match first, longest
// match at that position, matches not overlapping (HF's Aho-Corasick
// LeftmostLongest), then single_word, lstrip and rstrip are applied.
type addedMatcher struct {
	pats    [][]rune
	tokens  []addedToken // tokens[i] is matched by pats[i]
	byFirst map[rune][]int
}

func newAddedMatcher(tokens []addedToken, patterns [][]rune) addedMatcher {
	m := addedMatcher{byFirst: make(map[rune][]int)}
	for i, p := range patterns {
		if len(p) == 0 {
			continue
		}
		m.byFirst[p[0]] = append(m.byFirst[p[0]], len(m.pats))
		m.pats = append(m.pats, p)
		m.tokens = append(m.tokens, tokens[i])
	}
	return m
}

// find returns the leftmost-longest match starting at or after pos.
func (m *addedMatcher) find(r []rune, pos int) (start, end, k int) {
	for i := pos; i < len(r); i++ {
		k, end = -1, i
		for _, c := range m.byFirst[r[i]] {
			p := m.pats[c]
			if len(p) > end-i && hasRunePrefix(r[i:], p) {
				k, end = c, i+len(p)
			}
		}
		if k >= 0 {
			return i, end, k
		}
	}
	return 0, 0, -1
}

func hasRunePrefix(s, p []rune) bool {
	if len(p) > len(s) {
		return false
	}
	for i, r := range p {
		if s[i] != r {
			return false
		}
	}
	return true
}

// A segment is a part of the text: an added token (id >= 0) or text to
// tokenize further (id = -1).
type segment struct {
	n  nstr
	id int
}

// split cuts n into segments, as HF's AddedVocabulary::find_matches.
func (m *addedMatcher) split(n nstr) []segment {
	if len(m.pats) == 0 {
		return []segment{{n, -1}}
	}
	var out []segment
	last := 0 // end of the previous segment
	for pos := 0; pos < len(n.r); {
		start, end, k := m.find(n.r, pos)
		if k < 0 {
			break
		}
		pos = end
		tok := m.tokens[k]
		if tok.singleWord && (start > 0 && isWordChar(n.r[start-1]) || end < len(n.r) && isWordChar(n.r[end])) {
			continue
		}
		if tok.lstrip {
			for start > last && isSpace(n.r[start-1]) {
				start--
			}
		}
		if tok.rstrip {
			for end < len(n.r) && isSpace(n.r[end]) {
				end++
			}
			pos = end
		}
		if last < start {
			out = append(out, segment{n.slice(last, start), -1})
		}
		out = append(out, segment{n.slice(start, end), tok.id})
		last = end
	}
	if last < len(n.r) {
		out = append(out, segment{n.slice(last, len(n.r)), -1})
	}
	return out
}
