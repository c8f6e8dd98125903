package finetune

import (
	"fmt"
	"io"

	"github.com/hiertune/hiertune/data/conll"
	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/data/tsv"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

// dataset is a configured dataset with its examples.
type dataset struct {
	name       string
	cfg        DatasetConfig
	train, dev []*example
	// devSents keeps the dev file's sentences (CoNLL-U), for writing
	// predictions.
	devSents []*conllu.Sentence
	tasks    []*task
	// The batches of the current training pass (see trainer.nextBatch).
	pass    int
	batches [][]int
}

// readExamples reads a dataset file into examples.
func readExamples(path string, cfg DatasetConfig) ([]*example, []*conllu.Sentence, error) {
	var exs []*example
	switch cfg.Format {
	case "conllu":
		sents, err := conllu.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		for _, s := range sents {
			ex := &example{sent: s, line: s.Line}
			for _, w := range s.Words() {
				ex.words = append(ex.words, w.Form)
			}
			if len(ex.words) > 0 {
				exs = append(exs, ex)
			}
		}
		return exs, sents, nil
	case "conll":
		sents, err := conll.ReadFile(path, conll.Options{TokenPrefix: cfg.TokenPrefix, StripBOM: cfg.StripBOM})
		if err != nil {
			return nil, nil, err
		}
		for _, s := range sents {
			if len(s.Words) > 0 {
				exs = append(exs, &example{words: s.Words, tags: s.Tags, line: s.Line})
			}
		}
		return exs, nil, nil
	}
	rows, err := tsv.ReadFile(path, tsv.Options{Text: cfg.Text, TextPair: cfg.TextPair, Label: cfg.Label})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rows {
		exs = append(exs, &example{text: r.Text, pair: r.TextPair, label: r.Label, line: r.Line})
	}
	return exs, nil, nil
}

// load reads the dataset's files and encodes their examples.
func (d *dataset) load(tok *tokenizer.Tokenizer, maxLen, stride int, log io.Writer) error {
	var err error
	if d.train, _, err = readExamples(d.cfg.Train, d.cfg); err != nil {
		return err
	}
	if d.cfg.Limit > 0 && len(d.train) > d.cfg.Limit {
		d.train = d.train[:d.cfg.Limit]
	}
	if len(d.train) == 0 {
		return fmt.Errorf("%s: no training examples", d.cfg.Train)
	}
	if err := d.checkTrees(d.cfg.Train, d.train); err != nil {
		return err
	}
	if d.cfg.Dev != "" {
		if d.dev, d.devSents, err = readExamples(d.cfg.Dev, d.cfg); err != nil {
			return err
		}
		if err := d.checkTrees(d.cfg.Dev, d.dev); err != nil {
			return err
		}
	}
	if err := d.encode(d.train, d.cfg.Train, tok, maxLen, stride, log); err != nil {
		return err
	}
	return d.encode(d.dev, d.cfg.Dev, tok, maxLen, stride, log)
}

// checkTrees makes sure that the gold heads a parsing task learns from
// form trees (a cycle or a second root is an error naming the sentence).
func (d *dataset) checkTrees(file string, exs []*example) error {
	parse := false
	for _, t := range d.tasks {
		parse = parse || t.cfg.Type == "parse"
	}
	if !parse {
		return nil
	}
	for _, ex := range exs {
		if err := conllu.Validate(ex.sent); err != nil {
			return fmt.Errorf("%s:%d: %w", file, ex.line, err)
		}
	}
	return nil
}

// encode tokenizes examples read from file.
func (d *dataset) encode(exs []*example, file string, tok *tokenizer.Tokenizer, maxLen, stride int, log io.Writer) error {
	windowed, cut := 0, 0
	for _, ex := range exs {
		if d.cfg.Format == "tsv" {
			if encodeText(tok, ex, maxLen) {
				cut++
			}
			continue
		}
		if err := encodeWords(tok, ex, maxLen, stride); err != nil {
			return fmt.Errorf("%s:%d: %w", file, ex.line, err)
		}
		if len(ex.windows) > 1 {
			windowed++
		}
	}
	if log != nil && windowed > 0 {
		fmt.Fprintf(log, "%s: %d sentences longer than %d pieces, split into overlapping windows\n", file, windowed, maxLen)
	}
	if log != nil && cut > 0 {
		fmt.Fprintf(log, "%s: %d texts cut to %d pieces\n", file, cut, maxLen)
	}
	return nil
}

// readInput reads and encodes a file of the dataset's format, for eval or
// predict.
func (d *dataset) readInput(path string, tok *tokenizer.Tokenizer, maxLen, stride int, log io.Writer) ([]*example, []*conllu.Sentence, error) {
	exs, sents, err := readExamples(path, d.cfg)
	if err != nil {
		return nil, nil, err
	}
	if len(exs) == 0 {
		return nil, nil, fmt.Errorf("%s: no examples", path)
	}
	return exs, sents, d.encode(exs, path, tok, maxLen, stride, log)
}
