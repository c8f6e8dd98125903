package metrics

import (
	"bufio"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// readCoNLLU reads the syntactic words of a CoNLL-U file: comments,
// multiword-token ranges and empty nodes are skipped; HEAD "_" is NoHead.
func readCoNLLU(t *testing.T, path string) [][]Word {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sents [][]Word
	var cur []Word
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		switch {
		case line == "":
			if cur != nil {
				sents = append(sents, cur)
				cur = nil
			}
			continue
		case strings.HasPrefix(line, "#"):
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 10 {
			t.Fatalf("%s:%d: %d columns", path, ln, len(cols))
		}
		if strings.ContainsAny(cols[0], "-.") {
			continue
		}
		head := NoHead
		if cols[6] != "_" {
			if head, err = strconv.Atoi(cols[6]); err != nil {
				t.Fatalf("%s:%d: %v", path, ln, err)
			}
		}
		cur = append(cur, Word{UPOS: cols[3], XPOS: cols[4], Feats: cols[5], Lemma: cols[2], Head: head, Deprel: cols[7]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		sents = append(sents, cur)
	}
	return sents
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// checkScore compares s with the counts want = {correct, gold, system} and
// the conll18_ud_eval.py formulas.
func checkScore(t *testing.T, name string, s Score, want [3]int) {
	t.Helper()
	c, g, sys := want[0], want[1], want[2]
	if s.Correct != c || s.Gold != g || s.System != sys {
		t.Errorf("%s: counts %d/%d/%d, want %d/%d/%d", name, s.Correct, s.Gold, s.System, c, g, sys)
	}
	if !near(s.Precision, ratio(c, sys)) || !near(s.Recall, ratio(c, g)) || !near(s.F1, ratio(2*c, g+sys)) {
		t.Errorf("%s: P/R/F1 %v/%v/%v for counts %v", name, s.Precision, s.Recall, s.F1, want)
	}
}

// TestUDFixture scores testdata/pred.conllu against testdata/gold.conllu
// (3 sentences, 21 words, two multiword tokens, an empty node). The counts
// are hand-computed word by word:
//
//	sentence 1: do UPOS; n't lemma, deprel aux (gold advmod); parks Number;
//	  '.' head and deprel dep; city nmod (gold nmod:poss: LASFull only);
//	  like gains n't as functional child (MLAS); like's Typo=Yes and I's
//	  feature order do not matter.
//	sentence 2: coffee XPOS; and UPOS (so Bill's MLAS); tea head/deprel;
//	  '.' no head, deprel dep; Sue nsubj:pass (LASFull only).
//	sentence 3: el head 1 (so Vamos gains and parque loses a functional
//	  child); parque's lemma is right because the gold lemma is "_".
//
// conll18_ud_eval.py's scoring code gave the same counts when this test was
// written; the PyTorch baseline's scorer (oracle_score.json) agrees on UPOS,
// UAS, LAS and las_full.
func TestUDFixture(t *testing.T) {
	gold := readCoNLLU(t, "testdata/gold.conllu")
	pred := readCoNLLU(t, "testdata/pred.conllu")
	s, err := UD(gold, pred)
	if err != nil {
		t.Fatal(err)
	}
	if s.Words != 21 {
		t.Fatalf("Words = %d, want 21", s.Words)
	}
	for _, c := range []struct {
		name string
		s    Score
		want [3]int
	}{
		{"UPOS", s.UPOS, [3]int{19, 21, 21}},
		{"XPOS", s.XPOS, [3]int{20, 21, 21}},
		{"UFeats", s.UFeats, [3]int{20, 21, 21}},
		{"AllTags", s.AllTags, [3]int{17, 21, 21}},
		{"Lemmas", s.Lemmas, [3]int{20, 21, 21}},
		{"UAS", s.UAS, [3]int{17, 21, 21}},
		{"LAS", s.LAS, [3]int{16, 21, 21}},
		{"CLAS", s.CLAS, [3]int{10, 12, 13}},
		{"MLAS", s.MLAS, [3]int{5, 12, 13}},
		{"BLEX", s.BLEX, [3]int{10, 12, 13}},
		{"LASFull", s.LASFull, [3]int{14, 21, 21}},
	} {
		checkScore(t, c.name, c.s, c.want)
	}
	if !near(s.CLAS.F1, 0.8) || !near(s.MLAS.F1, 0.4) {
		t.Errorf("CLAS F1 %v, MLAS F1 %v, want 0.8, 0.4", s.CLAS.F1, s.MLAS.F1)
	}

	raw, err := os.ReadFile("testdata/oracle_score.json")
	if err != nil {
		t.Fatal(err)
	}
	var oracle map[string]float64
	if err := json.Unmarshal(raw, &oracle); err != nil {
		t.Fatal(err)
	}
	if oracle["words"] != float64(s.Words) || !near(oracle["upos"], s.UPOS.F1) || !near(oracle["uas"], s.UAS.F1) ||
		!near(oracle["las"], s.LAS.F1) || !near(oracle["las_full"], s.LASFull.F1) {
		t.Errorf("oracle %s, got words %d upos %v uas %v las %v las_full %v",
			raw, s.Words, s.UPOS.F1, s.UAS.F1, s.LAS.F1, s.LASFull.F1)
	}
}

// TestUDCases checks one rule per case on a sentence "a b" whose gold is
// a(head 2, nsubj) b(root).
func TestUDCases(t *testing.T) {
	gold := []Word{
		{UPOS: "PRON", XPOS: "PRP", Feats: "Number=Sing|Person=3", Lemma: "a", Head: 2, Deprel: "nsubj"},
		{UPOS: "VERB", XPOS: "VBZ", Feats: "_", Lemma: "_", Head: 0, Deprel: "root"},
	}
	for _, c := range []struct {
		name string
		edit func(p []Word) // applied to a copy of gold
		want map[string][3]int
	}{
		{"identical", func([]Word) {}, map[string][3]int{
			"UPOS": {2, 2, 2}, "AllTags": {2, 2, 2}, "LAS": {2, 2, 2}, "CLAS": {2, 2, 2}, "MLAS": {2, 2, 2}, "BLEX": {2, 2, 2}}},
		{"feature order and non-universal features ignored", func(p []Word) {
			p[0].Feats = "Person=3|Number=Sing|Number[psor]=Plur"
			p[1].Feats = "Typo=Yes"
		}, map[string][3]int{"UFeats": {2, 2, 2}, "AllTags": {2, 2, 2}, "MLAS": {2, 2, 2}}},
		{"universal feature value differs", func(p []Word) { p[0].Feats = "Number=Plur|Person=3" },
			map[string][3]int{"UFeats": {1, 2, 2}, "AllTags": {1, 2, 2}, "MLAS": {1, 2, 2}, "CLAS": {2, 2, 2}}},
		{"gold lemma _ accepts any lemma", func(p []Word) { p[1].Lemma = "anything" },
			map[string][3]int{"Lemmas": {2, 2, 2}, "BLEX": {2, 2, 2}}},
		{"predicted lemma _ is wrong", func(p []Word) { p[0].Lemma = "_" },
			map[string][3]int{"Lemmas": {1, 2, 2}, "BLEX": {1, 2, 2}, "CLAS": {2, 2, 2}}},
		{"lemma is case-sensitive", func(p []Word) { p[0].Lemma = "A" },
			map[string][3]int{"Lemmas": {1, 2, 2}}},
		{"XPOS is not part of MLAS", func(p []Word) { p[0].XPOS = "NN" },
			map[string][3]int{"XPOS": {1, 2, 2}, "AllTags": {1, 2, 2}, "MLAS": {2, 2, 2}}},
		{"deprel subtype ignored except by LASFull", func(p []Word) { p[0].Deprel = "nsubj:pass" },
			map[string][3]int{"LAS": {2, 2, 2}, "CLAS": {2, 2, 2}, "LASFull": {1, 2, 2}}},
		{"right label on a wrong head is wrong", func(p []Word) { p[0].Head = 0 },
			map[string][3]int{"UAS": {1, 2, 2}, "LAS": {1, 2, 2}, "CLAS": {1, 2, 2}, "LASFull": {1, 2, 2}}},
		{"NoHead counts as wrong", func(p []Word) { p[1].Head = NoHead },
			map[string][3]int{"UAS": {1, 2, 2}, "LAS": {1, 2, 2}, "BLEX": {1, 2, 2}}},
		{"predicted functional relation leaves the content words", func(p []Word) { p[0].Deprel = "det" },
			// b gains a functional child that gold lacks: MLAS wrong for b too.
			map[string][3]int{"LAS": {1, 2, 2}, "CLAS": {1, 2, 1}, "MLAS": {0, 2, 1}, "BLEX": {1, 2, 1}}},
		{"unknown labels count as wrong", func(p []Word) { p[0].UPOS, p[1].Deprel = "NOT-A-TAG", "zzz" },
			map[string][3]int{"UPOS": {1, 2, 2}, "LAS": {1, 2, 2}, "CLAS": {1, 2, 1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pred := append([]Word(nil), gold...)
			c.edit(pred)
			s, err := UD([][]Word{gold}, [][]Word{pred})
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]Score{"UPOS": s.UPOS, "XPOS": s.XPOS, "UFeats": s.UFeats, "AllTags": s.AllTags,
				"Lemmas": s.Lemmas, "UAS": s.UAS, "LAS": s.LAS, "CLAS": s.CLAS, "MLAS": s.MLAS, "BLEX": s.BLEX, "LASFull": s.LASFull}
			for name, want := range c.want {
				checkScore(t, name, byName[name], want)
			}
		})
	}
}

// TestUDFunctionalChildren checks that MLAS compares the functional
// children of a content word one by one: "the old man" with det and amod
// on "man".
func TestUDFunctionalChildren(t *testing.T) {
	gold := []Word{
		{UPOS: "DET", Feats: "Definite=Def", Head: 3, Deprel: "det"},
		{UPOS: "ADJ", Feats: "Degree=Pos", Head: 3, Deprel: "amod"},
		{UPOS: "NOUN", Feats: "Number=Sing", Head: 0, Deprel: "root"},
	}
	for _, c := range []struct {
		name string
		edit func(p []Word)
		mlas [3]int // content words: old (amod), man (root)
	}{
		{"same", func([]Word) {}, [3]int{2, 2, 2}},
		{"child feature differs", func(p []Word) { p[0].Feats = "Definite=Ind" }, [3]int{1, 2, 2}},
		{"child non-universal feature differs", func(p []Word) { p[0].Feats = "Definite=Def|Style=Arch" }, [3]int{2, 2, 2}},
		{"child relation subtype differs", func(p []Word) { p[0].Deprel = "det:poss" }, [3]int{2, 2, 2}},
		{"child relation differs", func(p []Word) { p[0].Deprel = "case" }, [3]int{1, 2, 2}},
		{"child moves to another word", func(p []Word) { p[0].Head = 2 }, [3]int{0, 2, 2}},
		{"content child does not count as functional", func(p []Word) { p[1].UPOS = "VERB" }, [3]int{1, 2, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pred := append([]Word(nil), gold...)
			c.edit(pred)
			s, err := UD([][]Word{gold}, [][]Word{pred})
			if err != nil {
				t.Fatal(err)
			}
			checkScore(t, "MLAS", s.MLAS, c.mlas)
		})
	}
}

func TestUniversalFeats(t *testing.T) {
	for in, want := range map[string]string{
		"_":                                    "",
		"":                                     "",
		"Number=Sing":                          "Number=Sing",
		"Person=3|Number=Sing":                 "Number=Sing|Person=3",
		"Number[psor]=Sing|Poss=Yes":           "Poss=Yes",
		"ExtPos=ADP|NounClass=Bantu1|Typo=Yes": "",
		"PronType=Int,Rel|Case=Acc":            "Case=Acc|PronType=Int,Rel",
		"Case":                                 "Case",
	} {
		if got := universalFeats(in); got != want {
			t.Errorf("universalFeats(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUDNoContentWords checks that metrics with nothing to count are 0.
func TestUDNoContentWords(t *testing.T) {
	s := []Word{{UPOS: "PUNCT", Head: 0, Deprel: "punct"}}
	got, err := UD([][]Word{s, {}}, [][]Word{s, {}})
	if err != nil {
		t.Fatal(err)
	}
	checkScore(t, "CLAS", got.CLAS, [3]int{0, 0, 0})
	checkScore(t, "UPOS", got.UPOS, [3]int{1, 1, 1})
}

func TestUDErrors(t *testing.T) {
	w := func(head int) []Word { return []Word{{Head: head}, {Head: 0}} }
	for _, c := range []struct {
		name       string
		gold, pred [][]Word
		is         error  // wrapped sentinel, or nil
		msg        string // part of the message
	}{
		{"no sentences", nil, nil, ErrEmpty, "no words"},
		{"only empty sentences", [][]Word{{}}, [][]Word{{}}, ErrEmpty, "no words in 1 sentences"},
		{"sentence count", [][]Word{w(2)}, nil, ErrShape, "1 gold sentences, 0 predicted"},
		{"sentence length", [][]Word{w(2), w(2)}, [][]Word{w(2), w(2)[:1]}, ErrShape, "sentence 1: 2 gold words, 1 predicted"},
		{"gold head too large", [][]Word{w(3)}, [][]Word{w(2)}, nil, "gold[0][0]: HEAD 3 outside a sentence of 2 words"},
		{"gold NoHead", [][]Word{w(NoHead)}, [][]Word{w(2)}, nil, "gold[0][0]: HEAD -1"},
		{"pred head negative", [][]Word{w(2)}, [][]Word{w(-2)}, nil, "pred[0][0]: HEAD -2"},
		{"pred head too large", [][]Word{w(2)}, [][]Word{w(9)}, nil, "pred[0][0]: HEAD 9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := UD(c.gold, c.pred)
			if err == nil {
				t.Fatal("no error")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%v is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
		})
	}
}
