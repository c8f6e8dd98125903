// Package lemmarule encodes how a word form turns into its lemma as a short,
// printable label (a "lemma rule"), so that lemmatisation can be trained as
// per-word classification over a closed label set, as in UDPipe 2 and UDify
// (Straka 2018, 2019; Kondratyuk & Straka 2019). Rule builds the label of a
// (form, lemma) pair; Apply turns a label and a form back into the lemma.
//
// # Rule format
//
// A rule is either a whole-lemma rule or an edit rule:
//
//	=TEXT     the lemma is TEXT, whatever the form
//	C;P;S     casing C, prefix edit P, suffix edit S
//
// P and S each have the form N or N+TEXT (N a decimal number without leading
// zeros, TEXT non-empty): remove N runes at that end of the base word and put
// TEXT there instead. The base word is the form lowercased (C = L, T or U) or
// the form as it is (C = K). So, with base runes b and length n,
//
//	lemma = P.TEXT + b[P.N : n-S.N] + S.TEXT
//
// after which the casing letter is applied:
//
//	L  nothing more: the lemma is all lowercase
//	K  nothing more: the form's own casing is kept and TEXT is verbatim
//	T  first rune to title case (stored TEXT is lowercase)
//	U  every rune to upper case (stored TEXT is lowercase)
//
// Because the edits count from the two ends of the word, words that inflect
// alike share a rule: walked→walk and jumped→jump are both "L;0;2",
// Dogs→dog and cats→cat both "L;0;1", parties→party "L;0;3+y",
// unhappy→happy "L;2;0", Americans→American "K;0;1", PARIS→Paris "T;0;0",
// the→the and The→the "L;0;0", went→go "=go", людей→человек "=человек",
// была→быть and делала→делать "L;0;2+ть".
//
// Inside TEXT, a backslash is written `\\`, a semicolon `\;`, and every rune
// that is a space or not printable (unicode.IsPrint) is written `\u{HEX}`
// (lowercase hexadecimal, no leading zeros); all other runes stand for
// themselves. A rule is therefore valid UTF-8 with no whitespace or control
// characters, so it can serve as a line in a label-vocabulary file, and it
// parses one way only. Apply accepts exactly the canonical spelling that Rule
// produces (e.g. it rejects "L;00;1", "L;0+;0" or `=\u{41}`), so equal rules
// always have equal labels.
//
// # How Rule chooses
//
// Rule aligns the lowercased form and lemma on their longest common substring
// (leftmost in the lemma, then leftmost in the form) and turns what lies
// before and after it into the prefix and suffix edits. If that substring is
// shorter than two runes and is not the whole lemma, it is taken for a
// coincidence (went→go, are→be, его→он, людей→человек) and a whole-lemma rule
// is used instead; so is, are, was all get "=be". The casing letter is the
// first of L (the lemma is lowercase), K (the form's casing carries over to
// the lemma), T, U that reproduces the lemma; if none does, the alignment is
// redone on the unlowered strings under K, and failing that the rule is a
// whole-lemma rule. Every candidate is checked by applying it, so
//
//	Apply(Rule(form, lemma), form) == lemma, nil
//
// holds for all valid UTF-8 form and lemma (including empty strings, "_",
// identical strings and strings with nothing in common). Case mapping is
// rune by rune with the language-independent Unicode simple mappings
// (unicode.ToLower, ToUpper, ToTitle); letters whose mappings do not round
// trip (Turkish İ, ẞ, the Kelvin sign, …) only make the rule less general,
// never wrong. Strings are not Unicode-normalised. A CoNLL-U lemma "_"
// (unspecified) is treated like any other string, giving "=_" for any form
// but "_" itself; a trainer may prefer to skip such words.
//
// Rule takes time proportional to len(form)·len(lemma) (microseconds for
// words); Apply is linear.
package lemmarule

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is the type of the errors returned by Apply; test for the two kinds
// with errors.Is.
type Error string

func (e Error) Error() string { return string(e) }

