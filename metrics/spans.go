package metrics

import (
	"fmt"
	"strings"
)

// Scheme is the tagging scheme of NER labels. A tag is "O" (outside any
// entity) or a prefix letter, "-" and the entity type, as in "B-PER"; a
// bare prefix ("B") or an empty type ("B-") gives type "_", as in seqeval.
type Scheme int

const (
	// IOB2 tags are O, B-X (first token of an X entity) and I-X (the other
	// tokens). In the default mode, IOB1 tags (I-X first) read correctly too.
	IOB2 Scheme = iota + 1
	// IOBES tags add E-X (last token of a longer entity) and S-X (an entity
	// of one token) to IOB2's.
	IOBES
)

// String returns the scheme's name.
func (s Scheme) String() string {
	switch s {
	case IOB2:
		return "IOB2"
	case IOBES:
		return "IOBES"
	}
	return fmt.Sprintf("Scheme(%d)", int(s))
}

// allows reports whether prefix is one of the scheme's entity prefixes.
func (s Scheme) allows(prefix byte) bool {
	switch prefix {
	case 'B', 'I':
		return true
	case 'E', 'S':
		return s == IOBES
	}
	return false
}

// PRF is precision, recall and F1 with the counts they come from.
type PRF struct {
	Precision float64 // TP / (TP + FP), or 0
	Recall    float64 // TP / (TP + FN), or 0
	F1        float64 // 2 Precision Recall / (Precision + Recall), or 0

	TP, FP, FN int
	Support    int // gold items: TP + FN
}

// newPRF computes a PRF from its counts with seqeval's and scikit-learn's
// formulas, a zero denominator giving 0.
func newPRF(tp, fp, fn int) PRF {
	p, r := ratio(tp, tp+fp), ratio(tp, tp+fn)
	f := 0.0
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	return PRF{Precision: p, Recall: r, F1: f, TP: tp, FP: fp, FN: fn, Support: tp + fn}
}

// SpanScores holds span-level NER scores. The embedded PRF is the micro
// average over all entity types.
type SpanScores struct {
	PRF
	// PerType has an entry for every entity type found in gold or
	// prediction; a type found only in the prediction has Support 0.
	PerType map[string]PRF
}

// span is an entity: its type and its tokens [start, end).
type span struct {
	typ        string
	start, end int
}

// Spans scores the entities of pred against those of gold as seqeval does:
// an entity is right if gold has one with the same type, start and end in
// the same sentence; scores are micro-averaged over all entity types, and
// per type.
//
// In the default mode (strict false) entities are read as by seqeval's
// default mode and conlleval: a chunk starts at B-X, at S-X, and at an I-X
// or E-X that does not continue a chunk of type X, and ends where the next
// token does not continue it. In strict mode they are read as by seqeval
// with mode='strict' and the scheme: with IOB2 an entity is B-X followed by
// all the I-X after it, and a stray I-X is ignored; with IOBES an entity is
// S-X or B-X I-X... E-X, and ill-formed chunks (B-X without its E-X, stray
// I-X and E-X) are ignored.
//
// Every tag must belong to the scheme, in gold and pred alike; an error
// names the first one that does not (seqeval only warns in its default
// mode). A predicted entity of a type unknown to gold counts as wrong. Spans
// returns an error wrapping ErrShape when the sentences or their lengths
// differ, and one wrapping ErrEmpty when there are no tokens.
func Spans(gold, pred [][]string, scheme Scheme, strict bool) (SpanScores, error) {
	if scheme != IOB2 && scheme != IOBES {
		return SpanScores{}, fmt.Errorf("metrics: unknown tagging scheme %v", scheme)
	}
	if len(gold) != len(pred) {
		return SpanScores{}, fmt.Errorf("%w: %d gold sentences, %d predicted", ErrShape, len(gold), len(pred))
	}
	type counts struct{ tp, gold, pred int }
	perType := make(map[string]counts)
	tokens := 0
	for i := range gold {
		if len(gold[i]) != len(pred[i]) {
			return SpanScores{}, fmt.Errorf("%w: sentence %d: %d gold tags, %d predicted", ErrShape, i, len(gold[i]), len(pred[i]))
		}
		gs, err := entities("gold", i, gold[i], scheme, strict)
		if err != nil {
			return SpanScores{}, err
		}
		ps, err := entities("pred", i, pred[i], scheme, strict)
		if err != nil {
			return SpanScores{}, err
		}
		tokens += len(gold[i])
		isGold := make(map[span]bool, len(gs))
		for _, s := range gs {
			isGold[s] = true
			c := perType[s.typ]
			c.gold++
			perType[s.typ] = c
		}
		for _, s := range ps {
			c := perType[s.typ]
			c.pred++
			if isGold[s] {
				c.tp++
			}
			perType[s.typ] = c
		}
	}
	if tokens == 0 {
		return SpanScores{}, fmt.Errorf("%w: no tokens in %d sentences", ErrEmpty, len(gold))
	}
	scores := SpanScores{PerType: make(map[string]PRF, len(perType))}
	var tp, ng, np int
	for typ, c := range perType {
		scores.PerType[typ] = newPRF(c.tp, c.pred-c.tp, c.gold-c.tp)
		tp, ng, np = tp+c.tp, ng+c.gold, np+c.pred
	}
	scores.PRF = newPRF(tp, np-tp, ng-tp)
	return scores, nil
}

