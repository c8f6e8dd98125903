package tokenizer

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// trainOn trains on lines with opt, failing the test on error.
func trainOn(t *testing.T, opt TrainOptions, lines ...string) ([]string, [][2]string) {
	t.Helper()
	tr := NewTrainer(opt)
	for _, l := range lines {
		tr.Add(l)
	}
	vocab, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	return vocab, tr.Merges()
}

// sennrich is the corpus of Sennrich et al.'s BPE example: low ×5,
// lower ×2, newest ×6, widest ×3.
func sennrich() []string {
	return []string{
		strings.Repeat("low ", 5), strings.Repeat("lower ", 2),
		strings.Repeat("newest ", 6), strings.Repeat("widest ", 3),
	}
}

// sennrichMerges are the merges of sennrich(), worked out by hand. The ids
// are: specials 0-4, d e i l n o r s t w 5-14, ##d ##e ##i ##o ##r ##s ##t
// ##w 15-22, then merged tokens from 23. Pair counts: (##e,##s) 9 and
// (##s,##t) 9 tie, and ##e (16) < ##s (20); then (##es,##t) 9; (l,##o) 7
// and (##o,##w) 7 tie, and l (8) < ##o (18); then (lo,##w) 7; (n,##e) 6,
// (##e,##w) 6 and (##w,##est) 6, and n (9) is smallest; ...; the pairs of
// "lower" (2) last, (##e,##r) before (low,##e).
var sennrichMerges = [][2]string{
	{"##e", "##s"}, {"##es", "##t"}, {"l", "##o"}, {"lo", "##w"},
	{"n", "##e"}, {"##w", "##est"}, {"ne", "##west"},
	{"w", "##i"}, {"##d", "##est"}, {"wi", "##dest"},
	{"##e", "##r"}, {"low", "##er"},
}

var sennrichAlphabet = []string{
	"d", "e", "i", "l", "n", "o", "r", "s", "t", "w",
	"##d", "##e", "##i", "##o", "##r", "##s", "##t", "##w",
}

var sennrichTokens = []string{
	"##es", "##est", "lo", "low", "ne", "##west", "newest",
	"wi", "##dest", "widest", "##er", "lower",
}

func TestTrainHandComputed(t *testing.T) {
	vocab, merges := trainOn(t, TrainOptions{VocabSize: 100}, sennrich()...)
	if !slices.Equal(merges, sennrichMerges) {
		t.Errorf("merges:\n got %v\nwant %v", merges, sennrichMerges)
	}
	want := slices.Concat(bertSpecials, sennrichAlphabet, sennrichTokens)
	if !slices.Equal(vocab, want) {
		t.Errorf("vocabulary:\n got %v\nwant %v", vocab, want)
	}

	// A size limit stops the merges early; MinFrequency stops them at the
	// first pair seen too rarely.
	base := len(bertSpecials) + len(sennrichAlphabet)
	cases := []struct {
		opt  TrainOptions
		want int // merges
	}{
		{TrainOptions{VocabSize: base}, 0},
		{TrainOptions{VocabSize: base + 4}, 4},
		{TrainOptions{VocabSize: 100, MinFrequency: 3}, 10},
		{TrainOptions{VocabSize: 100, MinFrequency: 7}, 4},
		{TrainOptions{VocabSize: 100, MinFrequency: 10}, 0},
	}
	for _, c := range cases {
		vocab, merges := trainOn(t, c.opt, sennrich()...)
		if !slices.Equal(merges, sennrichMerges[:c.want]) || !slices.Equal(vocab, want[:base+c.want]) {
			t.Errorf("%+v: %d merges, vocabulary %v; want %d merges", c.opt, len(merges), vocab, c.want)
		}
	}
}

