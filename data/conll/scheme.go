package conll

import (
	"fmt"
	"strings"
)

// Scheme is a way of marking spans (entities, chunks) with one tag per
// token: "O" outside every span, and "P-TYPE" inside a span of type TYPE,
// with a one-letter prefix P saying where in the span the token is.
type Scheme uint8

const (
	// IOB1: I-X inside a span of type X; B-X only for the first token of a
	// span that follows another span of type X without a gap.
	IOB1 Scheme = iota + 1
	// IOB2, also called BIO: B-X for the first token of a span, I-X for the
	// others.
	IOB2
	// IOBES, also called BIOES: B-X, I-X and E-X for the first, middle and
	// last tokens of a span of several, S-X for a span of one.
	IOBES
	// BILOU is IOBES written with L- (last) for E- and U- (unit) for S-.
	BILOU
)

// schemeNames are the names ParseScheme accepts, in upper case.
var schemeNames = map[string]Scheme{
	"IOB1": IOB1, "IOB2": IOB2, "BIO": IOB2, "IOBES": IOBES, "BIOES": IOBES, "BILOU": BILOU,
}

// ParseScheme returns the scheme called name, in any case: IOB1, IOB2 (or
// BIO), IOBES (or BIOES) or BILOU.
func ParseScheme(name string) (Scheme, error) {
	if s, ok := schemeNames[strings.ToUpper(name)]; ok {
		return s, nil
	}
	return 0, fmt.Errorf("conll: unknown tagging scheme %q (want IOB1, IOB2, BIO, IOBES, BIOES or BILOU)", name)
}

// String returns the scheme's name.
func (s Scheme) String() string {
	switch s {
	case IOB1:
		return "IOB1"
	case IOB2:
		return "IOB2"
	case IOBES:
		return "IOBES"
	case BILOU:
		return "BILOU"
	}
	return fmt.Sprintf("Scheme(%d)", uint8(s))
}

func (s Scheme) valid() bool { return s >= IOB1 && s <= BILOU }

// A Span is the tokens Start (inclusive) to End (exclusive) of a sequence,
// forming an entity or chunk of type Type.
type Span struct {
	Type       string
	Start, End int
}

// A TagError reports a tag that is malformed, or not allowed by a scheme
// after the tag before it.
type TagError struct {
	Index  int // of the tag in its sequence
	Tag    string
	Reason string
}

// Error returns the error as `tag N "T": reason`, N counted from 1.
func (e *TagError) Error() string {
	return fmt.Sprintf("tag %d %q: %s", e.Index+1, e.Tag, e.Reason)
}

// tag is a parsed tag. Its prefix is one of 'O', 'B', 'I', 'E', 'S': BILOU's
// L and U are read as E and S, which mean the same.
type tag struct {
	prefix byte
	typ    string
}

var outside = tag{prefix: 'O'}

// parseTags parses tags; prefixes are the prefix letters allowed.
func parseTags(tags []string, prefixes string) ([]tag, *TagError) {
	parsed := make([]tag, len(tags))
	for i, t := range tags {
		if t == "O" {
			parsed[i] = outside
			continue
		}
		if len(t) < 3 || t[1] != '-' || !strings.ContainsRune(prefixes, rune(t[0])) {
			return nil, &TagError{i, t, fmt.Sprintf("want O or P-TYPE with P one of %s", strings.Join(strings.Split(prefixes, ""), ", "))}
		}
		p := t[0]
		switch p {
		case 'L':
			p = 'E'
		case 'U':
			p = 'S'
		}
		parsed[i] = tag{p, t[2:]}
	}
	return parsed, nil
}

// prefixes returns the prefix letters of s's tags other than O.
func (s Scheme) prefixes() string {
	switch s {
	case IOB1, IOB2:
		return "BI"
	case IOBES:
		return "BIES"
	case BILOU:
		return "BILU"
	}
	return ""
}

// Validate reports whether tags follow scheme s: every tag well formed with
// a prefix of s, and every tag allowed after the one before it (O before the
// first):
//
//   - IOB1: B-X only after I-X or B-X;
//   - IOB2: I-X only after B-X or I-X;
//   - IOBES, BILOU: I-X and E-X (L-X) only after B-X or I-X, and every other
//     tag, or the end, never after B- or I-.
//
// The error is a *TagError.
func Validate(tags []string, s Scheme) error {
	if e := validate(tags, s); e != nil {
		return e
	}
	return nil
}

