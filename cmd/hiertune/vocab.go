package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hiertune/hiertune/data/text"
	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

// vocabEvalLines is how many training lines the summary tokenizes again.
const vocabEvalLines = 10000

// runVocab trains a WordPiece vocabulary on text files and writes it as a
// tokenizer directory, then reports how well it covers the training text.
func runVocab(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("vocab", "vocab --input FILE[,FILE...] --output DIR [--size N] [--min-frequency N] [--cased] [--limit-alphabet N]", stdout, stderr)
	input := fs.String("input", "", "comma-separated UTF-8 text files to train on, read line by line")
	output := fs.String("output", "", "directory to write vocab.txt, tokenizer.json and tokenizer_config.json to (created if missing)")
	size := fs.Int("size", 30000, "vocabulary size, the 5 special tokens and the alphabet included")
	minFreq := fs.Int("min-frequency", 2, "merge no pair of tokens seen fewer times than this")
	cased := fs.Bool("cased", false, "keep case and accents (default: lower-case and strip accents, as bert-base-uncased)")
	limit := fs.Int("limit-alphabet", 1000, "keep at most this many characters, the most frequent (0: all); words with others become [UNK]")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *input == "" || *output == "":
		return usageError{"--input and --output are required"}
	case *size <= 0:
		return usageError{fmt.Sprintf("--size %d is not positive", *size)}
	case *minFreq < 0 || *limit < 0:
		return usageError{"--min-frequency and --limit-alphabet cannot be negative"}
	}
	files := strings.Split(*input, ",")
	for _, f := range files {
		if f == "" {
			return usageError{fmt.Sprintf("--input %q names an empty file name", *input)}
		}
	}

	progress := newProgressPrinter(stderr)
	tr := tokenizer.NewTrainer(tokenizer.TrainOptions{
		VocabSize: *size, MinFrequency: *minFreq, LimitAlphabet: *limit, Lowercase: !*cased,
		Progress: func(merges, tokens int) {
			progress.printf("%d merges, %d tokens", merges, tokens)
		},
	})
	lines := 0
	err := text.Lines(files, func(line, file string, _ int) error {
		tr.Add(line)
		lines++
		words, _ := tr.Words()
		progress.printf("%d lines read, %d words (reading %s)", lines, words, file)
		return nil
	})
	if err != nil {
		return err
	}
	words, distinct := tr.Words()
	progress.done("read %d lines: %d words, %d distinct", lines, words, distinct)
	if words == 0 {
		return fmt.Errorf("%s: the corpus has no words", *input)
	}
	vocab, err := tr.Train()
	if err != nil {
		return err
	}
	progress.done("trained: %d merges, %d tokens", len(tr.Merges()), len(vocab))
	if err := writeVocab(*output, vocab, !*cased); err != nil {
		return err
	}

	tok, err := tokenizer.Load(*output)
	if err != nil {
		return err
	}
	c, err := measureVocab(tok, files)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: vocab.txt, tokenizer.json, tokenizer_config.json\n", *output)
	fmt.Fprintf(stdout, "vocabulary: %d tokens after %d merges", len(vocab), len(tr.Merges()))
	if len(vocab) < *size {
		fmt.Fprintf(stdout, " (stopped short of %d: no pair left seen at least %d times)", *size, max(*minFreq, 1))
	}
	fmt.Fprintln(stdout)
	if c.words > 0 {
		fmt.Fprintf(stdout, "first %d training lines: %d words, %.3f pieces per word, %d words [UNK] (%.2f%%)\n",
			c.lines, c.words, float64(c.pieces)/float64(c.words), c.unk, 100*float64(c.unk)/float64(c.words))
	}
	return nil
}

// writeVocab writes vocab.txt, tokenizer.json and a BertTokenizer
// tokenizer_config.json into dir, each file atomically.
func writeVocab(dir string, vocab []string, lower bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var txt, js bytes.Buffer
	if err := tokenizer.WriteVocabTxt(&txt, vocab); err != nil {
		return err
	}
	if err := tokenizer.WriteJSON(&js, vocab, tokenizer.BertOptions{Lowercase: lower}); err != nil {
		return err
	}
	// The settings of transformers' BertTokenizer that match tokenizer.json.
	cfg, err := json.MarshalIndent(map[string]any{
		"tokenizer_class":              "BertTokenizer",
		"do_lower_case":                lower,
		"strip_accents":                nil,
		"tokenize_chinese_chars":       true,
		"model_max_length":             512,
		"clean_up_tokenization_spaces": true,
		"unk_token":                    "[UNK]",
		"sep_token":                    "[SEP]",
		"pad_token":                    "[PAD]",
		"cls_token":                    "[CLS]",
		"mask_token":                   "[MASK]",
	}, "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"vocab.txt", txt.Bytes()},
		{"tokenizer.json", js.Bytes()},
		{"tokenizer_config.json", append(cfg, '\n')},
	}
	for _, f := range files {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// vocabCoverage counts what a tokenizer makes of some lines of text.
type vocabCoverage struct {
	lines, words, pieces, unk int // unk: words that became [UNK]
}

// measureVocab tokenizes the first vocabEvalLines lines of files.
func measureVocab(tok *tokenizer.Tokenizer, files []string) (vocabCoverage, error) {
	var c vocabCoverage
	unk := tok.Specials().UNK
	err := text.Lines(files, func(line, _ string, _ int) error {
		e := tok.Encode(line)
		c.pieces += e.Len()
		for i, id := range e.IDs {
			if i == 0 || e.WordIndex[i] != e.WordIndex[i-1] {
				c.words++
			}
			if id == unk {
				c.unk++
			}
		}
		c.lines++
		if c.lines == vocabEvalLines {
			return text.Stop
		}
		return nil
	})
	return c, err
}

// progressPrinter prints progress lines at most once a second.
type progressPrinter struct {
	w    io.Writer
	last time.Time
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	return &progressPrinter{w: w, last: time.Now()}
}

// printf prints a progress line unless the last one is less than a second
// old.
func (t *progressPrinter) printf(format string, args ...any) {
	if time.Since(t.last) >= time.Second {
		t.done(format, args...)
	}
}

// done prints a progress line now.
func (t *progressPrinter) done(format string, args ...any) {
	fmt.Fprintf(t.w, format+"\n", args...)
	t.last = time.Now()
}
