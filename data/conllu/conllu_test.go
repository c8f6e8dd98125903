package conllu

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sample has comments, a multiword token, an empty node and a blank-HEAD
// file's worth of variety in two sentences.
const sample = "# newdoc id = d1\n" +
	"# sent_id = s1\n" +
	"# text = I can't go.\n" +
	"1\tI\tI\tPRON\tPRP\tCase=Nom|Number=Sing|Person=1\t3\tnsubj\t3:nsubj\t_\n" +
	"2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_\n" +
	"2\tca\tcan\tAUX\tMD\tVerbForm=Fin\t4\taux\t4:aux\t_\n" +
	"3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t4:advmod\t_\n" +
	"4\tgo\tgo\tVERB\tVB\tVerbForm=Inf\t0\troot\t0:root\tSpaceAfter=No\n" +
	"4.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t1:conj\tCopyOf=4\n" +
	"5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t4:punct\t_\n" +
	"\n" +
	"#\n" +
	"1\tYes\tyes\tINTJ\tUH\t_\t_\t_\t_\t_\n" +
	"\n"

func TestRead(t *testing.T) {
	sents, err := Read(strings.NewReader(sample), "sample.conllu")
	if err != nil {
		t.Fatal(err)
	}
	if len(sents) != 2 {
		t.Fatalf("got %d sentences, want 2", len(sents))
	}
	s := sents[0]
	if s.Line != 1 || sents[1].Line != 12 {
		t.Errorf("Line = %d, %d; want 1, 12", s.Line, sents[1].Line)
	}
	wantComments := []string{" newdoc id = d1", " sent_id = s1", " text = I can't go."}
	if !reflect.DeepEqual(s.Comments, wantComments) {
		t.Errorf("Comments = %q, want %q", s.Comments, wantComments)
	}
	if id, ok := s.Meta("sent_id"); !ok || id != "s1" {
		t.Errorf(`Meta("sent_id") = %q, %v`, id, ok)
	}
	if text, _ := s.Meta("text"); text != "I can't go." {
		t.Errorf(`Meta("text") = %q`, text)
	}
	if _, ok := s.Meta("newpar"); ok {
		t.Error(`Meta("newpar") found a missing comment`)
	}
	if v, ok := sents[1].Meta(""); !ok || v != "" {
		t.Errorf(`Meta("") on a bare "#" = %q, %v; want "", true`, v, ok)
	}

	wantRows := []Row{
		{Kind: Word, ID: 1, Form: "I", Lemma: "I", UPOS: "PRON", XPOS: "PRP", Feats: "Case=Nom|Number=Sing|Person=1", Head: 3, DepRel: "nsubj", Deps: "3:nsubj", Misc: "_"},
		{Kind: MultiwordToken, ID: 2, End: 3, Form: "can't", Lemma: "_", UPOS: "_", XPOS: "_", Feats: "_", Head: NoHead, DepRel: "_", Deps: "_", Misc: "_"},
		{Kind: Word, ID: 2, Form: "ca", Lemma: "can", UPOS: "AUX", XPOS: "MD", Feats: "VerbForm=Fin", Head: 4, DepRel: "aux", Deps: "4:aux", Misc: "_"},
		{Kind: Word, ID: 3, Form: "n't", Lemma: "not", UPOS: "PART", XPOS: "RB", Feats: "_", Head: 4, DepRel: "advmod", Deps: "4:advmod", Misc: "_"},
		{Kind: Word, ID: 4, Form: "go", Lemma: "go", UPOS: "VERB", XPOS: "VB", Feats: "VerbForm=Inf", Head: 0, DepRel: "root", Deps: "0:root", Misc: "SpaceAfter=No"},
		{Kind: EmptyNode, ID: 4, Sub: 1, Form: "go", Lemma: "go", UPOS: "VERB", XPOS: "VB", Feats: "_", Head: NoHead, DepRel: "_", Deps: "1:conj", Misc: "CopyOf=4"},
		{Kind: Word, ID: 5, Form: ".", Lemma: ".", UPOS: "PUNCT", XPOS: ".", Feats: "_", Head: 4, DepRel: "punct", Deps: "4:punct", Misc: "_"},
	}
	if !reflect.DeepEqual(s.Rows, wantRows) {
		t.Errorf("Rows =\n%+v\nwant\n%+v", s.Rows, wantRows)
	}
	var forms []string
	for _, w := range s.Words() {
		forms = append(forms, w.Form)
	}
	if want := []string{"I", "ca", "n't", "go", "."}; !reflect.DeepEqual(forms, want) {
		t.Errorf("Words() forms = %q, want %q", forms, want)
	}
	if got, want := s.Heads(), []int{3, 4, 4, 0, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("Heads() = %v, want %v", got, want)
	}
	if got := sents[1].Heads(); !reflect.DeepEqual(got, []int{NoHead}) {
		t.Errorf("Heads() of a HEAD _ word = %v", got)
	}
	if got := []string{s.Rows[0].IDString(), s.Rows[1].IDString(), s.Rows[5].IDString()}; !reflect.DeepEqual(got, []string{"1", "2-3", "4.1"}) {
		t.Errorf("IDString = %q", got)
	}
}

