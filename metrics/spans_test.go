package metrics

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// tags splits a space-separated tag sequence.
func tags(s string) []string { return strings.Fields(s) }

// TestEntities checks span extraction against seqeval 1.2.2's
// get_entities (default mode) and Tokens.entities (strict mode); spans are
// [start, end).
func TestEntities(t *testing.T) {
	for _, c := range []struct {
		tags            string
		scheme          Scheme
		lenient, strict []span
	}{
		{"", IOB2, nil, nil},
		{"O O", IOB2, nil, nil},
		{"B-PER I-PER O B-LOC", IOB2,
			[]span{{"PER", 0, 2}, {"LOC", 3, 4}},
			[]span{{"PER", 0, 2}, {"LOC", 3, 4}}},
		// A type switch inside a chunk starts a new one; strict drops the stray I-LOC chunk.
		{"B-PER I-LOC I-LOC O B-PER B-PER", IOB2,
			[]span{{"PER", 0, 1}, {"LOC", 1, 3}, {"PER", 4, 5}, {"PER", 5, 6}},
			[]span{{"PER", 0, 1}, {"PER", 4, 5}, {"PER", 5, 6}}},
		// IOB1 input: the lenient reading is conlleval's.
		{"I-PER I-PER B-PER O", IOB2,
			[]span{{"PER", 0, 2}, {"PER", 2, 3}},
			[]span{{"PER", 2, 3}}},
		{"O I-MISC I-MISC", IOB2, []span{{"MISC", 1, 3}}, nil},
		{"B-PER E-PER S-LOC B-ORG I-ORG O I-MISC E-MISC E-MISC", IOBES,
			[]span{{"PER", 0, 2}, {"LOC", 2, 3}, {"ORG", 3, 5}, {"MISC", 6, 8}, {"MISC", 8, 9}},
			[]span{{"PER", 0, 2}, {"LOC", 2, 3}}},
		{"B-X E-X E-X B-X S-X I-X E-X B-X I-Y E-Y", IOBES,
			[]span{{"X", 0, 2}, {"X", 2, 3}, {"X", 3, 4}, {"X", 4, 5}, {"X", 5, 7}, {"X", 7, 8}, {"Y", 8, 10}},
			[]span{{"X", 0, 2}, {"X", 4, 5}}},
		{"B-X I-X I-X E-X S-X", IOBES,
			[]span{{"X", 0, 4}, {"X", 4, 5}},
			[]span{{"X", 0, 4}, {"X", 4, 5}}},
		// Bare prefixes and an empty type have type "_"; a type may contain "-".
		{"B I O S B-", IOBES, []span{{"_", 0, 2}, {"_", 3, 4}, {"_", 4, 5}}, []span{{"_", 3, 4}}},
		{"B-ART-NAME I-ART-NAME", IOB2, []span{{"ART-NAME", 0, 2}}, []span{{"ART-NAME", 0, 2}}},
	} {
		for _, strict := range []bool{false, true} {
			want := c.lenient
			if strict {
				want = c.strict
			}
			got, err := entities("gold", 0, tags(c.tags), c.scheme, strict)
			if err != nil {
				t.Fatalf("%q %v strict=%v: %v", c.tags, c.scheme, strict, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%q %v strict=%v: %v, want %v", c.tags, c.scheme, strict, got, want)
			}
		}
	}
}

// TestSpans checks whole scores, hand-computed.
func TestSpans(t *testing.T) {
	type prf struct {
		p, r, f    float64
		tp, fp, fn int
	}
	for _, c := range []struct {
		name       string
		gold, pred []string // sentences, tags space-separated
		scheme     Scheme
		strict     bool
		micro      prf
		perType    map[string]prf
	}{
		{
			// seqeval's README: MISC is off by one token, PER is right.
			name:    "seqeval README",
			gold:    []string{"O O O B-MISC I-MISC I-MISC O", "B-PER I-PER O"},
			pred:    []string{"O O B-MISC I-MISC I-MISC I-MISC O", "B-PER I-PER O"},
			scheme:  IOB2,
			micro:   prf{0.5, 0.5, 0.5, 1, 1, 1},
			perType: map[string]prf{"MISC": {0, 0, 0, 0, 1, 1}, "PER": {1, 1, 1, 1, 0, 0}},
		},
		{
			name: "seqeval README, strict", gold: []string{"O O O B-MISC I-MISC I-MISC O", "B-PER I-PER O"},
			pred:    []string{"O O B-MISC I-MISC I-MISC I-MISC O", "B-PER I-PER O"},
			scheme:  IOB2,
			strict:  true,
			micro:   prf{0.5, 0.5, 0.5, 1, 1, 1},
			perType: map[string]prf{"MISC": {0, 0, 0, 0, 1, 1}, "PER": {1, 1, 1, 1, 0, 0}},
		},
		{
			// The PyTorch baseline's self-test: the stray I-ORG is an entity
			// only in the lenient reading. Lenient: 2 of 3 right.
			name:    "stray I lenient",
			gold:    []string{"B-PER I-PER O B-LOC O B-ORG"},
			pred:    []string{"B-PER I-PER O B-ORG O I-ORG"},
			scheme:  IOB2,
			micro:   prf{2.0 / 3, 2.0 / 3, 2.0 / 3, 2, 1, 1},
			perType: map[string]prf{"PER": {1, 1, 1, 1, 0, 0}, "LOC": {0, 0, 0, 0, 0, 1}, "ORG": {0.5, 1, 2.0 / 3, 1, 1, 0}},
		},
		{
			// Strict: P 1/2, R 1/3, F1 0.4.
			name:    "stray I strict",
			gold:    []string{"B-PER I-PER O B-LOC O B-ORG"},
			pred:    []string{"B-PER I-PER O B-ORG O I-ORG"},
			scheme:  IOB2,
			strict:  true,
			micro:   prf{0.5, 1.0 / 3, 0.4, 1, 1, 2},
			perType: map[string]prf{"PER": {1, 1, 1, 1, 0, 0}, "LOC": {0, 0, 0, 0, 0, 1}, "ORG": {0, 0, 0, 0, 1, 1}},
		},
		{
			// Gold: PER(0,2) LOC(3,4) | ORG(0,3). Pred: PER(0,2) right; B-LOC
			// without E-LOC is ill-formed (a LOC(3,4) chunk when lenient);
			// ORG(0,2) wrong end; S-ORG(2,3) wrong.
			name:    "IOBES lenient",
			gold:    []string{"B-PER E-PER O S-LOC", "B-ORG I-ORG E-ORG"},
			pred:    []string{"B-PER E-PER O B-LOC", "B-ORG E-ORG S-ORG"},
			scheme:  IOBES,
			micro:   prf{0.5, 2.0 / 3, 4.0 / 7, 2, 2, 1},
			perType: map[string]prf{"PER": {1, 1, 1, 1, 0, 0}, "LOC": {1, 1, 1, 1, 0, 0}, "ORG": {0, 0, 0, 0, 2, 1}},
		},
		{
			name:    "IOBES strict",
			gold:    []string{"B-PER E-PER O S-LOC", "B-ORG I-ORG E-ORG"},
			pred:    []string{"B-PER E-PER O B-LOC", "B-ORG E-ORG S-ORG"},
			scheme:  IOBES,
			strict:  true,
			micro:   prf{1.0 / 3, 1.0 / 3, 1.0 / 3, 1, 2, 2},
			perType: map[string]prf{"PER": {1, 1, 1, 1, 0, 0}, "LOC": {0, 0, 0, 0, 0, 1}, "ORG": {0, 0, 0, 0, 2, 1}},
		},
		{
			// Same span in another sentence is not a match; a type unknown to
			// gold is a false positive.
			name:    "sentence and type matter",
			gold:    []string{"B-PER O", "O O"},
			pred:    []string{"O O", "B-PER O"},
			scheme:  IOB2,
			micro:   prf{0, 0, 0, 0, 1, 1},
			perType: map[string]prf{"PER": {0, 0, 0, 0, 1, 1}},
		},
		{
			name:    "unknown type",
			gold:    []string{"B-PER O"},
			pred:    []string{"B-FOO O"},
			scheme:  IOB2,
			micro:   prf{0, 0, 0, 0, 1, 1},
			perType: map[string]prf{"PER": {0, 0, 0, 0, 0, 1}, "FOO": {0, 0, 0, 0, 1, 0}},
		},
		{
			name:    "no entities anywhere",
			gold:    []string{"O O"},
			pred:    []string{"O O"},
			scheme:  IOB2,
			micro:   prf{0, 0, 0, 0, 0, 0},
			perType: map[string]prf{},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			split := func(ss []string) [][]string {
				out := make([][]string, len(ss))
				for i, s := range ss {
					out[i] = tags(s)
				}
				return out
			}
			s, err := Spans(split(c.gold), split(c.pred), c.scheme, c.strict)
			if err != nil {
				t.Fatal(err)
			}
			check := func(name string, got PRF, want prf) {
				t.Helper()
				if !near(got.Precision, want.p) || !near(got.Recall, want.r) || !near(got.F1, want.f) ||
					got.TP != want.tp || got.FP != want.fp || got.FN != want.fn || got.Support != want.tp+want.fn {
					t.Errorf("%s: %+v, want %+v", name, got, want)
				}
			}
			check("micro", s.PRF, c.micro)
			if len(s.PerType) != len(c.perType) {
				t.Errorf("types %v, want %v", s.PerType, c.perType)
			}
			for typ, want := range c.perType {
				check(typ, s.PerType[typ], want)
			}
		})
	}
}

