package tokenizer

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The golden files are made by testdata/make_fixtures.sh: hf_golden.json.gz
// by HuggingFace tokenizers 0.23.2 (its Node binding), wordpiece_oracle.json
// by the plain-Python BERT tokenizer of shared/oracles/torch_multitask.py.

// sharedData locates the shared data directory (../shared/data beside the
// repository) or skips the test.
func sharedData(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(dir, "bert_vocab")); err != nil {
		t.Skipf("shared data not found at %s", dir)
	}
	return dir
}

type fixtureTexts struct {
	EWT    []string    `json:"ewt"`
	Taiga  []string    `json:"taiga"`
	Tricky []string    `json:"tricky"`
	Words  [][]string  `json:"words"`
	Pairs  [][2]string `json:"pairs"`
}

func (f fixtureTexts) set(name string) []string {
	return map[string][]string{"ewt": f.EWT, "taiga": f.Taiga, "tricky": f.Tricky}[name]
}

type hfEncoding struct {
	IDs     []int    `json:"ids"`
	Words   []int    `json:"words"`
	Offsets [][2]int `json:"offsets"`
	Decoded string   `json:"decoded"`
}

type hfInput struct {
	IDs   []int `json:"ids"`
	Types []int `json:"types"`
}

type hfSet struct {
	Encode  map[string][]hfEncoding `json:"encode"`
	Special []hfInput               `json:"special"`
	Pairs   []hfInput               `json:"pairs"`
	Words   []hfEncoding            `json:"words"`
}