func validate(tags []string, s Scheme) *TagError {
	if !s.valid() {
		return &TagError{0, "", "unknown " + s.String()}
	}
	parsed, e := parseTags(tags, s.prefixes())
	if e != nil {
		return e
	}
	prev := outside
	for i, cur := range parsed {
		if reason := transition(s, prev, cur); reason != "" {
			return &TagError{i, tags[i], reason + s.afterTag(tags, i)}
		}
		prev = cur
	}
	if (s == IOBES || s == BILOU) && (prev.prefix == 'B' || prev.prefix == 'I') {
		last := len(tags) - 1
		return &TagError{last, tags[last], "a span must end with " + s.endTags(prev.typ) + ", not at the end of the sentence"}
	}
	return nil
}

// transition returns why cur may not follow prev in scheme s, or "".
func transition(s Scheme, prev, cur tag) string {
	inSpan := (prev.prefix == 'B' || prev.prefix == 'I') && prev.typ == cur.typ
	switch s {
	case IOB1:
		if cur.prefix == 'B' && !inSpan {
			return "B-" + cur.typ + " only separates two spans of that type, so must follow I-" + cur.typ + " or B-" + cur.typ
		}
	case IOB2:
		if cur.prefix == 'I' && !inSpan {
			return "must follow B-" + cur.typ + " or I-" + cur.typ
		}
	case IOBES, BILOU:
		continues := cur.prefix == 'I' || cur.prefix == 'E'
		if continues && !inSpan {
			return "must follow B-" + cur.typ + " or I-" + cur.typ
		}
		if !continues && (prev.prefix == 'B' || prev.prefix == 'I') {
			return "a span must end with " + s.endTags(prev.typ) + " before it"
		}
	}
	return ""
}

// afterTag names the tag before tags[i] for an error.
func (s Scheme) afterTag(tags []string, i int) string {
	if i == 0 {
		return " (it is the first tag)"
	}
	return fmt.Sprintf(" (it follows %s)", tags[i-1])
}

// endTags names the tags that end a span of type typ in s, for errors.
func (s Scheme) endTags(typ string) string {
	if s == BILOU {
		return "L-" + typ + " or U-" + typ
	}
	return "E-" + typ + " or S-" + typ
}

// Convert returns tags, which must follow scheme from (see Validate),
// rewritten in scheme to: the same spans, tagged the other way.
func Convert(tags []string, from, to Scheme) ([]string, error) {
	if !to.valid() {
		return nil, fmt.Errorf("conll: unknown %v", to)
	}
	if err := Validate(tags, from); err != nil {
		return nil, err
	}
	spans, err := Spans(tags, from)
	if err != nil {
		return nil, err
	}
	return tagSpans(spans, len(tags), to), nil
}

// Repair returns tags rewritten to follow scheme s, with the spans conlleval
// reads in them (see SpansLenient): a stray I-X after O starts a span, as it
// does for conlleval; tags that already follow s come back unchanged.
func Repair(tags []string, s Scheme) ([]string, error) {
	if !s.valid() {
		return nil, fmt.Errorf("conll: unknown %v", s)
	}
	spans, err := SpansLenient(tags)
	if err != nil {
		return nil, err
	}
	return tagSpans(spans, len(tags), s), nil
}

// tagSpans tags n tokens with spans in scheme to.
func tagSpans(spans []Span, n int, to Scheme) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "O"
	}
	end, endType := -1, "" // the previous span's
	for _, sp := range spans {
		for i := sp.Start; i < sp.End; i++ {
			out[i] = "I-" + sp.Type
		}
		switch to {
		case IOB1:
			if sp.Start == end && sp.Type == endType {
				out[sp.Start] = "B-" + sp.Type
			}
		case IOB2:
			out[sp.Start] = "B-" + sp.Type
		case IOBES, BILOU:
			single, last := "S-", "E-"
			if to == BILOU {
				single, last = "U-", "L-"
			}
			if sp.End-sp.Start == 1 {
				out[sp.Start] = single + sp.Type
			} else {
				out[sp.Start] = "B-" + sp.Type
				out[sp.End-1] = last + sp.Type
			}
		}
		end, endType = sp.End, sp.Type
	}
	return out
}