// tag is a parsed NER tag: prefix 'O', 'B', 'I', 'E' or 'S', and the
// entity type ("" for O).
type tag struct {
	prefix byte
	typ    string
}

// entities returns the entities of one sentence of tags. side and i name
// the sentence in errors.
func entities(side string, i int, tags []string, scheme Scheme, strict bool) ([]span, error) {
	parsed := make([]tag, len(tags))
	for j, t := range tags {
		var ok bool
		if parsed[j], ok = parseTag(t, scheme); !ok {
			return nil, fmt.Errorf("metrics: %s[%d][%d]: tag %q is not an %v tag", side, i, j, t, scheme)
		}
	}
	if strict {
		return strictEntities(parsed, scheme), nil
	}
	return lenientEntities(parsed), nil
}

// parseTag splits t into prefix and type, reporting whether it is a tag
// of scheme.
func parseTag(t string, scheme Scheme) (tag, bool) {
	if t == "O" {
		return tag{prefix: 'O'}, true
	}
	if t == "" || !scheme.allows(t[0]) {
		return tag{}, false
	}
	typ, ok := strings.CutPrefix(t[1:], "-")
	if !ok && len(t) > 1 {
		return tag{}, false
	}
	if typ == "" {
		typ = "_"
	}
	return tag{prefix: t[0], typ: typ}, true
}

// lenientEntities reads chunks as seqeval's get_entities (and conlleval)
// does.
func lenientEntities(tags []tag) []span {
	var out []span
	prev, start := tag{prefix: 'O'}, 0
	// The extra O at the end closes the last chunk.
	for j := 0; j <= len(tags); j++ {
		cur := tag{prefix: 'O'}
		if j < len(tags) {
			cur = tags[j]
		}
		if endOfChunk(prev, cur) {
			out = append(out, span{prev.typ, start, j})
		}
		if startOfChunk(prev, cur) {
			start = j
		}
		prev = cur
	}
	return out
}

// endOfChunk reports whether a chunk ends between prev and cur
// (conlleval's endOfChunk).
func endOfChunk(prev, cur tag) bool {
	switch {
	case prev.prefix == 'E' || prev.prefix == 'S':
		return true
	case (prev.prefix == 'B' || prev.prefix == 'I') && (cur.prefix == 'B' || cur.prefix == 'S' || cur.prefix == 'O'):
		return true
	}
	return prev.prefix != 'O' && prev.typ != cur.typ
}

// startOfChunk reports whether a chunk starts at cur (conlleval's
// startOfChunk).
func startOfChunk(prev, cur tag) bool {
	switch {
	case cur.prefix == 'B' || cur.prefix == 'S':
		return true
	case (cur.prefix == 'I' || cur.prefix == 'E') && (prev.prefix == 'E' || prev.prefix == 'S' || prev.prefix == 'O'):
		return true
	}
	return cur.prefix != 'O' && prev.typ != cur.typ
}

// strictEntities reads entities as seqeval's Tokens.entities does for
// IOB2 and IOBES: a chunk starts at B-X (or S-X), goes on while the next
// token is I-X (or, with IOBES, E-X) and the previous one is B-X or I-X,
// and is kept if it ends well: always with IOB2, at S-X or E-X with IOBES.
func strictEntities(tags []tag, scheme Scheme) []span {
	var out []span
	for j := 0; j < len(tags); {
		t := tags[j]
		if t.prefix == 'S' {
			out = append(out, span{t.typ, j, j + 1})
			j++
			continue
		}
		if t.prefix != 'B' {
			j++
			continue
		}
		end, last := j+1, t.prefix
		for end < len(tags) && (last == 'B' || last == 'I') && tags[end].typ == t.typ &&
			(tags[end].prefix == 'I' || tags[end].prefix == 'E') {
			last = tags[end].prefix
			end++
		}
		if scheme == IOB2 || last == 'E' {
			out = append(out, span{t.typ, j, end})
		}
		j = end
	}
	return out
}