const (
	// ErrMalformed is returned (wrapped) by Apply for a string that is not a
	// rule in canonical form. Rules from Rule never cause it; seeing it means
	// the label vocabulary and the code disagree.
	ErrMalformed Error = "lemmarule: malformed rule"
	// ErrNotApplicable is returned (wrapped) by Apply for a well-formed edit
	// rule that removes more runes than the form has. It is expected when a
	// classifier predicts a rule learnt on longer words; the caller should
	// fall back, e.g. to the form itself (lowercased for an L rule) or to the
	// next most probable rule that applies.
	ErrNotApplicable Error = "lemmarule: rule not applicable to form"
)

const (
	casingLower = 'L'
	casingKeep  = 'K'
	casingTitle = 'T'
	casingUpper = 'U'
	wholeMark   = '='
	sepMark     = ';'
	addMark     = '+'
	escMark     = '\\'
)

// casingOrder is the order in which Rule tries the casing letters.
const casingOrder = "LKTU"

// minStem is the shortest common substring that an edit rule keeps, unless
// it is the whole lemma: a single shared rune is taken for coincidence.
const minStem = 2

// Rule returns the canonical rule label that turns form into lemma; see the
// package documentation for the format. form and lemma must be valid UTF-8
// (invalid bytes would be read as U+FFFD and not survive the round trip).
func Rule(form, lemma string) string {
	fr, lr := []rune(form), []rune(lemma)
	fl, ll := lowerRunes(fr), lowerRunes(lr)

	if fi, li, n := longestCommon(fl, ll); keepsEnough(n, len(lr)) {
		for _, c := range []byte(casingOrder) {
			text := ll
			if c == casingKeep {
				text = lr
			}
			r := editRule{
				casing: c,
				stripP: fi, addP: string(text[:li]),
				stripS: len(fl) - fi - n, addS: string(text[li+n:]),
			}
			if got, err := r.apply(fr); err == nil && got == lemma {
				return r.String()
			}
		}
	}
	if fi, li, n := longestCommon(fr, lr); keepsEnough(n, len(lr)) {
		r := editRule{
			casing: casingKeep,
			stripP: fi, addP: string(lr[:li]),
			stripS: len(fr) - fi - n, addS: string(lr[li+n:]),
		}
		if got, err := r.apply(fr); err == nil && got == lemma {
			return r.String()
		}
	}
	return string(wholeMark) + escape(lemma)
}

// Apply returns the lemma that rule makes of form. The error wraps
// ErrMalformed if rule is not a canonical rule string, or ErrNotApplicable if
// it is an edit rule that removes more runes than form has; in either case
// the returned string is empty and the caller should fall back (to the form
// itself, or to the best-scoring rule that does apply). Whole-lemma rules
// apply to every form.
func Apply(rule, form string) (string, error) {
	if strings.HasPrefix(rule, string(wholeMark)) {
		text, err := unescape(rule[1:], false)
		if err != nil || escape(text) != rule[1:] {
			return "", fmt.Errorf("%w: %q", ErrMalformed, rule)
		}
		return text, nil
	}
	r, err := parseEditRule(rule)
	if err != nil {
		return "", err
	}
	return r.apply([]rune(form))
}

// editRule is a parsed C;P;S rule.
type editRule struct {
	casing         byte
	stripP, stripS int
	addP, addS     string
}

func (r editRule) String() string {
	var b strings.Builder
	b.WriteByte(r.casing)
	for _, e := range [2]struct {
		n   int
		add string
	}{{r.stripP, r.addP}, {r.stripS, r.addS}} {
		b.WriteByte(sepMark)
		b.WriteString(strconv.Itoa(e.n))
		if e.add != "" {
			b.WriteByte(addMark)
			b.WriteString(escape(e.add))
		}
	}
	return b.String()
}

func (r editRule) apply(form []rune) (string, error) {
	if r.stripP > len(form) || r.stripS > len(form)-r.stripP { // no overflow
		return "", fmt.Errorf("%w: %s removes %d+%d runes of %d in %q",
			ErrNotApplicable, r, r.stripP, r.stripS, len(form), string(form))
	}
	base := form
	if r.casing != casingKeep {
		base = lowerRunes(form)
	}
	out := make([]rune, 0, len(base)-r.stripP-r.stripS+len(r.addP)+len(r.addS))
	out = append(out, []rune(r.addP)...)
	out = append(out, base[r.stripP:len(base)-r.stripS]...)
	out = append(out, []rune(r.addS)...)
	switch r.casing {
	case casingTitle:
		if len(out) > 0 {
			out[0] = unicode.ToTitle(out[0])
		}
	case casingUpper:
		for i, c := range out {
			out[i] = unicode.ToUpper(c)
		}
	}
	return string(out), nil
}

