package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// testVocab is a small BERT vocabulary for hand-checked cases.
var testVocab = []string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", // 0-4
	"the", "un", "##aff", "##able", "hello", // 5-9
	"world", ",", "!", ".", "北", // 10-14
	"京", "cafe", "##s", "a", "##a", // 15-19
	"b", "##b", "$", "^", "`", // 20-24
	"'", "t", "don", "Hello", "café", // 25-29
	"e", "##\u0301", "é", "x", "##x", // 30-34
}

func newTestBert(t *testing.T, lower bool) *Tokenizer {
	t.Helper()
	tok, err := NewBert(testVocab, BertOptions{Lowercase: lower})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// writeVocabDir writes testVocab and a tokenizer_config.json into a new
// directory.
func writeVocabDir(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := WriteVocabTxt(&buf, testVocab); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestWordPieceHandChecked(t *testing.T) {
	uncased := newTestBert(t, true)
	cased := newTestBert(t, false)
	txt, err := Load(writeVocabDir(t, `{"do_lower_case": true}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tok  *Tokenizer
		text string
		want []string
	}{
		{"punctuation", uncased, "Hello, world!", []string{"hello", ",", "world", "!"}},
		{"ascii symbols are punctuation", uncased, "$^`", []string{"$", "^", "`"}},
		{"greedy longest match", uncased, "unaffable", []string{"un", "##aff", "##able"}},
		{"contraction", uncased, "don't", []string{"don", "'", "t"}},
		{"accents stripped", uncased, "Café", []string{"cafe"}},
		{"accents kept when cased", cased, "café", []string{"café"}},
		{"cased keeps case", cased, "Hello hello", []string{"Hello", "hello"}},
		{"cased unknown", cased, "HELLO", []string{"[UNK]"}},
		{"chinese characters split", uncased, "北京", []string{"北", "京"}},
		{"control characters removed", uncased, "a\x00b\u200b\x07\ufffdb", []string{"a", "##b", "##b"}},
		{"whitespace variants split", uncased, "a\tb\u3000a\nb", []string{"a", "b", "a", "b"}},
		{"unknown word", uncased, "xyzzy", []string{"[UNK]"}},
		{"unknown is the whole word", uncased, "ab#", []string{"a", "##b", "[UNK]"}},
		{"100 characters fit", uncased, strings.Repeat("a", 100), append([]string{"a"}, repeat("##a", 99)...)},
		{"101 characters are unknown", uncased, strings.Repeat("a", 101), []string{"[UNK]"}},
		{"special tokens in text", uncased, "hello[MASK]world [CLS]", []string{"hello", "[MASK]", "world", "[CLS]"}},
		{"special tokens are case-sensitive", uncased, "[mask]", []string{"[UNK]", "[UNK]", "[UNK]"}},
		{"empty", uncased, "", nil},
		{"only spaces", uncased, " \t\n ", nil},
		{"vocab.txt lower-cases", txt, "Hello, CAFÉ!", []string{"hello", ",", "cafe", "!"}},
		{"vocab.txt special tokens", txt, "a[SEP]b [PAD]", []string{"a", "[SEP]", "b", "[PAD]"}},
		// Python's BertTokenizer removes unassigned code points; HF keeps them.
		{"vocab.txt unassigned removed", txt, "a\u0378b", []string{"a", "##b"}},
		{"tokenizer.json unassigned kept", uncased, "a\u0378b", []string{"[UNK]"}},
	}
	for _, c := range cases {
		if got := c.tok.Encode(c.text).Tokens; !reflect.DeepEqual(got, c.want) && len(got)+len(c.want) > 0 {
			t.Errorf("%s: Encode(%q) = %q, want %q", c.name, c.text, got, c.want)
		}
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestVocabTxtCasedNFC checks the NFC step of BertTokenizer, which HF's
// BertNormalizer lacks: a decomposed "é" is one character for vocab.txt.
func TestVocabTxtCasedNFC(t *testing.T) {
	txt, err := Load(writeVocabDir(t, `{"do_lower_case": false}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := txt.Encode("e\u0301").Tokens; !reflect.DeepEqual(got, []string{"é"}) {
		t.Errorf("vocab.txt: %q", got)
	}
	if got := newTestBert(t, false).Encode("e\u0301").Tokens; !reflect.DeepEqual(got, []string{"e", "##\u0301"}) {
		t.Errorf("tokenizer.json: %q", got)
	}
}

func TestVocabTxtOptions(t *testing.T) {
	// Without a config the vocabulary decides: testVocab has "Hello", so cased.
	tok, err := Load(writeVocabDir(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("Hello").Tokens; !reflect.DeepEqual(got, []string{"Hello"}) {
		t.Errorf("inferred cased: %q", got)
	}
	tok, err = Load(writeVocabDir(t, `{"do_lower_case": true, "strip_accents": false, "never_split": ["xx"],
		"tokenize_chinese_chars": false, "mask_token": {"content": "[MASK]", "lstrip": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string][]string{
		"CAFÉ":     {"café"},
		"xx":       {"[UNK]"}, // never split: one token, unknown here
		"x":        {"x"},     // other words still split
		"北京":       {"[UNK]"}, // no CJK splitting: one unknown word
		"a [MASK]": {"a", "[MASK]"},
	} {
		if got := tok.Encode(text).Tokens; !reflect.DeepEqual(got, want) {
			t.Errorf("Encode(%q) = %q, want %q", text, got, want)
		}
	}
	if _, err := Load(writeVocabDir(t, `{"unk_token": "<unk>"}`)); err == nil || !strings.Contains(err.Error(), "<unk>") {
		t.Errorf("missing unk token: %v", err)
	}
}

func TestEncodeOffsetsAndWords(t *testing.T) {
	tok := newTestBert(t, true)
	text := "Café, hello北京 [MASK]"
	e := tok.Encode(text)
	wantTokens := []string{"cafe", ",", "hello", "北", "京", "[MASK]"}
	wantOffsets := [][2]int{{0, 5}, {5, 6}, {7, 12}, {12, 15}, {15, 18}, {19, 25}}
	wantWords := []int{0, 1, 2, 3, 4, 5}
	if !reflect.DeepEqual(e.Tokens, wantTokens) || !reflect.DeepEqual(e.Offsets, wantOffsets) || !reflect.DeepEqual(e.WordIndex, wantWords) {
		t.Errorf("got %q %v %v", e.Tokens, e.Offsets, e.WordIndex)
	}
	for i, off := range e.Offsets {
		t.Logf("%q → %q", e.Tokens[i], text[off[0]:off[1]])
	}

	w := tok.EncodeWords([]string{"unaffable", "\x00", "don't"})
	if want := []string{"un", "##aff", "##able", "[UNK]", "don", "'", "t"}; !reflect.DeepEqual(w.Tokens, want) {
		t.Errorf("EncodeWords tokens %q", w.Tokens)
	}
	if want := []int{0, 0, 0, 1, 2, 2, 2}; !reflect.DeepEqual(w.WordIndex, want) {
		t.Errorf("EncodeWords words %v", w.WordIndex)
	}
	if want := [][2]int{{0, 2}, {2, 5}, {5, 9}, {0, 1}, {0, 3}, {3, 4}, {4, 5}}; !reflect.DeepEqual(w.Offsets, want) {
		t.Errorf("EncodeWords offsets %v", w.Offsets)
	}
}

func TestAccessors(t *testing.T) {
	tok := newTestBert(t, true)
	if s := tok.Specials(); s != (Specials{CLS: 2, SEP: 3, PAD: 0, MASK: 4, UNK: 1}) {
		t.Errorf("specials %+v", s)
	}
	if tok.VocabSize() != len(testVocab) {
		t.Errorf("vocab size %d", tok.VocabSize())
	}
	if s, ok := tok.IDToToken(7); !ok || s != "##aff" {
		t.Errorf("IDToToken(7) = %q %v", s, ok)
	}
	if _, ok := tok.IDToToken(len(testVocab)); ok {
		t.Error("IDToToken beyond the vocabulary")
	}
	if id, ok := tok.TokenToID("world"); !ok || id != 10 {
		t.Errorf("TokenToID(world) = %d %v", id, ok)
	}
	if !tok.IsSpecial(2) || tok.IsSpecial(5) {
		t.Error("IsSpecial")
	}
	ids := tok.Encode("Hello, world! unaffable [MASK]").IDs
	if got := tok.Decode(append([]int{2}, append(ids, 3)...)); got != "hello, world! unaffable" {
		t.Errorf("Decode = %q", got)
	}
}

// TestConcurrentEncode shares one tokenizer (and its BPE cache) between
// goroutines.
func TestConcurrentEncode(t *testing.T) {
	tok := mustLoad(t, "testdata/bpe_tokenizer.json")
	texts, _ := loadFixtures(t)
	ref := mustLoad(t, "testdata/bpe_tokenizer.json") // its own cache
	want := make([]Encoding, len(texts.EWT))
	for i, text := range texts.EWT {
		want[i] = ref.Encode(text)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range texts.EWT {
				k := (i + g*37) % len(texts.EWT)
				if got := tok.Encode(texts.EWT[k]); !reflect.DeepEqual(got, want[k]) {
					t.Errorf("goroutine %d: %q differs", g, texts.EWT[k])
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestSingleAndPair(t *testing.T) {
	tok := newTestBert(t, true)
	a, b := tok.Encode("hello world hello"), tok.Encode("the cafe")
	in := tok.Single(a, 0)
	if !reflect.DeepEqual(in.IDs, []int{2, 9, 10, 9, 3}) || !reflect.DeepEqual(in.TypeIDs, []int{0, 0, 0, 0, 0}) {
		t.Errorf("Single %+v", in)
	}
	if in := tok.Single(a, 4); !reflect.DeepEqual(in.IDs, []int{2, 9, 10, 3}) {
		t.Errorf("Single truncated %+v", in)
	}
	in = tok.Pair(a, b, 0)
	if !reflect.DeepEqual(in.IDs, []int{2, 9, 10, 9, 3, 5, 16, 3}) || !reflect.DeepEqual(in.TypeIDs, []int{0, 0, 0, 0, 0, 1, 1, 1}) {
		t.Errorf("Pair %+v", in)
	}
	// Longest first: 3+2 pieces into 7-3 = 4 → the first loses one; into 3 → 2+1.
	if in := tok.Pair(a, b, 7); !reflect.DeepEqual(in.IDs, []int{2, 9, 10, 3, 5, 16, 3}) {
		t.Errorf("Pair 7 %+v", in.IDs)
	}
	if in := tok.Pair(a, b, 6); !reflect.DeepEqual(in.IDs, []int{2, 9, 10, 3, 5, 3}) {
		t.Errorf("Pair 6 %+v", in.IDs)
	}
	if in := tok.Pair(a, b, 1); !reflect.DeepEqual(in.IDs, []int{2, 3, 3}) {
		t.Errorf("Pair 1 %+v", in.IDs)
	}
}

func TestWindows(t *testing.T) {
	tok := newTestBert(t, true)
	ws, err := tok.Windows(Encoding{}, 8, 2)
	if err != nil || len(ws) != 1 || !reflect.DeepEqual(ws[0].IDs, []int{2, 3}) {
		t.Fatalf("empty: %+v %v", ws, err)
	}
	for _, bad := range [][2]int{{2, 0}, {8, 6}, {8, -1}} {
		if _, err := tok.Windows(Encoding{}, bad[0], bad[1]); err == nil {
			t.Errorf("Windows(maxLen %d, stride %d) accepted", bad[0], bad[1])
		}
	}
	for n := 0; n < 40; n++ {
		e := Encoding{IDs: make([]int, n)}
		for i := range e.IDs {
			e.IDs[i] = 5 + i%10
		}
		for maxLen := 3; maxLen < 12; maxLen++ {
			for stride := 0; stride < maxLen-2; stride++ {
				checkWindows(t, tok, e, maxLen, stride)
			}
		}
	}
}

func checkWindows(t *testing.T, tok *Tokenizer, e Encoding, maxLen, stride int) {
	t.Helper()
	ws, err := tok.Windows(e, maxLen, stride)
	if err != nil {
		t.Fatal(err)
	}
	owners := make([]int, e.Len())
	for k, w := range ws {
		if len(w.IDs) > maxLen || len(w.IDs) != len(w.TypeIDs) {
			t.Fatalf("n=%d maxLen=%d stride=%d: window %d has %d ids", e.Len(), maxLen, stride, k, len(w.IDs))
		}
		if w.IDs[0] != 2 || w.IDs[len(w.IDs)-1] != 3 || w.End-w.Start != len(w.IDs)-2 {
			t.Fatalf("window %d: %+v", k, w)
		}
		for i := w.Start; i < w.End; i++ {
			if w.IDs[w.Pos(i)] != e.IDs[i] {
				t.Fatalf("window %d: piece %d misplaced", k, i)
			}
		}
		if k > 0 && ws[k-1].End-w.Start != stride {
			t.Fatalf("n=%d maxLen=%d stride=%d: overlap %d", e.Len(), maxLen, stride, ws[k-1].End-w.Start)
		}
		if w.OwnStart < w.Start || w.OwnEnd > w.End || w.OwnStart > w.OwnEnd {
			t.Fatalf("window %d owns %d..%d of %d..%d", k, w.OwnStart, w.OwnEnd, w.Start, w.End)
		}
		for i := w.OwnStart; i < w.OwnEnd; i++ {
			owners[i]++
		}
	}
	for i, n := range owners {
		if n != 1 {
			t.Fatalf("n=%d maxLen=%d stride=%d: piece %d owned %d times", e.Len(), maxLen, stride, i, n)
		}
	}
	if ws[len(ws)-1].End != e.Len() {
		t.Fatalf("last window ends at %d of %d", ws[len(ws)-1].End, e.Len())
	}
}

// TestWindowsMostContext checks the ownership rule on one case: windows
// 0..10 and 6..13 of 13 pieces share 6..9; pieces 6 and 7 have more context
// in the first window, 8 and 9 in the second.
func TestWindowsMostContext(t *testing.T) {
	tok := newTestBert(t, true)
	ws, err := tok.Windows(Encoding{IDs: make([]int, 13)}, 12, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].OwnEnd != 8 || ws[1].OwnStart != 8 || ws[1].Start != 6 {
		t.Errorf("%+v", ws)
	}
}

// tinyJSON builds a tokenizer.json with the given model and no other parts.
func tinyJSON(t *testing.T, model string) *Tokenizer {
	t.Helper()
	tok, err := FromJSON([]byte(`{"model": `+model+`}`), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestBPEMerges(t *testing.T) {
	vocab := `{"a":0,"b":1,"c":2,"ab":3,"bc":4,"abc":5,"<unk>":6}`
	cases := []struct {
		merges, text string
		want         []string
	}{
		{`["a b", "ab c"]`, "abc", []string{"abc"}},
		{`["b c", "a b", "ab c"]`, "abc", []string{"a", "bc"}}, // b c has the lower rank
		{`[["a", "b"], ["b", "c"]]`, "abcabc", []string{"ab", "c", "ab", "c"}},
		{`["a b"]`, "aab", []string{"a", "ab"}},
		{`[]`, "cab", []string{"c", "a", "b"}},
	}
	for _, c := range cases {
		tok := tinyJSON(t, `{"type":"BPE","vocab":`+vocab+`,"merges":`+c.merges+`}`)
		if got := tok.Encode(c.text).Tokens; !reflect.DeepEqual(got, c.want) {
			t.Errorf("merges %s: Encode(%q) = %q, want %q", c.merges, c.text, got, c.want)
		}
	}
	// Unknown characters: dropped without unk_token, fused with fuse_unk.
	tok := tinyJSON(t, `{"type":"BPE","vocab":`+vocab+`,"merges":[],"unk_token":"<unk>","fuse_unk":true}`)
	if got := tok.Encode("axyb").Tokens; !reflect.DeepEqual(got, []string{"a", "<unk>", "b"}) {
		t.Errorf("fused unk: %q", got)
	}
	tok = tinyJSON(t, `{"type":"BPE","vocab":`+vocab+`,"merges":[]}`)
	if got := tok.Encode("axyb").Tokens; !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("no unk: %q", got)
	}
	for _, bad := range []string{`["a b c"]`, `["a"]`, `["a x"]`, `[["a"]]`, `[3]`} {
		if _, err := FromJSON([]byte(`{"model":{"type":"BPE","vocab":`+vocab+`,"merges":`+bad+`}}`), "bad"); err == nil {
			t.Errorf("merges %s accepted", bad)
		}
	}
}

func TestGPT2Split(t *testing.T) {
	cases := map[string][]string{
		"Hello world":       {"Hello", " world"},
		"don't I'll we've":  {"don", "'t", " I", "'ll", " we", "'ve"},
		"I'M 's":            {"I", "'", "M", " '", "s"},
		"x  y":              {"x", " ", " y"},
		"x   \ny":           {"x", "   ", "\n", "y"},
		"a\n\nb":            {"a", "\n", "\n", "b"},
		"end  ":             {"end", "  "},
		"abc123 4.5":        {"abc", "123", " 4", ".", "5"},
		"¡Hola! ¿Qué? ½ ٣٤": {"¡", "Hola", "!", " ¿", "Qué", "?", " ½", " ٣٤"},
		"a\u00a0b":          {"a", "\u00a0", "b"},
		"tab\tx":            {"tab", "\t", "x"},
		" ...!!  ":          {" ...!!", "  "},
		"北京 大学":             {"北京", " 大学"},
		"🥰🥰 x":              {"🥰🥰", " x"},
	}
	pre := byteLevel{useRegex: true}
	for text, want := range cases {
		r := []rune(text)
		var got []string
		for i := 0; i < len(r); {
			j := gpt2Match(r, i)
			got = append(got, string(r[i:j]))
			i = j
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("split(%q) = %q, want %q", text, got, want)
		}
		if n := len(pre.split(newNstr(text), preCtx{})); n != len(want) {
			t.Errorf("pre-tokenizer gives %d words for %q", n, text)
		}
	}
	if got := string(toByteChars(newNstr(" é\n")).r); got != "ĠÃ©Ċ" {
		t.Errorf("byte chars %q", got)
	}
}

func TestUnigramViterbi(t *testing.T) {
	// HF's documentation example, plus a single-character piece competing
	// with a longer one of lower total score.
	tok := tinyJSON(t, `{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",0],["b",0],["c",0],["d",0],
		["cd",1.0],["ab",2.0],["abc",5.0],["abcd",10.0]]}`)
	e := tok.Encode("abcdacdxx")
	if want := []string{"abcd", "a", "cd", "<unk>"}; !reflect.DeepEqual(e.Tokens, want) {
		t.Errorf("tokens %q, want %q", e.Tokens, want)
	}
	if want := [][2]int{{0, 4}, {4, 5}, {5, 7}, {7, 9}}; !reflect.DeepEqual(e.Offsets, want) {
		t.Errorf("offsets %v", e.Offsets)
	}
	tok = tinyJSON(t, `{"type":"Unigram","unk_id":0,"vocab":[["<unk>",-20],["a",-1],["b",-1],["ab",-3],["é",-1]]}`)
	if got := tok.Encode("abé").Tokens; !reflect.DeepEqual(got, []string{"a", "b", "é"}) {
		t.Errorf("scores: %q", got)
	}
	if _, err := FromJSON([]byte(`{"model":{"type":"Unigram","vocab":[["a",0]]}}`), "x"); err == nil {
		t.Error("Unigram without unk_id accepted")
	}
}

func TestMetaspace(t *testing.T) {
	model := `{"type":"Unigram","unk_id":0,"vocab":[["<unk>",-10],["▁a",-1],["▁",-2],["a",-2],["b",-2],["▁b",-1]]}`
	for scheme, want := range map[string][]string{
		"always": {"▁a", "▁b", "▁", "▁b"},
		"first":  {"▁a", "▁b", "▁", "▁b"},
		"never":  {"a", "▁b", "▁", "▁b"},
	} {
		doc := `{"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"` + scheme + `","split":true},"model":` + model + `}`
		tok, err := FromJSON([]byte(doc), scheme)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Encode("a b  b").Tokens; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %q, want %q", scheme, got, want)
		}
	}
	// Legacy form.
	doc := `{"pre_tokenizer":{"type":"Metaspace","replacement":"▁","add_prefix_space":false},"model":` + model + `}`
	tok, err := FromJSON([]byte(doc), "legacy")
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("a b").Tokens; !reflect.DeepEqual(got, []string{"a", "▁b"}) {
		t.Errorf("legacy: %q", got)
	}
}

func TestPreTokenizers(t *testing.T) {
	model := `{"type":"WordPiece","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2}}`
	for pre, want := range map[string][]string{
		`{"type":"Whitespace"}`:       {"Hello", ",", "world", "!!", "it", "'", "s", "x_1"},
		`{"type":"WhitespaceSplit"}`:  {"Hello,", "world!!", "it's", "x_1"},
		`{"type":"BertPreTokenizer"}`: {"Hello", ",", "world", "!", "!", "it", "'", "s", "x", "_", "1"},
		`{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Whitespace"}]}`: {
			"Hello", ",", "world", "!!", "it", "'", "s", "x_1"},
	} {
		p, err := parsePreTokenizer(json.RawMessage(pre))
		if err != nil {
			t.Fatalf("%s: %v", pre, err)
		}
		var got []string
		for _, w := range p(newNstr("Hello, world!!\tit's  x_1"), preCtx{}) {
			got = append(got, string(w.r))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %q, want %q", pre, got, want)
		}
	}
	// BertProcessing gives BERT's templates.
	doc := `{"model":` + model + `,"post_processor":{"type":"BertProcessing","sep":["[SEP]",2],"cls":["[CLS]",1]}}`
	tok, err := FromJSON([]byte(doc), "bert processing")
	if err != nil {
		t.Fatal(err)
	}
	e := Encoding{IDs: []int{0}}
	if in := tok.Pair(e, e, 0); !reflect.DeepEqual(in.IDs, []int{1, 0, 2, 0, 2}) || !reflect.DeepEqual(in.TypeIDs, []int{0, 0, 0, 1, 1}) {
		t.Errorf("BertProcessing pair %+v", in)
	}
}

func TestNormalizers(t *testing.T) {
	cases := []struct {
		json, in, want string
	}{
		{`{"type":"Lowercase"}`, "ÀBC İ", "àbc i\u0307"},
		{`{"type":"NFD"}`, "é", "e\u0301"},
		{`{"type":"NFC"}`, "e\u0301", "é"},
		{`{"type":"NFKC"}`, "ﬁ①", "fi1"},
		{`{"type":"NFKD"}`, "ﬁé", "fie\u0301"},
		{`{"type":"StripAccents"}`, "e\u0301é", "eé"},
		{`{"type":"Strip","strip_left":true,"strip_right":false}`, "  a  ", "a  "},
		{`{"type":"Prepend","prepend":"▁"}`, "ab", "▁ab"},
		{`{"type":"Replace","pattern":{"String":"ab"},"content":"x"}`, "abcab", "xcx"},
		{`{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}`, "a   b  c d", "a b c d"},
		{`{"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"StripAccents"},{"type":"Lowercase"}]}`, "Éa", "ea"},
		{`{"type":"BertNormalizer","lowercase":false}`, "A\tb\x00北", "A b 北 "},
		{`{"type":"BertNormalizer","strip_accents":false}`, "É", "é"},
	}
	for _, c := range cases {
		n, err := parseNormalizer(json.RawMessage(c.json))
		if err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		if got := string(n(newNstr(c.in)).r); got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.json, c.in, got, c.want)
		}
	}
	if _, err := parseNormalizer(json.RawMessage(`{"type":"Nope"}`)); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("unknown normalizer: %v", err)
	}
}

// TestNormalizerSpans checks that offsets survive normalization.
func TestNormalizerSpans(t *testing.T) {
	n := nfcNorm(newNstr("xe\u0301y"))
	if want := []span{{0, 1}, {1, 2}, {4, 5}}; !reflect.DeepEqual(n.span, want) {
		t.Errorf("NFC spans %v", n.span)
	}
	n = stripAccents(newNstr("é!"))
	if string(n.r) != "e!" || !reflect.DeepEqual(n.span, []span{{0, 2}, {2, 3}}) {
		t.Errorf("strip accents %q %v", string(n.r), n.span)
	}
}

// TestPrecompiledTrie checks the Darts reading on the fixture's charsmap:
// the shortest matching prefix wins, and short grapheme clusters are looked
// up whole.
func TestPrecompiledTrie(t *testing.T) {
	tok := mustLoad(t, "testdata/unigram_tokenizer.json")
	for in, want := range map[string]string{
		"ﬁ":            "fi",
		"Ａ\u0301":      "A", // the cluster's prefix "Ａ" replaces the whole cluster
		"e\u0301":      "é",
		"xe\u0301":     "xé",
		"\u1100\u1161": "\u1100\u1161", // 6 bytes: looked up per character
		"\u3000a":      " a",
	} {
		if got := string(tok.normalize(newNstr(in)).r); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := parsePrecompiled([]byte{8, 0, 0, 0, 1}); err == nil {
		t.Error("truncated charsmap accepted")
	}
}

// TestVocabMergesFiles checks the vocab.json + merges.txt reader against
// the tokenizer.json fixture with the same model.
func TestVocabMergesFiles(t *testing.T) {
	data, err := os.ReadFile("testdata/bpe_tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Model struct {
			Vocab  map[string]int `json:"vocab"`
			Merges []string       `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	vocab, _ := json.Marshal(doc.Model.Vocab)
	merges := "#version: 0.2\n" + strings.Join(doc.Model.Merges, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), vocab, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "merges.txt"), []byte(merges), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref := mustLoad(t, "testdata/bpe_tokenizer.json")
	texts, _ := loadFixtures(t)
	for _, text := range append(texts.Tricky, texts.EWT[:50]...) {
		a, b := files.Encode(text), ref.Encode(text)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%q:\nfiles %v %v\njson  %v %v", text, a.IDs, a.Offsets, b.IDs, b.Offsets)
		}
		if files.Decode(a.IDs) != ref.Decode(b.IDs) {
			t.Errorf("%q: decode differs", text)
		}
	}
	if files.Specials() != ref.Specials() {
		t.Errorf("specials %+v vs %+v", files.Specials(), ref.Specials())
	}
	// The merges in [a, b] form give the same tokenizer.
	var generic map[string]any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	model := generic["model"].(map[string]any)
	var pairs [][2]string
	for _, m := range doc.Model.Merges {
		a, b, _ := strings.Cut(m, " ")
		pairs = append(pairs, [2]string{a, b})
	}
	model["merges"] = pairs
	arrayForm, _ := json.Marshal(generic)
	tok, err := FromJSON(arrayForm, "array form")
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range texts.EWT[:20] {
		if !reflect.DeepEqual(tok.Encode(text), ref.Encode(text)) {
			t.Errorf("array-form merges differ on %q", text)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "tokenizer.json") || !strings.Contains(err.Error(), "vocab.txt") {
		t.Errorf("empty dir: %v", err)
	}
	bad := map[string]string{
		"not json":           `{`,
		"no model":           `{}`,
		"word level":         `{"model":{"type":"WordLevel","vocab":{"a":0}}}`,
		"missing unk":        `{"model":{"type":"WordPiece","vocab":{"a":0}}}`,
		"negative id":        `{"model":{"type":"WordPiece","vocab":{"[UNK]":-1}}}`,
		"huge id":            `{"model":{"type":"WordPiece","vocab":{"[UNK]":99999999}}}`,
		"bad template":       `{"model":{"type":"WordPiece","vocab":{"[UNK]":0}},"post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"X","type_id":0}}],"pair":[],"special_tokens":{}}}`,
		"bad pre-tokenizer":  `{"model":{"type":"WordPiece","vocab":{"[UNK]":0}},"pre_tokenizer":{"type":"Split"}}`,
		"bad regex":          `{"model":{"type":"WordPiece","vocab":{"[UNK]":0}},"normalizer":{"type":"Replace","pattern":{"Regex":"(?<=a)"},"content":""}}`,
		"bad charsmap":       `{"model":{"type":"WordPiece","vocab":{"[UNK]":0}},"normalizer":{"type":"Precompiled","precompiled_charsmap":"AAAA"}}`,
		"bad unigram entry":  `{"model":{"type":"Unigram","unk_id":0,"vocab":[["a"]]}}`,
		"roberta id missing": `{"model":{"type":"WordPiece","vocab":{"[UNK]":0}},"post_processor":{"type":"RobertaProcessing","sep":["</s>",5],"cls":["<s>",0]}}`,
	}
	for name, doc := range bad {
		if _, err := FromJSON([]byte(doc), name); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), name+":") {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, testVocab, BertOptions{Lowercase: true}); err != nil {
		t.Fatal(err)
	}
	tok, err := FromJSON(buf.Bytes(), "written")
	if err != nil {
		t.Fatal(err)
	}
	ref := newTestBert(t, true)
	for _, text := range []string{"Hello, Café! 北京 unaffable [MASK]", "don't $^`"} {
		if !reflect.DeepEqual(tok.Encode(text), ref.Encode(text)) {
			t.Errorf("%q differs", text)
		}
	}
	if err := WriteJSON(&buf, []string{"a", "a"}, BertOptions{}); err == nil {
		t.Error("duplicate tokens accepted")
	}
	if err := WriteJSON(&buf, []string{"[UNK]"}, BertOptions{}); err == nil {
		t.Error("vocabulary without [CLS] accepted")
	}
	if err := WriteVocabTxt(&buf, []string{"a\nb"}); err == nil {
		t.Error("token with a newline accepted")
	}
}

// TestWriteJSONRealVocab writes bert-base-uncased's vocabulary with
// WriteJSON and checks the result tokenizes like the original tokenizer.json.
func TestWriteJSONRealVocab(t *testing.T) {
	dir := sharedData(t)
	data, err := os.ReadFile(filepath.Join(dir, "bert_vocab/bert-base-uncased/vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	vocab := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var txt bytes.Buffer
	if err := WriteVocabTxt(&txt, vocab); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(txt.Bytes(), data) {
		t.Error("WriteVocabTxt does not reproduce vocab.txt")
	}
	written, err := NewBert(vocab, BertOptions{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	ref := mustLoad(t, filepath.Join(dir, "bert_vocab/bert-base-uncased/tokenizer.json"))
	texts, _ := loadFixtures(t)
	for _, text := range append(texts.Tricky, texts.EWT...) {
		if a, b := written.Encode(text), ref.Encode(text); !reflect.DeepEqual(a, b) {
			t.Errorf("%q: %v vs %v", text, a.IDs, b.IDs)
		}
	}
}
