package tokenizer

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The hard lines (testdata/hard_lines.json) are the kinds of text on which
// other Go tokenizers were found to disagree with HuggingFace tokenizers or
// to panic: Unicode spaces, BOMs and joiners, adjacent special tokens,
// letters with special case mappings (ẞ, İ, ΐ, ǅ, ﬃ, ı, final sigma),
// combining sequences, Russian й/ё and stress marks, words over
// max_input_chars_per_word, runs of punctuation, mixed scripts, emoji
// sequences, and lines that are not UTF-8. testdata/hf_hard.json.gz holds
// what HF tokenizers 0.23.2 (its Node binding) gives for them with every
// shared vocabulary and the two fixture tokenizers; regenerate it with
//
//	sh loader/tokenizer/testdata/make_hard_fixtures.sh
//
// A valid line is one that is UTF-8; the invalid_hex lines are not.

type hardLines struct {
	Valid      []string `json:"valid"`
	InvalidHex []string `json:"invalid_hex"`
}

// invalid returns the lines that are not UTF-8.
func (h hardLines) invalid(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, s := range h.InvalidHex {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		if utf8.Valid(b) {
			t.Fatalf("invalid_hex line %q is valid UTF-8", b)
		}
		out = append(out, string(b))
	}
	return out
}

// hfHardEncoding is HF's encoding of one hard line: without special tokens
// (ids, words, offsets, decoded), with them (special), and for an invalid
// line the text HF was given (replaced). Python, for the WordPiece
// vocabularies, is HF's encoding of the line as transformers' BertTokenizer
// reads it (see hf_hard.js), where its ids or word ids differ.
type hfHardEncoding struct {
	hfEncoding
	Special  []int  `json:"special"`
	Replaced string `json:"replaced"`
	Python   *struct {
		Text  string `json:"text"`
		IDs   []int  `json:"ids"`
		Words []int  `json:"words"`
	} `json:"python"`
}

type hfHardSet struct {
	Valid   []hfHardEncoding `json:"valid"`
	Invalid []hfHardEncoding `json:"invalid"`
}

func loadHard(t testing.TB) (hardLines, map[string]hfHardSet) {
	t.Helper()
	var lines hardLines
	golden := map[string]hfHardSet{}
	readJSON(t, "testdata/hard_lines.json", &lines)
	readJSON(t, "testdata/hf_hard.json.gz", &golden)
	for name, g := range golden {
		if len(g.Valid) != len(lines.Valid) || len(g.Invalid) != len(lines.InvalidHex) {
			t.Fatalf("hf_hard.json.gz %s has %d+%d encodings for %d+%d lines: regenerate it",
				name, len(g.Valid), len(g.Invalid), len(lines.Valid), len(lines.InvalidHex))
		}
	}
	return lines, golden
}

type hardTokenizer struct {
	name   string
	golden string // its HF encodings in hf_hard.json.gz
	tok    *Tokenizer
	// vocabTxt: read from vocab.txt as transformers' BertTokenizer does,
	// so HF's encoding of the BertTokenizer reading applies.
	vocabTxt bool
}