func TestWriteRoundTrip(t *testing.T) {
	sents, err := Read(strings.NewReader(sample), "sample.conllu")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, sents); err != nil {
		t.Fatal(err)
	}
	if buf.String() != sample {
		t.Errorf("Write gave\n%s\nwant\n%s", buf.String(), sample)
	}
}

// TestReadNormalises checks the variants Read accepts and Write normalises:
// CRLF line endings, a byte-order mark, no final blank line, extra blank
// lines.
func TestReadNormalises(t *testing.T) {
	want, err := Read(strings.NewReader(sample), "sample.conllu")
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string]string{
		"crlf":          strings.ReplaceAll(sample, "\n", "\r\n"),
		"bom":           "\uFEFF" + sample,
		"no final line": strings.TrimSuffix(sample, "\n"),
		"no final nl":   strings.TrimSuffix(sample, "\n\n"),
		"extra blanks":  "\n\n" + strings.ReplaceAll(sample, "\n\n", "\n\n\n") + "\n",
	}
	for name, in := range variants {
		got, err := Read(strings.NewReader(in), name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var buf bytes.Buffer
		if err := Write(&buf, got); err != nil {
			t.Fatal(err)
		}
		if buf.String() != sample {
			t.Errorf("%s: Write gave\n%q\nwant\n%q", name, buf.String(), sample)
		}
		if name == "crlf" && !reflect.DeepEqual(got, want) {
			t.Errorf("%s: sentences differ from the LF file's", name)
		}
	}
}

func TestReadEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "\n\n\r\n"} {
		sents, err := Read(strings.NewReader(in), "empty.conllu")
		if err != nil || len(sents) != 0 {
			t.Errorf("Read(%q) = %d sentences, %v; want 0, nil", in, len(sents), err)
		}
	}
}

// row builds a word line with the given ID and HEAD.
func row(id, head string) string {
	return id + "\tw\tw\tX\tX\t_\t" + head + "\tdep\t_\t_\n"
}