// strictRules are seqeval's rules for its strict mode (its scheme.py), per
// scheme: when a token starts a span, continues the span of the token
// before it, or ends it. Each rule is three bytes: the previous token's
// prefix, this token's prefix ('*' for any), and whether their types are
// the same ('='), different ('!') or either ('*').
var strictRules = map[Scheme]struct{ start, inside, end []string }{
	IOB1: {
		start:  []string{"OI*", "II!", "BI*", "IB=", "BB="},
		inside: []string{"BI=", "II="},
		end:    []string{"II!", "IO*", "IB*", "BO*", "BI!", "BB="},
	},
	IOB2: {
		start:  []string{"*B*"},
		inside: []string{"BI=", "II="},
		end:    []string{"IO*", "II!", "IB*", "BO*", "BI!", "BB*"},
	},
	IOBES: {
		start:  []string{"*B*", "*S*"},
		inside: []string{"BI=", "BE=", "II=", "IE="},
		end:    []string{"S**", "E**"},
	},
}

// matches reports whether one of rules applies to cur after prev.
func matches(rules []string, prev, cur tag) bool {
	for _, r := range rules {
		if (r[0] == '*' || r[0] == prev.prefix) && (r[1] == '*' || r[1] == cur.prefix) &&
			(r[2] == '*' || (r[2] == '=') == (prev.typ == cur.typ)) {
			return true
		}
	}
	return false
}

// Spans returns the spans of tags read strictly in scheme s, exactly as
// seqeval's strict mode (mode="strict", scheme=s) finds them: a span is
// counted only if it starts and ends as s says, so in IOB2 an I-X after O
// starts no span. A tag that is not O nor a prefix of s followed by -TYPE is
// an error (a *TagError); ill-formed sequences are not.
func Spans(tags []string, s Scheme) ([]Span, error) {
	if !s.valid() {
		return nil, fmt.Errorf("conll: unknown %v", s)
	}
	parsed, e := parseTags(tags, s.prefixes())
	if e != nil {
		return nil, e
	}
	rules := strictRules[s]
	if s == BILOU {
		rules = strictRules[IOBES]
	}
	// A final O ends every span, as in seqeval; no rule lets O continue
	// one, so the scan below always stops on a token.
	toks := append(parsed, outside)
	var spans []Span
	prev := outside
	for i := 0; i < len(toks); {
		cur := toks[i]
		if !matches(rules.start, prev, cur) {
			i++
			prev = cur
			continue
		}
		end, last := i+1, cur
		for matches(rules.inside, last, toks[end]) {
			last = toks[end]
			end++
		}
		if matches(rules.end, last, toks[end]) {
			spans = append(spans, Span{cur.typ, i, end})
		}
		i, prev = end, last
	}
	return spans, nil
}

// SpansLenient returns the spans of tags read as conlleval (and seqeval's
// default mode) read them, whatever the scheme: a span starts at B- or S-,
// at I- or E- after O, E- or S-, and at any tag whose type differs from the
// tag before; it ends before such a start, before O, and after E- or S-. So
// an I-X after O starts a span. BILOU's L- and U- are read as E- and S-.
// A tag that is not O nor B-, I-, E-, S-, L- or U- followed by TYPE is an
// error (a *TagError).
func SpansLenient(tags []string) ([]Span, error) {
	parsed, e := parseTags(tags, "BIESLU")
	if e != nil {
		return nil, e
	}
	var spans []Span
	prev, start := outside, 0
	for i := 0; i <= len(parsed); i++ {
		cur := outside
		if i < len(parsed) {
			cur = parsed[i]
		}
		if chunkEnds(prev, cur) {
			spans = append(spans, Span{prev.typ, start, i})
		}
		if chunkStarts(prev, cur) {
			start = i
		}
		prev = cur
	}
	return spans, nil
}

// chunkEnds reports whether the span of prev ends before cur, by
// conlleval's endOfChunk.
func chunkEnds(prev, cur tag) bool {
	switch {
	case prev.prefix == 'O':
		return false
	case prev.prefix == 'E' || prev.prefix == 'S':
		return true
	case cur.prefix == 'B' || cur.prefix == 'S' || cur.prefix == 'O':
		return true // prev is B- or I-
	}
	return prev.typ != cur.typ
}

// chunkStarts reports whether cur starts a span after prev, by conlleval's
// startOfChunk.
func chunkStarts(prev, cur tag) bool {
	switch {
	case cur.prefix == 'O':
		return false
	case cur.prefix == 'B' || cur.prefix == 'S':
		return true
	case prev.prefix == 'O' || prev.prefix == 'E' || prev.prefix == 'S':
		return true // cur is I- or E-
	}
	return prev.typ != cur.typ
}