type hfGolden struct {
	BertUncased hfSet      `json:"bert_uncased"`
	MiniLM      hfSet      `json:"minilm"`
	BPE         hfSet      `json:"bpe"`
	Unigram     hfSet      `json:"unigram"`
	GPT2Splits  [][]string `json:"gpt2_splits"`
	Precompiled []string   `json:"precompiled"`
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	if filepath.Ext(path) == ".gz" {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		dec = json.NewDecoder(zr)
	}
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadFixtures(t testing.TB) (fixtureTexts, hfGolden) {
	var texts fixtureTexts
	var golden hfGolden
	readJSON(t, "testdata/texts.json", &texts)
	readJSON(t, "testdata/hf_golden.json.gz", &golden)
	return texts, golden
}

func mustLoad(t testing.TB, path string) *Tokenizer {
	t.Helper()
	tok, err := FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// checkAgainstHF compares a tokenizer with the HF golden encodings.
func checkAgainstHF(t *testing.T, tok *Tokenizer, texts fixtureTexts, g hfSet) {
	t.Helper()
	bad := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for set, encs := range g.Encode {
		for i, want := range encs {
			text := texts.set(set)[i]
			e := tok.Encode(text)
			if !reflect.DeepEqual(nonNil(e.IDs), nonNil(want.IDs)) {
				fail("%s[%d] %q:\n ids %v\nwant %v\ntoks %q", set, i, text, e.IDs, want.IDs, e.Tokens)
				continue
			}
			if !reflect.DeepEqual(nonNil(e.WordIndex), nonNil(want.Words)) {
				fail("%s[%d] %q: words %v, want %v", set, i, text, e.WordIndex, want.Words)
			}
			if got := viaCharOffsets(text, e.Offsets); !reflect.DeepEqual(got, nonNilOff(want.Offsets)) {
				fail("%s[%d] %q: offsets %v, want %v", set, i, text, e.Offsets, want.Offsets)
			}
			if got := tok.Decode(e.IDs); got != want.Decoded {
				fail("%s[%d] %q: decoded %q, want %q", set, i, text, got, want.Decoded)
			}
		}
	}
	for i, want := range g.Special {
		in := tok.Single(tok.Encode(texts.Tricky[i]), 0)
		if !reflect.DeepEqual(in.IDs, want.IDs) || !reflect.DeepEqual(in.TypeIDs, want.Types) {
			fail("single %q: %v %v, want %v %v", texts.Tricky[i], in.IDs, in.TypeIDs, want.IDs, want.Types)
		}
	}
	for i, want := range g.Pairs {
		p := texts.Pairs[i]
		in := tok.Pair(tok.Encode(p[0]), tok.Encode(p[1]), 0)
		if !reflect.DeepEqual(in.IDs, want.IDs) || !reflect.DeepEqual(in.TypeIDs, want.Types) {
			fail("pair %q: %v %v, want %v %v", p, in.IDs, in.TypeIDs, want.IDs, want.Types)
		}
	}
	for i, want := range g.Words {
		words := texts.Words[i]
		want = withUnkForEmptyWords(want, words, tok.Specials().UNK)
		e := tok.EncodeWords(words)
		offsets := [][2]int{}
		for k, off := range e.Offsets {
			offsets = append(offsets, viaCharOffsets(words[e.WordIndex[k]], [][2]int{off})...)
		}
		if !reflect.DeepEqual(nonNil(e.IDs), nonNil(want.IDs)) || !reflect.DeepEqual(nonNil(e.WordIndex), nonNil(want.Words)) ||
			!reflect.DeepEqual(offsets, nonNilOff(want.Offsets)) {
			fail("words %q:\n got %v %v %v\nwant %v %v %v", words, e.IDs, e.WordIndex, e.Offsets, want.IDs, want.Words, want.Offsets)
		}
	}
}

// withUnkForEmptyWords adds the unknown token EncodeWords gives a word that
// HF turns into no piece.
func withUnkForEmptyWords(e hfEncoding, words []string, unk int) hfEncoding {
	var out hfEncoding
	k := 0
	for w := range words {
		start := k
		for k < len(e.Words) && e.Words[k] == w {
			k++
		}
		if k == start {
			out.IDs = append(out.IDs, unk)
			out.Words = append(out.Words, w)
			out.Offsets = append(out.Offsets, [2]int{0, len(words[w])})
			continue
		}
		out.IDs = append(out.IDs, e.IDs[start:k]...)
		out.Words = append(out.Words, e.Words[start:k]...)
		out.Offsets = append(out.Offsets, e.Offsets[start:k]...)
	}
	return out
}

// viaCharOffsets converts byte offsets to character offsets the way HF's
// bindings do (a byte inside a character maps to that character) and back,
// so they can be compared with the golden offsets, which went through that.
func viaCharOffsets(text string, offs [][2]int) [][2]int {
	charOf := map[int]int{}
	pos := []int{0}
	for i, r := range []rune(text) {
		for k := range len(string(r)) {
			charOf[pos[i]+k] = i
		}
		pos = append(pos, pos[i]+len(string(r)))
	}
	out := [][2]int{}
	for _, o := range offs {
		a, okA := charOf[o[0]]
		b, okB := charOf[o[1]]
		switch {
		case okA && okB:
		case okA:
			b = a + 1
			if last, ok := charOf[o[1]-1]; ok {
				b = last + 1
			}
		default: // not convertible: the binding passes them through
			out = append(out, o)
			continue
		}
		out = append(out, [2]int{pos[a], pos[b]})
	}
	return out
}

func nonNil(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

func nonNilOff(s [][2]int) [][2]int {
	if s == nil {
		return [][2]int{}
	}
	return s
}

func TestHFWordPieceBertUncased(t *testing.T) {
	dir := sharedData(t)
	texts, golden := loadFixtures(t)
	tok := mustLoad(t, filepath.Join(dir, "bert_vocab/bert-base-uncased/tokenizer.json"))
	checkAgainstHF(t, tok, texts, golden.BertUncased)
}

func TestHFWordPieceMiniLM(t *testing.T) {
	dir := sharedData(t)
	texts, golden := loadFixtures(t)
	tok := mustLoad(t, filepath.Join(dir, "bert_vocab/all-MiniLM-L6-v2/tokenizer.json"))
	checkAgainstHF(t, tok, texts, golden.MiniLM)
	if s := tok.Specials(); s != (Specials{CLS: 101, SEP: 102, PAD: 0, MASK: 103, UNK: 100}) {
		t.Errorf("specials %+v", s)
	}
}

func TestHFByteLevelBPE(t *testing.T) {
	texts, golden := loadFixtures(t)
	tok := mustLoad(t, "testdata/bpe_tokenizer.json")
	checkAgainstHF(t, tok, texts, golden.BPE)
}

func TestHFUnigram(t *testing.T) {
	texts, golden := loadFixtures(t)
	tok := mustLoad(t, "testdata/unigram_tokenizer.json")
	checkAgainstHF(t, tok, texts, golden.Unigram)
	for i, want := range golden.Precompiled {
		if got := string(tok.normalize(newNstr(texts.Tricky[i])).r); got != want {
			t.Errorf("normalize %q = %q, want %q", texts.Tricky[i], got, want)
		}
	}
}

func TestHFGPT2Splits(t *testing.T) {
	texts, golden := loadFixtures(t)
	inputs := append(append([]string{}, texts.Tricky...), texts.EWT[:30]...)
	pre := byteLevel{useRegex: true}
	for i, want := range golden.GPT2Splits {
		var got []string
		for _, w := range pre.split(newNstr(inputs[i]), preCtx{}) {
			got = append(got, string(w.r))
		}
		if !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
			t.Errorf("%q: splits %q, want %q", inputs[i], got, want)
		}
	}
}

// TestOracleWordPiece compares vocab.txt tokenizers with the plain-Python
// BERT tokenizer: bert-base-uncased on English sentences and words,
// bert-base-multilingual-cased (cased, inferred from its vocabulary) on
// Russian sentences.
func TestOracleWordPiece(t *testing.T) {
	dir := sharedData(t)
	var oracle struct {
		Uncased []struct {
			Text string `json:"text"`
			IDs  []int  `json:"ids"`
		} `json:"uncased_sentences"`
		UncasedWords []struct {
			Words []string `json:"words"`
			IDs   [][]int  `json:"ids"`
		} `json:"uncased_words"`
		Cased []struct {
			Text string `json:"text"`
			IDs  []int  `json:"ids"`
		} `json:"cased_sentences"`
	}
	readJSON(t, "testdata/wordpiece_oracle.json", &oracle)
	uncased := mustLoad(t, filepath.Join(dir, "bert_vocab/bert-base-uncased/vocab.txt"))
	for _, c := range oracle.Uncased {
		if got := uncased.Encode(c.Text).IDs; !reflect.DeepEqual(nonNil(got), nonNil(c.IDs)) {
			t.Errorf("uncased %q:\n got %v\nwant %v", c.Text, got, c.IDs)
		}
	}
	for _, c := range oracle.UncasedWords {
		e := uncased.EncodeWords(c.Words)
		var want []int
		for _, ids := range c.IDs {
			want = append(want, ids...)
		}
		if !reflect.DeepEqual(e.IDs, want) {
			t.Errorf("words %q:\n got %v\nwant %v", c.Words, e.IDs, want)
		}
	}
	cased, err := Load(filepath.Join(dir, "bert_vocab/bert-base-multilingual-cased"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range oracle.Cased {
		if got := cased.Encode(c.Text).IDs; !reflect.DeepEqual(nonNil(got), nonNil(c.IDs)) {
			t.Errorf("cased %q:\n got %v\nwant %v", c.Text, got, c.IDs)
		}
	}
}

// TestVocabTxtMatchesTokenizerJSON checks that bert-base-uncased read from
// vocab.txt (BertTokenizer rules) and from tokenizer.json (HF rules) agree on
// real sentences, where their known differences do not show.
func TestVocabTxtMatchesTokenizerJSON(t *testing.T) {
	dir := sharedData(t)
	fromTxt := mustLoad(t, filepath.Join(dir, "bert_vocab/bert-base-uncased/vocab.txt"))
	fromJSON := mustLoad(t, filepath.Join(dir, "bert_vocab/bert-base-uncased/tokenizer.json"))
	data, err := os.ReadFile(filepath.Join(dir, "raw_text/en_ewt_train.txt"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range splitLines(string(data)) {
		if n++; n > 600 {
			break
		}
		a, b := fromTxt.Encode(line), fromJSON.Encode(line)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%q:\nvocab.txt      %v %v\ntokenizer.json %v %v", line, a.IDs, a.Offsets, b.IDs, b.Offsets)
		}
	}
	if fmt.Sprint(fromTxt.Specials()) != fmt.Sprint(fromJSON.Specials()) {
		t.Errorf("specials %+v vs %+v", fromTxt.Specials(), fromJSON.Specials())
	}
}