// parseEditRule parses a C;P;S rule and insists on its canonical spelling.
func parseEditRule(s string) (editRule, error) {
	bad := func() (editRule, error) {
		return editRule{}, fmt.Errorf("%w: %q", ErrMalformed, s)
	}
	if len(s) < 2 || strings.IndexByte(casingOrder, s[0]) < 0 || s[1] != sepMark {
		return bad()
	}
	r := editRule{casing: s[0]}
	rest := s[2:]
	for part := 0; part < 2; part++ {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil {
			return bad()
		}
		rest = rest[i:]
		var add string
		if strings.HasPrefix(rest, string(addMark)) {
			end := len(rest)
			if part == 0 {
				end = unescapedSep(rest)
			}
			if add, err = unescape(rest[1:end], part == 0); err != nil {
				return bad()
			}
			rest = rest[end:]
		}
		if part == 0 {
			if !strings.HasPrefix(rest, string(sepMark)) {
				return bad()
			}
			rest = rest[1:]
			r.stripP, r.addP = n, add
		} else {
			if rest != "" {
				return bad()
			}
			r.stripS, r.addS = n, add
		}
	}
	if r.String() != s { // leading zeros, empty TEXT, needless escapes, …
		return bad()
	}
	return r, nil
}

// unescapedSep returns the index of the first semicolon in s that is not
// escaped, or len(s).
func unescapedSep(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case escMark:
			i++
		case sepMark:
			return i
		}
	}
	return len(s)
}

// escape writes s as rule TEXT (see the package documentation).
func escape(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == escMark || c == sepMark:
			b.WriteRune(escMark)
			b.WriteRune(c)
		case c == ' ' || !unicode.IsPrint(c):
			fmt.Fprintf(&b, `\u{%x}`, c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// unescape reverses escape. It does not check canonical spelling (the caller
// re-escapes and compares); a bare semicolon is an error if sepIsEnd.
func unescape(s string, sepIsEnd bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrMalformed
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case sepMark:
			if sepIsEnd {
				return "", ErrMalformed
			}
			b.WriteByte(s[i])
		case escMark:
			if i+1 >= len(s) {
				return "", ErrMalformed
			}
			i++
			switch s[i] {
			case escMark, sepMark:
				b.WriteByte(s[i])
			case 'u':
				end := strings.IndexByte(s[i:], '}')
				if end < 0 || i+1 >= len(s) || s[i+1] != '{' {
					return "", ErrMalformed
				}
				v, err := strconv.ParseUint(s[i+2:i+end], 16, 32)
				if err != nil || v > unicode.MaxRune {
					return "", ErrMalformed
				}
				b.WriteRune(rune(v))
				i += end
			default:
				return "", ErrMalformed
			}
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// lowerRunes returns a lowercased copy of rs, rune by rune (so the length is
// unchanged).
func lowerRunes(rs []rune) []rune {
	out := make([]rune, len(rs))
	for i, c := range rs {
		out[i] = unicode.ToLower(c)
	}
	return out
}

// keepsEnough reports whether a common substring of n runes is worth an edit
// rule for a lemma of m runes.
func keepsEnough(n, m int) bool {
	return n >= minStem || n > 0 && n == m
}

// longestCommon returns the start in a, the start in b and the length of a
// longest common substring of a and b; among several, the one starting
// leftmost in b, then leftmost in a. The length is 0 if they share no rune.
func longestCommon(a, b []rune) (ai, bi, n int) {
	// prev[j+1], cur[j+1]: length of the common suffix of a[:i] and b[:j+1].
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] != b[j] {
				cur[j+1] = 0
				continue
			}
			k := prev[j] + 1
			cur[j+1] = k
			sa, sb := i+1-k, j+1-k
			if k > n || k == n && (sb < bi || sb == bi && sa < ai) {
				ai, bi, n = sa, sb, k
			}
		}
		prev, cur = cur, prev
	}
	return ai, bi, n
}