func TestTrainProgress(t *testing.T) {
	var calls [][2]int
	trainOn(t, TrainOptions{VocabSize: 100, Progress: func(m, s int) { calls = append(calls, [2]int{m, s}) }}, sennrich()...)
	want := [][2]int{{12, len(bertSpecials) + len(sennrichAlphabet) + 12}}
	if !slices.Equal(calls, want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
}

func TestTrainMergesMakeVocabulary(t *testing.T) {
	vocab, merges := trainOn(t, TrainOptions{VocabSize: 1000}, readCorpus(t)...)
	if len(vocab) != 1000 || len(merges) == 0 {
		t.Fatalf("%d tokens after %d merges", len(vocab), len(merges))
	}
	ids := make(map[string]int)
	for id, tok := range vocab {
		if _, dup := ids[tok]; dup {
			t.Fatalf("token %q twice", tok)
		}
		ids[tok] = id
	}
	first := len(vocab) - len(merges)
	for i, m := range merges {
		made := m[0] + strings.TrimPrefix(m[1], "##")
		a, okA := ids[m[0]]
		b, okB := ids[m[1]]
		if vocab[first+i] != made || !okA || !okB || a >= first+i || b >= first+i {
			t.Fatalf("merge %d %v: token %d is %q", i, m, first+i, vocab[first+i])
		}
	}
}

// readCorpus returns the lines of the training corpus fixture (the first
// 400 sentences of UD English-EWT train).
func readCorpus(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/train_corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestTrainDeterministic(t *testing.T) {
	lines := readCorpus(t)
	opt := TrainOptions{VocabSize: 1500, MinFrequency: 2, Lowercase: true}
	tr := NewTrainer(opt)
	for _, l := range lines {
		tr.Add(l)
	}
	first, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	again, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	// The same text in reverse order counts the same words.
	reversed := slices.Clone(lines)
	slices.Reverse(reversed)
	other, _ := trainOn(t, opt, reversed...)
	if !slices.Equal(first, again) || !slices.Equal(first, other) {
		t.Error("training twice gave different vocabularies")
	}
	if len(first) != 1500 || !slices.Equal(first[:5], bertSpecials) {
		t.Errorf("%d tokens starting %v", len(first), first[:5])
	}
}

func TestTrainLimitAlphabet(t *testing.T) {
	// "zoo" and "qi" hold the rarest characters, z and q: cut to 10
	// characters, the alphabet drops them and the words holding them, so
	// training goes as without those words.
	lines := append(sennrich(), "zoo qi")
	vocab, merges := trainOn(t, TrainOptions{VocabSize: 100, LimitAlphabet: 10}, lines...)
	want := slices.Concat(bertSpecials, sennrichAlphabet, sennrichTokens)
	if !slices.Equal(vocab, want) || !slices.Equal(merges, sennrichMerges) {
		t.Errorf("limited: vocabulary %v, merges %v", vocab, merges)
	}
	// Uncut, z and q and their words are learnt. Cut to 11 characters, the
	// tie between z and q (seen once each) keeps the lower code point.
	vocab, _ = trainOn(t, TrainOptions{VocabSize: 100}, lines...)
	for _, tok := range []string{"z", "q", "##o", "zoo", "qi"} {
		if !slices.Contains(vocab, tok) {
			t.Errorf("unlimited vocabulary lacks %q", tok)
		}
	}
	vocab, _ = trainOn(t, TrainOptions{VocabSize: 100, LimitAlphabet: 11}, lines...)
	if !slices.Contains(vocab, "q") || slices.Contains(vocab, "z") {
		t.Errorf("11 characters: %v", vocab[5:17])
	}
}

func TestTrainCasing(t *testing.T) {
	lines := []string{"Low LOW low Café café CAFÉ"}
	// Uncased: low ×3 and cafe ×3, whose pairs all tie at 3; c (6) < l (9)
	// < ##f (14).
	uncased, _ := trainOn(t, TrainOptions{VocabSize: 100, Lowercase: true}, lines...)
	want := slices.Concat(bertSpecials,
		[]string{"a", "c", "e", "f", "l", "o", "w", "##a", "##e", "##f", "##o", "##w"},
		[]string{"ca", "lo", "##fe", "cafe", "low"})
	if !slices.Equal(uncased, want) {
		t.Errorf("uncased:\n got %v\nwant %v", uncased, want)
	}
	cased, _ := trainOn(t, TrainOptions{VocabSize: 100}, lines...)
	for _, tok := range []string{"L", "C", "##É", "##é", "Low", "LOW", "low", "Café", "café", "CAFÉ"} {
		if !slices.Contains(cased, tok) {
			t.Errorf("cased vocabulary lacks %q: %v", tok, cased)
		}
	}
}

func TestTrainWords(t *testing.T) {
	tr := NewTrainer(TrainOptions{VocabSize: 100, Lowercase: true})
	// Special tokens written in the text are not words; punctuation and CJK
	// ideographs are words of their own; control characters and invalid
	// UTF-8 go.
	tr.Add("[CLS] Don't\x00 stop,北京 \xff[SEP]")
	if total, distinct := tr.Words(); total != 7 || distinct != 7 {
		t.Errorf("Words() = %d, %d; want 7, 7 (don ' t stop , 北 京)", total, distinct)
	}
	tr.Add("stop  STOP")
	if total, distinct := tr.Words(); total != 9 || distinct != 7 {
		t.Errorf("Words() = %d, %d; want 9, 7", total, distinct)
	}
	vocab, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"[", "]", "sep", "cls", "\x00", "##\x00"} {
		if slices.Contains(vocab[len(bertSpecials):], tok) {
			t.Errorf("vocabulary holds %q: %v", tok, vocab)
		}
	}
}

func TestTrainLongWords(t *testing.T) {
	// A word of 101 characters is [UNK] for the tokenizer, so it adds
	// nothing; one of 100 counts.
	long := strings.Repeat("x", 100)
	vocab, _ := trainOn(t, TrainOptions{VocabSize: 1000}, long+"y", "ab")
	if slices.Contains(vocab, "x") || slices.Contains(vocab, "##y") {
		t.Errorf("a 101-character word counted: %v", vocab)
	}
	vocab, _ = trainOn(t, TrainOptions{VocabSize: 1000}, long, "ab")
	if !slices.Contains(vocab, long) {
		t.Errorf("a 100-character word was not learnt: %d tokens", len(vocab))
	}
}

func TestTrainErrors(t *testing.T) {
	cases := []struct {
		opt   TrainOptions
		lines []string
		want  string
	}{
		{TrainOptions{VocabSize: 100}, nil, "no words"},
		{TrainOptions{VocabSize: 100}, []string{" \t\x00 [SEP] "}, "no words"},
		{TrainOptions{VocabSize: 100}, []string{strings.Repeat("y", 101)}, "longer than 100 characters"},
		{TrainOptions{VocabSize: 0}, []string{"low"}, "not positive"},
		{TrainOptions{VocabSize: 10}, sennrich(), "too small for the 5 special tokens and 18 character tokens"},
	}
	for _, c := range cases {
		tr := NewTrainer(c.opt)
		for _, l := range c.lines {
			tr.Add(l)
		}
		if _, err := tr.Train(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v on %q: error %v, want %q", c.opt, c.lines, err, c.want)
		}
	}
}

// TestTrainRoundTrip checks the trained vocabulary with the tokenizer made
// from it: the tokenizer splits the text into the words the trainer
// counted, covers every one of them without [UNK], and makes common words
// single tokens.
func TestTrainRoundTrip(t *testing.T) {
	for _, lower := range []bool{true, false} {
		t.Run(fmt.Sprint("lowercase=", lower), func(t *testing.T) {
			lines := readCorpus(t)
			tr := NewTrainer(TrainOptions{VocabSize: 3000, MinFrequency: 2, Lowercase: lower})
			for _, l := range lines {
				tr.Add(l)
			}
			vocab, err := tr.Train()
			if err != nil {
				t.Fatal(err)
			}
			tok, err := NewBert(vocab, BertOptions{Lowercase: lower})
			if err != nil {
				t.Fatal(err)
			}
			words, _ := tr.Words()
			seen, unk := 0, 0
			for _, l := range lines {
				e := tok.Encode(l)
				for i, id := range e.IDs {
					if i == 0 || e.WordIndex[i] != e.WordIndex[i-1] {
						seen++
					}
					if id == tok.Specials().UNK {
						unk++
					}
				}
			}
			if seen != words || unk != 0 {
				t.Errorf("tokenizer: %d words, %d [UNK]; trainer: %d words", seen, unk, words)
			}
			for _, w := range []string{"the", "of", "and", "to", "was", "in"} {
				if e := tok.Encode(w); e.Len() != 1 {
					t.Errorf("%q is %v", w, e.Tokens)
				}
			}
		})
	}
}

// TestTrainMatchesHF compares the vocabulary with the one HF tokenizers'
// WordPieceTrainer learns from the same text (testdata/train_hf.sh): same
// settings (no special tokens there, no minimum frequency, merging until no
// pair is left), same alphabet, and nearly the same merged tokens. They
// differ where HF breaks ties by its hash-ordered "##c" ids; two HF runs
// differ from each other about as much.
func TestTrainMatchesHF(t *testing.T) {
	data, err := os.ReadFile("testdata/train_hf_vocab.txt")
	if err != nil {
		t.Fatal(err)
	}
	hf := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	vocab, _ := trainOn(t, TrainOptions{VocabSize: 1 << 20, Lowercase: true}, readCorpus(t)...)
	ours := vocab[len(bertSpecials):]
	alphabet := func(v []string) int {
		n := 0
		for n < len(v) && utf8.RuneCountInString(strings.TrimPrefix(v[n], "##")) == 1 {
			n++
		}
		return n
	}
	na, nb := alphabet(ours), alphabet(hf)
	a, b := slices.Clone(ours[:na]), slices.Clone(hf[:nb])
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Fatalf("alphabets differ:\n ours %v\n   hf %v", a, b)
	}
	ours, hf = ours[na:], hf[nb:]
	for _, k := range []int{1000, min(len(ours), len(hf))} {
		in := make(map[string]bool, k)
		for _, tok := range hf[:k] {
			in[tok] = true
		}
		same := 0
		for _, tok := range ours[:k] {
			if in[tok] {
				same++
			}
		}
		t.Logf("first %d merged tokens: %.1f%% in common (%d and %d in all)", k, 100*float64(same)/float64(k), len(ours), len(hf))
		if same < k*98/100 {
			t.Errorf("first %d merged tokens: only %d in common with HF", k, same)
		}
	}
}