func TestReadErrors(t *testing.T) {
	mwt := "1-2\tww\t_\t_\t_\t_\t_\t_\t_\t_\n"
	tests := []struct {
		name, in, want string
	}{
		{"nine columns", "1\tw\tw\tX\tX\t_\t0\troot\t_\n", "x:1: 9 tab-separated columns, want 10"},
		{"spaces not tabs", "# c\n1 w w X X _ 0 root _ _\n", "x:2: 1 tab-separated columns, want 10"},
		{"eleven columns", row("1", "0")[:len(row("1", "0"))-1] + "\t_\n", "x:1: 11 tab-separated columns"},
		{"empty column", "1\tw\t\tX\tX\t_\t0\troot\t_\t_\n", "x:1: empty LEMMA column"},
		{"id not integer", row("one", "0"), `x:1: malformed ID "one"`},
		{"id leading zero", row("01", "0"), `x:1: malformed ID "01"`},
		{"id sign", row("+1", "0"), `x:1: malformed ID "+1"`},
		{"id zero", row("0", "0"), "x:1: word ID 0: want 1"},
		{"id gap", row("1", "0") + row("3", "1"), "x:2: word ID 3: want 2"},
		{"id repeated", row("1", "0") + row("1", "1"), "x:2: word ID 1: want 2"},
		{"second sentence restarts", row("1", "0") + "\n" + row("2", "0"), "x:3: word ID 2: want 1"},
		{"head not integer", row("1", "root"), `x:1: HEAD "root"`},
		{"head negative", row("1", "-1"), `x:1: HEAD "-1"`},
		{"head out of range", row("1", "0") + row("2", "3") + "\n", "x:2: HEAD 3 of word 2: the sentence ends at word 2"},
		{"range malformed", "1-\tww\t_\t_\t_\t_\t_\t_\t_\t_\n", `x:1: malformed multiword token ID "1-"`},
		{"range reversed", "2-1\tww\t_\t_\t_\t_\t_\t_\t_\t_\n", `x:1: multiword token ID "2-1": the range must end after it starts`},
		{"range of one", "1-1\tww\t_\t_\t_\t_\t_\t_\t_\t_\n", `the range must end after it starts`},
		{"range misplaced", row("1", "0") + mwt, `x:2: multiword token ID "1-2": a range after word 1 must start at 2`},
		{"range overlap", "1-3\tww\t_\t_\t_\t_\t_\t_\t_\t_\n" + row("1", "0") + "2-3\tww\t_\t_\t_\t_\t_\t_\t_\t_\n", `x:3: multiword token ID "2-3" overlaps`},
		{"range outside", "# c\n" + mwt + row("1", "0") + "\n", `x:2: multiword token ID "1-2": the sentence ends at word 1`},
		{"range head", "1-2\tww\t_\t_\t_\t_\t0\t_\t_\t_\n", `x:1: HEAD "0" of multiword token 1-2: must be _`},
		{"empty node malformed", row("1", "0") + row("1.x", "_"), `x:2: malformed empty node ID "1.x"`},
		{"empty node zero", row("1", "0") + row("1.0", "_"), `x:2: malformed empty node ID "1.0"`},
		{"empty node misplaced", row("1", "0") + row("2.1", "_"), `x:2: empty node ID "2.1": must follow word 2, not word 1`},
		{"empty node skips", row("1", "0") + row("1.2", "_"), `x:2: empty node ID "1.2": want 1.1`},
		{"empty node head", row("1", "0") + row("1.1", "1"), `x:2: HEAD "1" of empty node 1.1: must be _`},
		{"comment inside", row("1", "0") + "# late\n", "x:2: comment line after the first row"},
		{"comments only", "# a\n# b\n\n", "x:1: sentence has no words"},
		{"empty nodes only", "0.1\tw\tw\tX\tX\t_\t_\t_\t_\t_\n", "x:1: sentence has no words"},
		{"whitespace line", row("1", "0") + " \n", "x:2: 1 tab-separated columns"},
		{"invalid utf8", "# ok\n1\tw\xff\tw\tX\tX\t_\t0\troot\t_\t_\n", "x:2: invalid UTF-8 at byte 4"},
		{"stray cr", "1\tw\rw\tw\tX\tX\t_\t0\troot\t_\t_\n", "x:1: carriage return inside the line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sents, err := Read(strings.NewReader(tt.in), "x")
			if err == nil {
				t.Fatalf("no error; read %d sentences", len(sents))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestWriteChanged sets the predicted columns and checks that only they
// change.
func TestWriteChanged(t *testing.T) {
	sents, err := Read(strings.NewReader(sample), "sample.conllu")
	if err != nil {
		t.Fatal(err)
	}
	w := sents[0].Words()[1] // "ca"
	w.UPOS, w.XPOS, w.Feats, w.Lemma, w.Head, w.DepRel = "VERB", "VBZ", "Mood=Ind", "ca", 1, "ccomp"
	sents[1].Words()[0].Head = 0
	var buf bytes.Buffer
	if err := Write(&buf, sents); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(sample, "2\tca\tcan\tAUX\tMD\tVerbForm=Fin\t4\taux", "2\tca\tca\tVERB\tVBZ\tMood=Ind\t1\tccomp", 1)
	want = strings.Replace(want, "1\tYes\tyes\tINTJ\tUH\t_\t_", "1\tYes\tyes\tINTJ\tUH\t_\t0", 1)
	if buf.String() != want {
		t.Errorf("Write gave\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestWriteErrors(t *testing.T) {
	word := func(change func(*Row)) []*Sentence {
		r := Row{Kind: Word, ID: 1, Form: "w", Lemma: "w", UPOS: "X", XPOS: "_", Feats: "_", Head: 0, DepRel: "root", Deps: "_", Misc: "_"}
		change(&r)
		return []*Sentence{{Rows: []Row{r}}}
	}
	tests := []struct {
		name  string
		sents []*Sentence
		want  string
	}{
		{"no rows", []*Sentence{{Comments: []string{" c"}}}, "sentence 1: no rows"},
		{"nil sentence", []*Sentence{nil}, "sentence 1: no rows"},
		{"empty field", word(func(r *Row) { r.UPOS = "" }), `row 1: UPOS column ""`},
		{"tab in field", word(func(r *Row) { r.Form = "a\tb" }), `row 1: FORM column "a\tb"`},
		{"newline in field", word(func(r *Row) { r.Misc = "a\nb" }), "MISC column"},
		{"invalid utf8", word(func(r *Row) { r.Lemma = "\xff" }), "LEMMA column"},
		{"negative head", word(func(r *Row) { r.Head = -2 }), "row 1: negative HEAD -2"},
		{"newline in comment", []*Sentence{{Comments: []string{"a\nb"}, Rows: word(func(*Row) {})[0].Rows}}, `comment "a\nb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, tt.sents)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// sharedData locates the shared data directory (../shared/data beside the
// repository) or skips the test.
func sharedData(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(dir, "ud_english_ewt")); err != nil {
		t.Skipf("shared data not found at %s", dir)
	}
	return dir
}

// TestSharedData reads the real treebanks: the counts of their SOURCE.md,
// every gold tree valid, every FEATS already canonical, and for the dev
// files Write giving back the exact bytes.
func TestSharedData(t *testing.T) {
	dir := sharedData(t)
	tests := []struct {
		file                    string
		sents, words, multiword int
		roundTrip               bool
	}{
		{"ud_english_ewt/en_ewt-ud-dev.conllu", 2001, 25147, 359, true},
		{"ud_russian_taiga/ru_taiga-ud-dev.conllu", 945, 10094, 0, true},
		{"ud_russian_taiga/ru_taiga-ud-train.conllu", 3138, 43557, 0, false},
	}
	if !testing.Short() {
		tests = append(tests, struct {
			file                    string
			sents, words, multiword int
			roundTrip               bool
		}{"ud_english_ewt/en_ewt-ud-train.conllu", 12544, 204577, 2614, false})
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			sents, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			words, multiword := 0, 0
			for _, s := range sents {
				for _, r := range s.Rows {
					switch r.Kind {
					case Word:
						words++
						if c, err := CanonicalFeats(r.Feats); err != nil || c != r.Feats {
							t.Errorf("line %d word %d: CanonicalFeats(%q) = %q, %v", s.Line, r.ID, r.Feats, c, err)
						}
					case MultiwordToken:
						multiword++
					}
				}
				if err := Validate(s); err != nil {
					t.Error(err)
				}
			}
			if len(sents) != tt.sents || words != tt.words || multiword != tt.multiword {
				t.Errorf("%d sentences, %d words, %d multiword tokens; want %d, %d, %d",
					len(sents), words, multiword, tt.sents, tt.words, tt.multiword)
			}
			if !tt.roundTrip {
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Write(&buf, sents); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("Write did not reproduce %s byte for byte (%d bytes, want %d)", tt.file, buf.Len(), len(want))
			}
		})
	}
}