// hfTokenizers are the tokenizers that must give HF's encodings: the shared
// tokenizer.json files, NewBert on the shared vocab.txt files (the
// tokenizer.json BertTokenizerFast converts them to) and the fixtures.
func hfTokenizers(t *testing.T) []hardTokenizer {
	bv := filepath.Join(sharedData(t), "bert_vocab")
	newBert := func(path string, lower bool) *Tokenizer {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := vocabLines(data, path)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := NewBert(lines, BertOptions{Lowercase: lower})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	return []hardTokenizer{
		{"bert-base-uncased/tokenizer.json", "bert_uncased", mustLoad(t, filepath.Join(bv, "bert-base-uncased/tokenizer.json")), false},
		{"all-MiniLM-L6-v2", "minilm", mustLoadDir(t, filepath.Join(bv, "all-MiniLM-L6-v2")), false},
		{"NewBert(bert-base-uncased/vocab.txt)", "bert_uncased", newBert(filepath.Join(bv, "bert-base-uncased/vocab.txt"), true), false},
		{"NewBert(bert-base-cased/vocab.txt)", "bert_cased", newBert(filepath.Join(bv, "bert-base-cased/vocab.txt"), false), false},
		{"NewBert(bert-base-multilingual-cased/vocab.txt)", "mbert_cased",
			newBert(filepath.Join(bv, "bert-base-multilingual-cased/vocab.txt"), false), false},
		{"bpe_tokenizer.json", "bpe", mustLoad(t, "testdata/bpe_tokenizer.json"), false},
		{"unigram_tokenizer.json", "unigram", mustLoad(t, "testdata/unigram_tokenizer.json"), false},
	}
}

// vocabTxtTokenizers are the shared vocab.txt files as Load reads them
// (BertTokenizer's rules; uncased or cased as the vocabulary says).
func vocabTxtTokenizers(t *testing.T) []hardTokenizer {
	bv := filepath.Join(sharedData(t), "bert_vocab")
	return []hardTokenizer{
		{"Load(bert-base-uncased/vocab.txt)", "bert_uncased", mustLoad(t, filepath.Join(bv, "bert-base-uncased/vocab.txt")), true},
		{"Load(bert-base-cased)", "bert_cased", mustLoadDir(t, filepath.Join(bv, "bert-base-cased")), true},
		{"Load(bert-base-multilingual-cased)", "mbert_cased", mustLoadDir(t, filepath.Join(bv, "bert-base-multilingual-cased")), true},
	}
}

func mustLoadDir(t testing.TB, dir string) *Tokenizer {
	t.Helper()
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// compareHard lists how e, tok's encoding of text (its offsets already
// mapped into text), differs from HF's. With vocabTxt and a BertTokenizer
// reading whose pieces differ from HF's, only ids and word ids are compared,
// with those of that reading.
func compareHard(tok *Tokenizer, text string, e Encoding, want hfHardEncoding, vocabTxt bool) []string {
	q := func(v any) string { return fmt.Sprintf("%v", v) }
	if vocabTxt && want.Python != nil {
		if !reflect.DeepEqual(nonNil(e.IDs), nonNil(want.Python.IDs)) || !reflect.DeepEqual(nonNil(e.WordIndex), nonNil(want.Python.Words)) {
			return []string{fmt.Sprintf("BertTokenizer reading %+q:\n ids %v words %v\nwant %v words %v\ntoks %q",
				want.Python.Text, e.IDs, e.WordIndex, want.Python.IDs, want.Python.Words, e.Tokens)}
		}
		return nil
	}
	if !reflect.DeepEqual(nonNil(e.IDs), nonNil(want.IDs)) {
		return []string{fmt.Sprintf("\n ids %v\nwant %v\ntoks %q", e.IDs, want.IDs, e.Tokens)}
	}
	var diffs []string
	if !reflect.DeepEqual(nonNil(e.WordIndex), nonNil(want.Words)) {
		diffs = append(diffs, "words "+q(e.WordIndex)+", want "+q(want.Words))
	}
	if got := viaCharOffsets(text, e.Offsets); !reflect.DeepEqual(got, nonNilOff(want.Offsets)) {
		diffs = append(diffs, "offsets "+q(e.Offsets)+", want "+q(want.Offsets))
	}
	if got := tok.Decode(e.IDs); got != want.Decoded {
		diffs = append(diffs, fmt.Sprintf("decoded %q, want %q", got, want.Decoded))
	}
	if got := tok.Single(e, 0).IDs; !reflect.DeepEqual(got, want.Special) {
		diffs = append(diffs, "with special tokens "+q(got)+", want "+q(want.Special))
	}
	return diffs
}

func checkHardValid(t *testing.T, c hardTokenizer, lines hardLines, golden map[string]hfHardSet) {
	g, ok := golden[c.golden]
	if !ok {
		t.Fatalf("hf_hard.json.gz has no %s", c.golden)
	}
	for i, text := range lines.Valid {
		for _, d := range compareHard(c.tok, text, c.tok.Encode(text), g.Valid[i], c.vocabTxt) {
			t.Errorf("line %d %+q: %s", i, text, d)
		}
	}
}

// TestMatchesHuggingFaceOnHardLines pins ids, word ids, offsets, decoding
// and the special tokens of every valid hard line to HF's, for the shared
// tokenizer.json files, NewBert on the shared vocab.txt files and the
// fixture BPE and Unigram tokenizers.
func TestMatchesHuggingFaceOnHardLines(t *testing.T) {
	lines, golden := loadHard(t)
	for _, c := range hfTokenizers(t) {
		t.Run(c.name, func(t *testing.T) { checkHardValid(t, c, lines, golden) })
	}
}

// TestVocabTxtOnHardLines pins the shared vocab.txt files as Load reads
// them (transformers' BertTokenizer): HF's encodings wherever BertTokenizer's
// own steps (dropping unassigned code points, the CJK Extension E range,
// NFC) change nothing, and HF's encoding of BertTokenizer's reading of the
// line where they do (combining sequences, Kelvin/Ångström/Ohm signs,
// U+0378 and U+FFFF, U+2B820).
func TestVocabTxtOnHardLines(t *testing.T) {
	lines, golden := loadHard(t)
	for _, c := range vocabTxtTokenizers(t) {
		t.Run(c.name, func(t *testing.T) { checkHardValid(t, c, lines, golden) })
	}
}

// TestHardLinesNotUTF8 checks lines that are not UTF-8 with every
// tokenizer. The behaviour: nothing panics, and every byte that starts no
// valid UTF-8 sequence reads as one U+FFFD spanning that byte (as Go's
// utf8.DecodeRune reads it), so the ids, word ids, decoding and special
// tokens are HF's for the line with those bytes replaced, and the offsets
// are HF's mapped back to the bytes of the line. BERT's text cleaning then
// drops the U+FFFD characters; byte-level BPE encodes their bytes EF BF BD.
func TestHardLinesNotUTF8(t *testing.T) {
	lines, golden := loadHard(t)
	invalid := lines.invalid(t)
	for _, c := range append(hfTokenizers(t), vocabTxtTokenizers(t)...) {
		t.Run(c.name, func(t *testing.T) {
			g := golden[c.golden]
			for i, line := range invalid {
				want := g.Invalid[i]
				replaced, toReplaced := readAsGo(line)
				if replaced != want.Replaced {
					t.Fatalf("line %d %+q reads as %+q here, as %+q in hf_hard.js", i, line, replaced, want.Replaced)
				}
				var e Encoding
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("line %d %+q: panic %v", i, line, r)
						}
					}()
					e = c.tok.Encode(line)
					exercise(t, c.tok, line, true)
				}()
				for k, off := range e.Offsets {
					a, okA := toReplaced[off[0]]
					b, okB := toReplaced[off[1]]
					if !okA || !okB {
						t.Fatalf("line %d %+q: offsets %v are not at character boundaries", i, line, off)
					}
					e.Offsets[k] = [2]int{a, b}
				}
				for _, d := range compareHard(c.tok, replaced, e, want, c.vocabTxt) {
					t.Errorf("line %d %+q: %s", i, line, d)
				}
			}
		})
	}
}

// readAsGo returns s with every byte that starts no valid UTF-8 sequence
// replaced by U+FFFD, and the map from the character boundaries of s to
// those of the result.
func readAsGo(s string) (string, map[int]int) {
	var b strings.Builder
	pos := map[int]int{}
	for i, r := range s {
		pos[i] = b.Len()
		b.WriteRune(r)
	}
	pos[len(s)] = b.Len()
	return b.String(), pos
}
