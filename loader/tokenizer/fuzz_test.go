package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// checkEncoding verifies the invariants every encoding of text must hold.
// Offsets only increase with a consistent configuration: a ByteLevel
// pre-tokenizer that adds a prefix space while the post-processor does not
// expect one makes HF (and this package) trim the first offsets past the
// next ones.
func checkEncoding(t *testing.T, tok *Tokenizer, text string, e Encoding, ordered bool) {
	t.Helper()
	n := e.Len()
	if len(e.Tokens) != n || len(e.Offsets) != n || len(e.WordIndex) != n {
		t.Fatalf("%q: lengths %d %d %d %d", text, n, len(e.Tokens), len(e.Offsets), len(e.WordIndex))
	}
	for i, id := range e.IDs {
		if id < 0 || id >= tok.VocabSize() {
			t.Fatalf("%q: id %d outside the vocabulary of %d", text, id, tok.VocabSize())
		}
		if tok.token(id) != e.Tokens[i] {
			t.Fatalf("%q: token %q for id %d", text, e.Tokens[i], id)
		}
		off := e.Offsets[i]
		if off[0] < 0 || off[0] > off[1] || off[1] > len(text) {
			t.Fatalf("%q: offsets %v outside the text", text, off)
		}
		if i > 0 && (ordered && off[0] < e.Offsets[i-1][0] || e.WordIndex[i] < e.WordIndex[i-1]) {
			t.Fatalf("%q: offsets %v or words %v decrease", text, e.Offsets, e.WordIndex)
		}
	}
}

func fuzzTokenizers(f *testing.F) []*Tokenizer {
	f.Helper()
	bert, err := NewBert(testVocab, BertOptions{Lowercase: true})
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	var buf bytes.Buffer
	if err := WriteVocabTxt(&buf, testVocab); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(dir+"/vocab.txt", buf.Bytes(), 0o644); err != nil {
		f.Fatal(err)
	}
	txt, err := Load(dir)
	if err != nil {
		f.Fatal(err)
	}
	toks := []*Tokenizer{bert, txt}
	for _, path := range []string{"testdata/bpe_tokenizer.json", "testdata/unigram_tokenizer.json"} {
		tok, err := FromFile(path)
		if err != nil {
			f.Fatal(err)
		}
		toks = append(toks, tok)
	}
	return toks
}

func exercise(t *testing.T, tok *Tokenizer, text string, ordered bool) {
	e := tok.Encode(text)
	checkEncoding(t, tok, text, e, ordered)
	if again := tok.Encode(text); !reflect.DeepEqual(again, e) {
		t.Fatalf("%q: second encoding differs", text)
	}
	tok.Decode(e.IDs)
	words := strings.Fields(text)
	we := tok.EncodeWords(words)
	for i, w := range we.WordIndex {
		if w < 0 || w >= len(words) || we.Offsets[i][0] < 0 || we.Offsets[i][1] > len(words[w]) {
			t.Fatalf("%q: word %d offsets %v", words, w, we.Offsets[i])
		}
	}
	ws, err := tok.Windows(e, 8, 2)
	if err != nil {
		t.Fatal(err)
	}
	owned := 0
	for _, w := range ws {
		owned += w.OwnEnd - w.OwnStart
		if len(w.IDs) > 8 {
			t.Fatalf("window of %d ids", len(w.IDs))
		}
	}
	if owned != e.Len() {
		t.Fatalf("%d of %d pieces owned", owned, e.Len())
	}
	tok.Pair(e, we, 10)
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", " ", "Hello, world!", "don't  stop\n\n", "北京 café e\u0301 ﬁ Ａ\u0301",
		"[CLS] <mask> x<mask>", "a\x00\xff\xfe b", "🥰👍🏻 \u1100\u1161", strings.Repeat("ab", 80)} {
		f.Add(s)
	}
	var hard hardLines // the lines of TestMatchesHuggingFaceOnHardLines
	readJSON(f, "testdata/hard_lines.json", &hard)
	for _, s := range append(hard.Valid, hard.invalid(f)...) {
		f.Add(s)
	}
	toks := fuzzTokenizers(f)
	f.Fuzz(func(t *testing.T, text string) {
		for _, tok := range toks {
			exercise(t, tok, text, true)
		}
	})
}

func FuzzLoadJSON(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, testVocab, BertOptions{}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(compactSeed(f, "testdata/bpe_tokenizer.json", 300))
	f.Add(compactSeed(f, "testdata/unigram_tokenizer.json", 40))
	for _, s := range []string{
		`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}`,
		`{"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",-1]]},"pre_tokenizer":{"type":"Metaspace"}}`,
		`{"model":{"vocab":{"[UNK]":0,"a":1},"max_input_chars_per_word":2},"normalizer":{"type":"Precompiled","precompiled_charsmap":"BAAAAAAAAAA="}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := FromJSON(data, "fuzz")
		if err != nil {
			return
		}
		for _, text := range []string{"", "Hello, world! ab", "a  b\n北京 ﬁ e\u0301 <mask> [CLS]", "\xff\x00"} {
			exercise(t, tok, text, false)
		}
	})
}

// compactSeed shrinks a fixture tokenizer.json to its first pieces (and the
// merges among them), so that the fuzzer mutates and minimizes it quickly.
func compactSeed(f *testing.F, path string, keep int) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		f.Fatal(err)
	}
	model := doc["model"].(map[string]any)
	switch vocab := model["vocab"].(type) {
	case []any:
		model["vocab"] = vocab[:keep]
	case map[string]any:
		for tok, id := range vocab {
			if id.(float64) >= float64(keep) {
				delete(vocab, tok)
			}
		}
		var merges []any
		for _, m := range model["merges"].([]any) {
			a, b, _ := strings.Cut(m.(string), " ")
			if _, ok := vocab[a+b]; ok {
				merges = append(merges, m)
			}
		}
		model["merges"] = merges
	}
	out, err := json.Marshal(doc)
	if err != nil {
		f.Fatal(err)
	}
	return out
}