// FuzzTrain trains on arbitrary text and checks the vocabulary: specials
// first, no duplicates, within the size, usable by NewBert, and (with the
// whole alphabet) covering every word of the text that is not too long.
func FuzzTrain(f *testing.F) {
	f.Add(strings.Join(sennrich(), "\n"), uint16(40), uint8(0), uint8(0), true)
	f.Add("Café CAFÉ naïve İstanbul 北京 don't\n\xff\x00 [SEP] ##x # ##", uint16(60), uint8(1), uint8(0), false)
	f.Add("aaaa aaa aa a\nabab ab ba", uint16(30), uint8(2), uint8(3), true)
	f.Fuzz(func(t *testing.T, text string, size uint16, minFreq, limit uint8, lower bool) {
		tr := NewTrainer(TrainOptions{VocabSize: int(size), MinFrequency: int(minFreq), LimitAlphabet: int(limit), Lowercase: lower})
		lines := strings.Split(text, "\n")
		for _, l := range lines {
			tr.Add(l)
		}
		vocab, err := tr.Train()
		if err != nil {
			return
		}
		if len(vocab) > int(size) || !slices.Equal(vocab[:len(bertSpecials)], bertSpecials) {
			t.Fatalf("size %d: %d tokens starting %q", size, len(vocab), vocab)
		}
		seen := make(map[string]bool)
		for _, tok := range vocab {
			if seen[tok] || tok == "" || tok == subwordPrefix {
				t.Fatalf("token %q twice or empty", tok)
			}
			seen[tok] = true
		}
		tok, err := NewBert(vocab, BertOptions{Lowercase: lower})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			e := tok.Encode(l)
			checkEncoding(t, tok, l, e, true)
			if limit > 0 || hasLongWord(tr, l) {
				continue // cut characters or long words make [UNK]
			}
			if slices.Contains(e.IDs, tok.Specials().UNK) {
				t.Fatalf("%q: %q", l, e.Tokens)
			}
		}
	})
}

// hasLongWord reports whether text has a word longer than maxWordChars
// once normalized.
func hasLongWord(tr *Trainer, text string) bool {
	for _, w := range bertPre(tr.normalize(newNstr(text)), preCtx{}) {
		if len(w.r) > maxWordChars {
			return true
		}
	}
	return false
}
