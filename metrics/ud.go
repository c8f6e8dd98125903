package metrics

import (
	"fmt"
	"slices"
	"strings"
)

// Word is the annotation of one syntactic word of a CoNLL-U sentence.
//
// A sentence is its syntactic words in order: the words of a multiword
// token count one by one, and neither the token's range line ("2-3") nor
// empty nodes ("5.1") are words, as in conll18_ud_eval.py.
type Word struct {
	UPOS   string // UPOS column
	XPOS   string // XPOS column
	Feats  string // FEATS column, such as "Number=Sing|Person=3" or "_"
	Lemma  string // LEMMA column
	Head   int    // HEAD: 0 for the root, i for the word with ID i, or NoHead
	Deprel string // DEPREL column, such as "nmod:poss"
}

// NoHead is the Head of a predicted word whose head was not predicted (for
// instance a word cut off by the encoder's length limit): every metric that
// looks at heads counts the word as wrong. It is an error in gold words.
const NoHead = -1

// Score is one metric of conll18_ud_eval.py, with its raw counts as the
// script's --counts option prints them.
//
// With gold tokenization every word is aligned, so for the metrics over all
// words Gold == System and Precision == Recall == F1 == the accuracy. CLAS,
// MLAS and BLEX count only content words, which gold and prediction choose
// by their own DEPREL, so their precision and recall differ.
type Score struct {
	Correct int // words whose annotation is right
	Gold    int // words the metric counts in the gold annotation
	System  int // words the metric counts in the prediction

	Precision float64 // Correct / System, or 0
	Recall    float64 // Correct / Gold, or 0
	F1        float64 // 2 Correct / (Gold + System), or 0
}

// newScore computes a Score from its counts with the script's formulas.
func newScore(correct, gold, system int) Score {
	return Score{
		Correct:   correct,
		Gold:      gold,
		System:    system,
		Precision: ratio(correct, system),
		Recall:    ratio(correct, gold),
		F1:        ratio(2*correct, gold+system),
	}
}

// UDScores holds the CoNLL 2018 shared task metrics.
type UDScores struct {
	Words int // syntactic words scored

	UPOS    Score // UPOS equal
	XPOS    Score // XPOS equal
	UFeats  Score // universal features equal (see UD)
	AllTags Score // UPOS, XPOS and universal features equal
	Lemmas  Score // LEMMA equal, or the gold LEMMA is "_"
	UAS     Score // HEAD equal
	LAS     Score // HEAD and universal DEPREL equal
	CLAS    Score // LAS over content words
	MLAS    Score // CLAS plus UPOS, universal features and functional children
	BLEX    Score // CLAS plus lemma

	// LASFull is not a CoNLL 2018 metric: HEAD and the full DEPREL, subtype
	// included, equal (las_full of the PyTorch baseline's scorer).
	LASFull Score
}

// contentDeprels and functionalDeprels are conll18_ud_eval.py's
// CONTENT_DEPRELS and FUNCTIONAL_DEPRELS. Other relations (punct) are
// neither.
var (
	contentDeprels = set("nsubj", "obj", "iobj", "csubj", "ccomp", "xcomp", "obl", "vocative",
		"expl", "dislocated", "advcl", "advmod", "discourse", "nmod", "appos",
		"nummod", "acl", "amod", "conj", "fixed", "flat", "compound", "list",
		"parataxis", "orphan", "goeswith", "reparandum", "root", "dep")
	functionalDeprels = set("aux", "cop", "mark", "det", "clf", "case", "cc")
)

// universalFeatures is conll18_ud_eval.py's UNIVERSAL_FEATURES: the
// features of UD v2 as of 2018. Layered features such as Number[psor] and
// features added later (NounClass, ExtPos, ...) are not in it.
var universalFeatures = set("PronType", "NumType", "Poss", "Reflex", "Foreign", "Abbr", "Gender",
	"Animacy", "Number", "Case", "Definite", "Degree", "VerbForm", "Mood",
	"Tense", "Aspect", "Voice", "Evident", "Polarity", "Person", "Polite")

