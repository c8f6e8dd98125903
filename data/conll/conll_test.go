package conll

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := "-DOCSTART- -X- -X- O\n" +
		"\n" +
		"EU NNP B-NP B-ORG\n" +
		"rejects VBZ B-VP O\n" +
		"German JJ B-NP B-MISC\n" +
		"\n" +
		" \t \n" + // whitespace only: blank
		"Peter NNP B-NP B-PER\n" +
		"-DOCSTART- -X- -X- O\n" +
		"Blackburn NNP B-NP B-PER"
	sents, err := Read(strings.NewReader(in), "x", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Sentence{
		{Words: []string{"EU", "rejects", "German"}, Tags: []string{"B-ORG", "O", "B-MISC"}, Line: 3},
		{Words: []string{"Peter"}, Tags: []string{"B-PER"}, Line: 8},
		{Words: []string{"Blackburn"}, Tags: []string{"B-PER"}, Line: 10},
	}
	if !reflect.DeepEqual(sents, want) {
		t.Errorf("Read =\n%+v\nwant\n%+v", sents, want)
	}

	sents, err = Read(strings.NewReader(in), "x", Options{TagColumn: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := sents[0].Tags; !reflect.DeepEqual(got, []string{"B-NP", "B-VP", "B-NP"}) {
		t.Errorf("TagColumn 3: tags %q", got)
	}
	sents, err = Read(strings.NewReader(in), "x", Options{TokenColumn: 2, TagColumn: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := sents[0]; !reflect.DeepEqual(got.Words, []string{"NNP", "VBZ", "JJ"}) || got.Tags[0] != "EU" {
		t.Errorf("TokenColumn 2, TagColumn 1: %+v", got)
	}
}

func TestReadOptions(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		opt   Options
		words []string
	}{
		{"prefix", "en:New\tB-LOC\nen:York\tI-LOC\n", Options{TokenPrefix: "en:"}, []string{"New", "York"}},
		{"prefix kept without the option", "en:New\tB-LOC\n", Options{}, []string{"en:New"}},
		{"bom stripped", "\uFEFFDubbz\uFEFF\tB-person\n\uFEFF\n", Options{StripBOM: true}, []string{"Dubbz"}},
		{"bom kept", "Dubbz\uFEFF\tB-person\n", Options{}, []string{"Dubbz\uFEFF"}},
		{"bom starting the file dropped", "\uFEFFDubbz\tB-person\n", Options{}, []string{"Dubbz"}},
		{"crlf", "a\tO\r\nb\tO\r\n\r\n", Options{}, []string{"a", "b"}},
		{"spaces in a tab line", "New York\tB-LOC\n", Options{}, []string{"New York"}},
		{"runs of spaces", "  a   O\n", Options{}, []string{"a"}},
	}
	for _, tt := range tests {
		sents, err := Read(strings.NewReader(tt.in), "x", tt.opt)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(sents) != 1 || !reflect.DeepEqual(sents[0].Words, tt.words) {
			t.Errorf("%s: read %+v, want words %q", tt.name, sents, tt.words)
		}
	}
	for _, in := range []string{"", "\n\n", " \t\n"} {
		if sents, err := Read(strings.NewReader(in), "x", Options{}); err != nil || len(sents) != 0 {
			t.Errorf("Read(%q) = %v, %v; want no sentences", in, sents, err)
		}
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opt  Options
		want string
	}{
		{"one column", "a\tO\nb\n", Options{}, "x:2: 1 column, want a token and a tag"},
		{"empty tag", "a\tO\nb\t\n", Options{}, "x:2: empty tag in column 2"},
		{"blank tag", "a\tO\nb\t  \n", Options{}, "x:2: empty tag"},
		{"empty token", "\tO\n", Options{}, "x:1: empty token in column 1"},
		{"column count", "a\tB\tO\nb\tO\n", Options{}, "x:2: 2 columns, but the first line has 3"},
		{"too few columns", "a\tO\n", Options{TagColumn: 3}, "x:1: 2 columns, too few for token column 1 and tag column 3"},
		{"same column", "a\tO\n", Options{TokenColumn: 2}, "x:1: token and tag are both column 2"},
		{"missing prefix", "en:a\tO\nb\tO\n", Options{TokenPrefix: "en:"}, `x:2: token "b" does not start with "en:"`},
		{"only the prefix", "en:\tO\n", Options{TokenPrefix: "en:"}, "x:1: empty token"},
		{"bom line", "a\tO\n\uFEFF\n", Options{}, "x:2: 1 column"},
		{"invalid utf8", "a\tO\nb\xfe\tO\n", Options{}, "x:2: invalid UTF-8 at byte 2"},
		{"stray cr", "a\r\tO\n", Options{}, "x:1: carriage return"},
		{"invalid transition", "a\tO\nb\tI-PER\n", Options{Scheme: IOB2}, `x:2: tag "I-PER": must follow B-PER or I-PER (it follows O)`},
		{"transition in 2nd sentence", "a\tB-PER\n\nb\tO\nc\tO\nd\tI-PER\n", Options{Scheme: IOB2}, `x:5: tag "I-PER"`},
		{"unended span", "a\tB-PER\nb\tI-PER\n\n", Options{Scheme: IOBES}, `x:2: tag "I-PER": a span must end with E-PER or S-PER`},
		{"malformed tag", "a\tPER\n", Options{Scheme: IOB2}, `x:1: tag "PER": want O or P-TYPE with P one of B, I`},
		{"bad columns", "a\tO\n", Options{TagColumn: 1}, "bad columns"},
		{"negative column", "a\tO\n", Options{TokenColumn: -1}, "bad columns"},
		{"bad scheme", "a\tO\n", Options{Scheme: 9}, "unknown Scheme(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sents, err := Read(strings.NewReader(tt.in), "x", tt.opt)
			if err == nil {
				t.Fatalf("no error; read %+v", sents)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	sents := []Sentence{
		{Words: []string{"New York", "is"}, Tags: []string{"B-LOC", "O"}},
		{Words: []string{"Hi"}, Tags: []string{"O"}},
	}
	var buf bytes.Buffer
	if err := Write(&buf, sents); err != nil {
		t.Fatal(err)
	}
	if want := "New York\tB-LOC\nis\tO\n\nHi\tO\n\n"; buf.String() != want {
		t.Errorf("Write gave %q, want %q", buf.String(), want)
	}
	bad := []Sentence{
		{},
		{Words: []string{"a"}, Tags: []string{}},
		{Words: []string{"a\tb"}, Tags: []string{"O"}},
		{Words: []string{"a"}, Tags: []string{"O\n"}},
		{Words: []string{" "}, Tags: []string{"O"}},
		{Words: []string{"a"}, Tags: []string{""}},
		{Words: []string{"\xff"}, Tags: []string{"O"}},
		{Words: []string{"-DOCSTART-"}, Tags: []string{"O"}},
	}
	for _, s := range bad {
		if err := Write(&bytes.Buffer{}, []Sentence{s}); err == nil || !strings.Contains(err.Error(), "sentence 1") {
			t.Errorf("Write(%+v) error = %v, want one naming sentence 1", s, err)
		}
	}
}

// sharedData locates the shared data directory (../shared/data beside the
// repository) or skips the test.
func sharedData(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(dir, "ner_wnut17")); err != nil {
		t.Skipf("shared data not found at %s", dir)
	}
	return dir
}

// TestSharedData reads WNUT-17 and WikiANN with the options they need and
// checks the counts of their SOURCE.md, the tags against IOB2, and the spans
// (as many as B- tags, the same read strictly or leniently). WNUT-17 dev has
// 15,733 token lines: the 15,734 of its SOURCE.md counts its last line, a
// lone U+FEFF with no tag, as a token.
func TestSharedData(t *testing.T) {
	dir := sharedData(t)
	wikiann := Options{TokenPrefix: "en:", Scheme: IOB2}
	tests := []struct {
		file          string
		opt           Options
		sents, tokens int
	}{
		{"ner_wnut17/train.conll", Options{Scheme: IOB2}, 3394, 62730},
		{"ner_wnut17/dev.conll", Options{StripBOM: true}, 1009, 15733},
		{"ner_wikiann_en/train", wikiann, 20000, 160394},
		{"ner_wikiann_en/dev", wikiann, 10000, 80536},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			sents, err := ReadFile(filepath.Join(dir, tt.file), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			tokens, begins, spans := 0, 0, 0
			for _, s := range sents {
				tokens += len(s.Words)
				for i, w := range s.Words {
					if strings.ContainsRune(w, '\uFEFF') || strings.HasPrefix(w, "en:") {
						t.Errorf("line %d: token %q", s.Line+i, w)
					}
					if strings.HasPrefix(s.Tags[i], "B-") {
						begins++
					}
				}
				strict, err1 := Spans(s.Tags, IOB2)
				lenient, err2 := SpansLenient(s.Tags)
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if tt.opt.Scheme == IOB2 && !reflect.DeepEqual(strict, lenient) {
					t.Errorf("line %d: strict spans %v, lenient %v", s.Line, strict, lenient)
				}
				spans += len(strict)
			}
			if len(sents) != tt.sents || tokens != tt.tokens {
				t.Errorf("%d sentences, %d tokens; want %d, %d", len(sents), tokens, tt.sents, tt.tokens)
			}
			if spans != begins {
				t.Errorf("%d strict spans, %d B- tags", spans, begins)
			}
		})
	}
}

// TestSharedDataErrors checks the errors the real files give with the
// wrong options: WNUT-17 dev's final U+FEFF line, its one invalid IOB2
// transition, and WikiANN read with another prefix.
func TestSharedDataErrors(t *testing.T) {
	dir := sharedData(t)
	tests := []struct {
		file string
		opt  Options
		want string
	}{
		{"ner_wnut17/dev.conll", Options{}, "dev.conll:16742: 1 column"},
		{"ner_wnut17/dev.conll", Options{StripBOM: true, Scheme: IOB2}, `dev.conll:1674: tag "I-creative-work": must follow B-creative-work or I-creative-work (it follows I-person)`},
		{"ner_wikiann_en/dev", Options{TokenPrefix: "de:"}, `dev:1: token "en:Sioux" does not start with "de:"`},
	}
	for _, tt := range tests {
		_, err := ReadFile(filepath.Join(dir, tt.file), tt.opt)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadFile(%s, %+v) error = %v, want one containing %q", tt.file, tt.opt, err, tt.want)
		}
	}
}
