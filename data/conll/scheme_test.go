package conll

import (
	"errors"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// sp builds a Span.
func sp(typ string, start, end int) Span { return Span{typ, start, end} }

// split turns "B-PER I-PER O" into tags.
func split(s string) []string { return strings.Fields(s) }

// TestSpansStrict checks Spans against the expectations of seqeval's own
// tests of its strict mode (tests/test_scheme.py), plus longer cases.
func TestSpansStrict(t *testing.T) {
	tests := []struct {
		scheme Scheme
		tags   string
		want   []Span
	}{
		{IOB1, "", nil},
		{IOB1, "B-PER", nil},
		{IOB1, "I-PER", []Span{sp("PER", 0, 1)}},
		{IOB1, "O I-PER", []Span{sp("PER", 1, 2)}},
		{IOB1, "O B-PER", nil},
		{IOB1, "I-PER I-PER", []Span{sp("PER", 0, 2)}},
		{IOB1, "I-PER I-ORG", []Span{sp("PER", 0, 1), sp("ORG", 1, 2)}},
		{IOB1, "I-PER B-PER", []Span{sp("PER", 0, 1), sp("PER", 1, 2)}},
		{IOB1, "I-PER B-ORG", []Span{sp("PER", 0, 1)}},
		{IOB1, "B-PER O", nil},
		{IOB1, "B-PER I-PER", []Span{sp("PER", 1, 2)}},
		{IOB1, "B-PER I-ORG", []Span{sp("ORG", 1, 2)}},
		{IOB1, "B-PER B-PER", []Span{sp("PER", 1, 2)}},
		{IOB1, "B-PER B-ORG", nil},

		{IOB2, "", nil},
		{IOB2, "B-PER", []Span{sp("PER", 0, 1)}},
		{IOB2, "I-PER", nil},
		{IOB2, "O I-PER", nil},
		{IOB2, "O B-PER", []Span{sp("PER", 1, 2)}},
		{IOB2, "I-PER I-PER", nil},
		{IOB2, "I-PER B-PER", []Span{sp("PER", 1, 2)}},
		{IOB2, "I-PER B-ORG", []Span{sp("ORG", 1, 2)}},
		{IOB2, "B-PER O", []Span{sp("PER", 0, 1)}},
		{IOB2, "B-PER I-PER", []Span{sp("PER", 0, 2)}},
		{IOB2, "B-PER I-ORG", []Span{sp("PER", 0, 1)}},
		{IOB2, "B-PER B-PER", []Span{sp("PER", 0, 1), sp("PER", 1, 2)}},
		{IOB2, "B-PER B-ORG", []Span{sp("PER", 0, 1), sp("ORG", 1, 2)}},
		{IOB2, "B-PER I-PER I-PER O B-LOC I-ORG I-ORG B-ORG", []Span{sp("PER", 0, 3), sp("LOC", 4, 5), sp("ORG", 7, 8)}},

		{IOBES, "O", nil},
		{IOBES, "I-PER", nil},
		{IOBES, "B-PER", nil},
		{IOBES, "E-PER", nil},
		{IOBES, "S-PER", []Span{sp("PER", 0, 1)}},
		{IOBES, "O S-PER", []Span{sp("PER", 1, 2)}},
		{IOBES, "I-PER E-PER", nil},
		{IOBES, "I-PER S-PER", []Span{sp("PER", 1, 2)}},
		{IOBES, "B-PER I-PER", nil},
		{IOBES, "B-PER B-PER", nil},
		{IOBES, "B-PER E-PER", []Span{sp("PER", 0, 2)}},
		{IOBES, "B-PER E-ORG", nil},
		{IOBES, "B-PER S-PER", []Span{sp("PER", 1, 2)}},
		{IOBES, "E-PER S-PER", []Span{sp("PER", 1, 2)}},
		{IOBES, "S-PER I-PER", []Span{sp("PER", 0, 1)}},
		{IOBES, "S-PER E-PER", []Span{sp("PER", 0, 1)}},
		{IOBES, "S-PER S-PER", []Span{sp("PER", 0, 1), sp("PER", 1, 2)}},
		{IOBES, "B-PER I-PER I-PER E-PER O B-LOC I-LOC", []Span{sp("PER", 0, 4)}},

		{BILOU, "U-PER", []Span{sp("PER", 0, 1)}},
		{BILOU, "B-PER L-PER O B-LOC I-LOC L-LOC", []Span{sp("PER", 0, 2), sp("LOC", 3, 6)}},
		{BILOU, "B-PER I-PER", nil},
	}
	for _, tt := range tests {
		got, err := Spans(split(tt.tags), tt.scheme)
		if err != nil {
			t.Errorf("Spans(%q, %v): %v", tt.tags, tt.scheme, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Spans(%q, %v) = %v, want %v", tt.tags, tt.scheme, got, tt.want)
		}
	}
}

func TestSpansLenient(t *testing.T) {
	tests := []struct {
		tags string
		want []Span
	}{
		{"", nil},
		{"O O", nil},
		{"B-PER I-PER O", []Span{sp("PER", 0, 2)}},
		{"O I-PER I-PER", []Span{sp("PER", 1, 3)}},
		{"I-PER", []Span{sp("PER", 0, 1)}},
		{"B-PER I-LOC", []Span{sp("PER", 0, 1), sp("LOC", 1, 2)}},
		{"I-PER I-LOC", []Span{sp("PER", 0, 1), sp("LOC", 1, 2)}},
		{"I-PER B-PER", []Span{sp("PER", 0, 1), sp("PER", 1, 2)}},
		{"B-PER B-PER", []Span{sp("PER", 0, 1), sp("PER", 1, 2)}},
		{"B-PER E-PER S-LOC", []Span{sp("PER", 0, 2), sp("LOC", 2, 3)}},
		{"E-PER E-PER", []Span{sp("PER", 0, 1), sp("PER", 1, 2)}},
		{"S-PER I-PER", []Span{sp("PER", 0, 1), sp("PER", 1, 2)}},
		{"B-PER I-PER", []Span{sp("PER", 0, 2)}},
		{"B-PER L-PER U-LOC", []Span{sp("PER", 0, 2), sp("LOC", 2, 3)}},
	}
	for _, tt := range tests {
		got, err := SpansLenient(split(tt.tags))
		if err != nil {
			t.Errorf("SpansLenient(%q): %v", tt.tags, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SpansLenient(%q) = %v, want %v", tt.tags, got, tt.want)
		}
	}
}

func TestMalformedTags(t *testing.T) {
	tests := []struct {
		scheme Scheme
		tags   string
		index  int
	}{
		{IOB2, "O PER", 1},
		{IOB2, "B-", 0},
		{IOB2, "B_PER", 0},
		{IOB2, "O-PER", 0},
		{IOB2, "S-PER", 0},
		{IOB1, "O E-PER", 1},
		{IOBES, "L-PER", 0},
		{BILOU, "O E-PER", 1},
	}
	for _, tt := range tests {
		for name, call := range map[string]func() error{
			"Spans":    func() error { _, err := Spans(split(tt.tags), tt.scheme); return err },
			"Validate": func() error { return Validate(split(tt.tags), tt.scheme) },
			"Convert":  func() error { _, err := Convert(split(tt.tags), tt.scheme, IOB2); return err },
		} {
			var te *TagError
			if err := call(); !errors.As(err, &te) || te.Index != tt.index {
				t.Errorf("%s(%q, %v) = %v, want a TagError at %d", name, tt.tags, tt.scheme, err, tt.index)
			}
		}
	}
	if _, err := SpansLenient(split("B-PER X-PER")); err == nil {
		t.Error("SpansLenient accepted X-PER")
	}
	if _, err := Spans(nil, Scheme(9)); err == nil {
		t.Error("Spans accepted an unknown scheme")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		scheme Scheme
		tags   string
		bad    int    // index of the first bad tag, -1 if valid
		reason string // part of the error
	}{
		{IOB2, "B-PER I-PER O B-LOC B-LOC I-LOC", -1, ""},
		{IOB2, "I-PER", 0, "must follow B-PER or I-PER (it is the first tag)"},
		{IOB2, "O I-PER", 1, "(it follows O)"},
		{IOB2, "B-LOC I-PER", 1, "must follow B-PER or I-PER (it follows B-LOC)"},
		{IOB1, "I-PER I-PER B-PER I-LOC O I-LOC", -1, ""},
		{IOB1, "O B-PER", 1, "must follow I-PER or B-PER"},
		{IOB1, "I-LOC B-PER", 1, "must follow I-PER or B-PER"},
		{IOBES, "S-PER B-LOC I-LOC E-LOC O B-PER E-PER S-PER", -1, ""},
		{IOBES, "B-PER O", 1, "a span must end with E-PER or S-PER before it"},
		{IOBES, "B-PER S-PER", 1, "a span must end with E-PER or S-PER"},
		{IOBES, "O E-PER", 1, "must follow B-PER or I-PER"},
		{IOBES, "B-PER E-LOC", 1, "must follow B-LOC or I-LOC"},
		{IOBES, "B-PER I-PER", 1, "not at the end of the sentence"},
		{BILOU, "U-PER B-LOC L-LOC", -1, ""},
		{BILOU, "B-PER", 0, "must end with L-PER or U-PER, not at the end"},
	}
	for _, tt := range tests {
		err := Validate(split(tt.tags), tt.scheme)
		if tt.bad < 0 {
			if err != nil {
				t.Errorf("Validate(%q, %v) = %v", tt.tags, tt.scheme, err)
			}
			continue
		}
		var te *TagError
		if !errors.As(err, &te) || te.Index != tt.bad || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("Validate(%q, %v) = %v, want a TagError at %d containing %q", tt.tags, tt.scheme, err, tt.bad, tt.reason)
		}
	}
}

func TestConvert(t *testing.T) {
	// The same spans in every scheme: PER(0,2), PER(2,3), LOC(4,5), ORG(5,8).
	forms := map[Scheme]string{
		IOB1:  "I-PER I-PER B-PER O I-LOC I-ORG I-ORG I-ORG",
		IOB2:  "B-PER I-PER B-PER O B-LOC B-ORG I-ORG I-ORG",
		IOBES: "B-PER E-PER S-PER O S-LOC B-ORG I-ORG E-ORG",
		BILOU: "B-PER L-PER U-PER O U-LOC B-ORG I-ORG L-ORG",
	}
	for from, in := range forms {
		for to, want := range forms {
			got, err := Convert(split(in), from, to)
			if err != nil {
				t.Errorf("Convert(%v -> %v): %v", from, to, err)
				continue
			}
			if strings.Join(got, " ") != want {
				t.Errorf("Convert(%q, %v, %v) = %q, want %q", in, from, to, got, want)
			}
		}
	}
	if _, err := Convert(split("O I-PER"), IOB2, IOBES); err == nil {
		t.Error("Convert accepted an invalid IOB2 sequence")
	}
	if _, err := Convert(nil, IOB2, 0); err == nil {
		t.Error("Convert accepted scheme 0")
	}
}

// TestSchemesRandom checks, on random spans written in every scheme, that
// the tags are valid, that strict and lenient reading both give the spans
// back, and that conversion to IOB2 gives the IOB2 form.
func TestSchemesRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	types := []string{"PER", "LOC", "creative-work"}
	for n := 0; n < 500; n++ {
		length := rng.Intn(12)
		var spans []Span
		iob2 := make([]string, length)
		for i := 0; i < length; {
			if rng.Intn(3) == 0 {
				iob2[i] = "O"
				i++
				continue
			}
			end := min(length, i+1+rng.Intn(3))
			typ := types[rng.Intn(len(types))]
			spans = append(spans, Span{typ, i, end})
			iob2[i] = "B-" + typ
			for j := i + 1; j < end; j++ {
				iob2[j] = "I-" + typ
			}
			i = end
		}
		for _, s := range []Scheme{IOB1, IOB2, IOBES, BILOU} {
			tags, err := Convert(iob2, IOB2, s)
			if err != nil {
				t.Fatalf("Convert(%q, IOB2, %v): %v", iob2, s, err)
			}
			if err := Validate(tags, s); err != nil {
				t.Errorf("Validate(%q, %v): %v", tags, s, err)
			}
			strict, err1 := Spans(tags, s)
			lenient, err2 := SpansLenient(tags)
			if err1 != nil || err2 != nil || !reflect.DeepEqual(strict, spans) || !reflect.DeepEqual(lenient, spans) {
				t.Errorf("%v %q: Spans = %v, %v; SpansLenient = %v, %v; want %v", s, tags, strict, err1, lenient, err2, spans)
			}
			back, err := Convert(tags, s, IOB2)
			if err != nil || !reflect.DeepEqual(back, iob2) {
				t.Errorf("Convert(%q, %v, IOB2) = %q, %v; want %q", tags, s, back, err, iob2)
			}
		}
	}
}

// TestSpansArbitrary checks that on any well-formed tags, valid or not,
// Spans and SpansLenient give ordered, non-overlapping spans inside the
// sequence.
func TestSpansArbitrary(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	vocab := []string{"O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B"}
	for n := 0; n < 2000; n++ {
		tags := make([]string, rng.Intn(10))
		for i := range tags {
			tags[i] = vocab[rng.Intn(len(vocab))]
		}
		check := func(name string, spans []Span, err error) {
			if err != nil {
				t.Fatalf("%s(%q): %v", name, tags, err)
			}
			prevEnd := 0
			for _, s := range spans {
				if s.Start < prevEnd || s.End <= s.Start || s.End > len(tags) {
					t.Fatalf("%s(%q) = %v: bad span %v", name, tags, spans, s)
				}
				prevEnd = s.End
			}
		}
		spans, err := SpansLenient(tags)
		check("SpansLenient", spans, err)
		spans, err = Spans(tags, IOBES)
		check("Spans", spans, err)
	}
}

func TestParseScheme(t *testing.T) {
	for name, want := range map[string]Scheme{"iob1": IOB1, "IOB2": IOB2, "bio": IOB2, "IOBES": IOBES, "BIOES": IOBES, "bilou": BILOU} {
		if got, err := ParseScheme(name); err != nil || got != want {
			t.Errorf("ParseScheme(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := ParseScheme("IOE2"); err == nil {
		t.Error("ParseScheme accepted IOE2")
	}
	if IOBES.String() != "IOBES" || Scheme(7).String() != "Scheme(7)" {
		t.Errorf("String() = %q, %q", IOBES.String(), Scheme(7).String())
	}
}

// TestRepair checks that Repair leaves tags that follow a scheme as they
// are and rewrites the others with conlleval's spans.
func TestRepair(t *testing.T) {
	for _, c := range []struct {
		s         Scheme
		tags, out string
	}{
		{IOB2, "B-PER I-PER O B-LOC", "B-PER I-PER O B-LOC"},
		{IOB2, "O I-PER I-PER O I-LOC B-LOC", "O B-PER I-PER O B-LOC B-LOC"},
		{IOB1, "I-PER I-PER B-PER O", "I-PER I-PER B-PER O"},
		{IOBES, "B-PER E-PER S-LOC O", "B-PER E-PER S-LOC O"},
		{IOBES, "I-PER I-PER O B-LOC", "B-PER E-PER O S-LOC"},
	} {
		got, err := Repair(split(c.tags), c.s)
		if err != nil || strings.Join(got, " ") != c.out {
			t.Errorf("Repair(%q, %v) = %q, %v; want %q", c.tags, c.s, strings.Join(got, " "), err, c.out)
		}
		if err := Validate(got, c.s); err != nil {
			t.Errorf("Repair(%q, %v) does not follow the scheme: %v", c.tags, c.s, err)
		}
	}
	if _, err := Repair([]string{"X-PER"}, IOB2); err == nil {
		t.Error("a malformed tag was repaired")
	}
}