// set returns the set of names.
func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// UD computes the CoNLL 2018 shared task metrics of pred against gold,
// sentence by sentence, with the definitions of conll18_ud_eval.py (v1.2)
// on identical tokenization:
//
//   - FEATS are compared after keeping only the features whose name (the
//     part before "=") is in the script's UNIVERSAL_FEATURES and sorting
//     them; "_" becomes the empty set.
//   - A gold LEMMA "_" (not annotated) makes any predicted lemma right.
//   - DEPREL is compared by its universal part, before the first ":"
//     (nmod:poss counts as nmod), except in LASFull.
//   - A content word has a universal DEPREL in CONTENT_DEPRELS; a
//     functional child of word w is a word attached to w by a relation in
//     FUNCTIONAL_DEPRELS. CLAS counts gold content words whose head and
//     relation are right; MLAS also wants UPOS, universal features and the
//     list of functional children (each with relation, UPOS and features)
//     right; BLEX also wants the lemma right. Gold counts the gold content
//     words, System the predicted ones.
//
// Heads must lie in 0..len(sentence) (or be NoHead in pred). Unlike the
// script, which refuses a file whose heads do not form a tree with a single
// root, UD scores any heads: no definition depends on it, and greedy
// decoders produce non-trees. An unknown label in pred simply counts as
// wrong. UD returns an error wrapping ErrShape when the sentences or their
// lengths differ, and one wrapping ErrEmpty when there are no words.
func UD(gold, pred [][]Word) (UDScores, error) {
	if len(gold) != len(pred) {
		return UDScores{}, fmt.Errorf("%w: %d gold sentences, %d predicted", ErrShape, len(gold), len(pred))
	}
	var c udCounts
	for i := range gold {
		g, p := gold[i], pred[i]
		if len(g) != len(p) {
			return UDScores{}, fmt.Errorf("%w: sentence %d: %d gold words, %d predicted", ErrShape, i, len(g), len(p))
		}
		if err := checkHeads("gold", i, g, false); err != nil {
			return UDScores{}, err
		}
		if err := checkHeads("pred", i, p, true); err != nil {
			return UDScores{}, err
		}
		c.add(g, p)
	}
	if c.words == 0 {
		return UDScores{}, fmt.Errorf("%w: no words in %d sentences", ErrEmpty, len(gold))
	}
	n := c.words
	return UDScores{
		Words:   n,
		UPOS:    newScore(c.upos, n, n),
		XPOS:    newScore(c.xpos, n, n),
		UFeats:  newScore(c.ufeats, n, n),
		AllTags: newScore(c.alltags, n, n),
		Lemmas:  newScore(c.lemmas, n, n),
		UAS:     newScore(c.uas, n, n),
		LAS:     newScore(c.las, n, n),
		CLAS:    newScore(c.clas, c.goldContent, c.predContent),
		MLAS:    newScore(c.mlas, c.goldContent, c.predContent),
		BLEX:    newScore(c.blex, c.goldContent, c.predContent),
		LASFull: newScore(c.lasFull, n, n),
	}, nil
}

// checkHeads reports a head outside 0..len(s); NoHead is allowed if
// noHeadOK. side names the input ("gold" or "pred") for the message.
func checkHeads(side string, i int, s []Word, noHeadOK bool) error {
	for j, w := range s {
		if (w.Head < 0 && !(noHeadOK && w.Head == NoHead)) || w.Head > len(s) {
			return fmt.Errorf("metrics: %s[%d][%d]: HEAD %d outside a sentence of %d words", side, i, j, w.Head, len(s))
		}
	}
	return nil
}

// udCounts accumulates the numerators of the metrics over sentences.
type udCounts struct {
	words, upos, xpos, ufeats, alltags, lemmas, uas, las, lasFull int
	goldContent, predContent, clas, mlas, blex                    int
}

// udWord is a word as conll18_ud_eval.py sees it after loading.
type udWord struct {
	feats    string // universal features only, sorted
	deprel   string // universal part of DEPREL
	children []int  // indices of the functional children, in word order
}

// analyze returns the words of s in the script's representation.
func analyze(s []Word) []udWord {
	out := make([]udWord, len(s))
	for j, w := range s {
		out[j].feats = universalFeats(w.Feats)
		out[j].deprel, _, _ = strings.Cut(w.Deprel, ":")
	}
	for j, w := range s {
		if w.Head > 0 && functionalDeprels[out[j].deprel] {
			out[w.Head-1].children = append(out[w.Head-1].children, j)
		}
	}
	return out
}

// universalFeats keeps the features of feats whose name is universal and
// sorts them, as the script does.
func universalFeats(feats string) string {
	var keep []string
	for _, f := range strings.Split(feats, "|") {
		name, _, _ := strings.Cut(f, "=")
		if universalFeatures[name] {
			keep = append(keep, f)
		}
	}
	slices.Sort(keep)
	return strings.Join(keep, "|")
}

// add counts one sentence. Heads have been checked.
func (c *udCounts) add(gold, pred []Word) {
	ga, pa := analyze(gold), analyze(pred)
	for j, g := range gold {
		p := pred[j]
		gw, pw := ga[j], pa[j]
		upos := p.UPOS == g.UPOS
		feats := pw.feats == gw.feats
		lemma := g.Lemma == "_" || p.Lemma == g.Lemma
		head := p.Head == g.Head
		las := head && pw.deprel == gw.deprel

		c.words++
		c.upos += b2i(upos)
		c.xpos += b2i(p.XPOS == g.XPOS)
		c.ufeats += b2i(feats)
		c.alltags += b2i(upos && p.XPOS == g.XPOS && feats)
		c.lemmas += b2i(lemma)
		c.uas += b2i(head)
		c.las += b2i(las)
		c.lasFull += b2i(head && p.Deprel == g.Deprel)

		c.predContent += b2i(contentDeprels[pw.deprel])
		if !contentDeprels[gw.deprel] {
			continue
		}
		c.goldContent++
		c.clas += b2i(las)
		c.mlas += b2i(las && upos && feats && sameChildren(gold, pred, ga, pa, j))
		c.blex += b2i(las && lemma)
	}
}

// sameChildren reports whether word j has the same functional children in
// gold and pred: the same words, attached by the same universal relation,
// with the same UPOS and universal features.
func sameChildren(gold, pred []Word, ga, pa []udWord, j int) bool {
	gc, pc := ga[j].children, pa[j].children
	if len(gc) != len(pc) {
		return false
	}
	for k, c := range gc {
		if pc[k] != c || pa[c].deprel != ga[c].deprel || pred[c].UPOS != gold[c].UPOS || pa[c].feats != ga[c].feats {
			return false
		}
	}
	return true
}

// b2i returns 1 for true and 0 for false.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