func TestSpansErrors(t *testing.T) {
	one := [][]string{{"B-PER", "O"}}
	for _, c := range []struct {
		name       string
		gold, pred [][]string
		scheme     Scheme
		is         error
		msg        string
	}{
		{"no sentences", nil, nil, IOB2, ErrEmpty, "no tokens in 0 sentences"},
		{"only empty sentences", [][]string{{}}, [][]string{{}}, IOB2, ErrEmpty, "no tokens in 1 sentences"},
		{"unknown scheme", one, one, Scheme(0), nil, "unknown tagging scheme Scheme(0)"},
		{"sentence count", one, nil, IOB2, ErrShape, "1 gold sentences, 0 predicted"},
		{"sentence length", [][]string{{"O"}, {"O", "O"}}, [][]string{{"O"}, {"O"}}, IOB2, ErrShape, "sentence 1: 2 gold tags, 1 predicted"},
		{"IOBES tag in IOB2", one, [][]string{{"S-PER", "O"}}, IOB2, nil, `pred[0][0]: tag "S-PER" is not an IOB2 tag`},
		{"E tag in IOB2 gold", [][]string{{"O", "E-PER"}}, one, IOB2, nil, `gold[0][1]: tag "E-PER" is not an IOB2 tag`},
		{"empty tag", one, [][]string{{"B-PER", ""}}, IOBES, nil, `pred[0][1]: tag "" is not an IOBES tag`},
		{"no dash", one, [][]string{{"BPER", "O"}}, IOB2, nil, `tag "BPER"`},
		{"O with a type", one, [][]string{{"O-PER", "O"}}, IOB2, nil, `tag "O-PER"`},
		{"lower case", one, [][]string{{"b-PER", "O"}}, IOB2, nil, `tag "b-PER"`},
		{"unknown prefix", one, [][]string{{"U-PER", "O"}}, IOBES, nil, `tag "U-PER"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				_, err := Spans(c.gold, c.pred, c.scheme, strict)
				if err == nil {
					t.Fatal("no error")
				}
				if c.is != nil && !errors.Is(err, c.is) {
					t.Errorf("%v is not %v", err, c.is)
				}
				if !strings.Contains(err.Error(), c.msg) {
					t.Errorf("error %q does not contain %q", err, c.msg)
				}
			}
		})
	}
}

func TestSchemeString(t *testing.T) {
	for s, want := range map[Scheme]string{IOB2: "IOB2", IOBES: "IOBES", Scheme(7): "Scheme(7)"} {
		if got := s.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

// FuzzSpans feeds arbitrary tag sequences to Spans: it must not panic, and
// on well-formed input a prediction equal to gold scores 1 (or 0 without
// entities), strict entities are a subset of the lenient ones, and the
// counts add up.
func FuzzSpans(f *testing.F) {
	f.Add([]byte("B-X I-X O S-Y E-Y"), []byte("I-X I-X O B-Y E-Y"), true)
	f.Add([]byte("B I O"), []byte("O B- I"), false)
	f.Fuzz(func(t *testing.T, g, p []byte, iobes bool) {
		scheme := IOB2
		if iobes {
			scheme = IOBES
		}
		gold, pred := strings.Fields(string(g)), strings.Fields(string(p))
		s, err := Spans([][]string{gold}, [][]string{pred}, scheme, false)
		if err != nil {
			return
		}
		if s.TP+s.FN != s.Support || s.Precision < 0 || s.Precision > 1 || s.Recall < 0 || s.Recall > 1 || s.F1 < 0 || s.F1 > 1 {
			t.Fatalf("bad scores %+v", s.PRF)
		}
		for _, strict := range []bool{false, true} {
			self, err := Spans([][]string{gold}, [][]string{gold}, scheme, strict)
			if err != nil {
				t.Fatal(err)
			}
			if want := b2i(self.Support > 0); self.F1 != float64(want) || self.FP != 0 || self.FN != 0 {
				t.Fatalf("gold against itself (strict=%v): %+v", strict, self.PRF)
			}
		}
		lenient, _ := entities("gold", 0, gold, scheme, false)
		strict, _ := entities("gold", 0, gold, scheme, true)
		isLenient := make(map[span]bool)
		for _, e := range lenient {
			isLenient[e] = true
		}
		for _, e := range strict {
			if !isLenient[e] {
				t.Fatalf("strict entity %v not among the lenient ones %v", e, lenient)
			}
		}
	})
}
