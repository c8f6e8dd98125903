package datasets

import (
	"fmt"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/tasks"
)

// WordBatch is a batch of word-level examples encoded as fine-tuning
// encodes them, for benchmarks.
type WordBatch struct {
	Enc *encoder.Batch
	// Words is the word pooling inside the encoder, or nil.
	Words *encoder.WordPooling
	// Rows are the rows of the last hidden state that the words' heads
	// read: each word's first piece, or its position in the word batch
	// when pooled.
	Rows []int
	// Tokens counts the real (not padding) pieces.
	Tokens int
}

// WordBatches reads the words of a CoNLL-U or CoNLL file (format "conllu"
// or "conll"), encodes them with tok in windows of maxLen, and cuts them
// into batches of size sentences grouped by length, in the order training
// would see them unshuffled. With pool >= 0 each batch pools words after
// hidden state pool, in mode (mean, sum, first or last), and batches are
// grouped as fine-tuning groups them then.
func WordBatches(tok *tokenizer.Tokenizer, path, format string, size, maxLen, pool int, mode string) ([]WordBatch, error) {
	d, err := New("bench", Config{Format: format})
	if err != nil {
		return nil, err
	}
	if !d.Data.WordLevel {
		return nil, fmt.Errorf("word batches from %s: format %q is not word-level", path, format)
	}
	exs, err := d.Read(path, nil)
	if err != nil {
		return nil, err
	}
	if len(exs) == 0 {
		return nil, fmt.Errorf("%s: no sentences", path)
	}
	idx := make([]int, len(exs))
	for i, ex := range exs {
		if err := ex.EncodeWords(tok, maxLen, maxLen/4); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, ex.Line, err)
		}
		idx[i] = i
	}
	var out []WordBatch
	for _, g := range tasks.GroupedBatches(idx, exs, size, tasks.BatchLength(pool), nil) {
		part := make([]*tasks.Example, len(g))
		for i, j := range g {
			part[i] = exs[j]
		}
		b := tasks.NewBatch(part, max(tok.Specials().PAD, 0))
		if pool >= 0 {
			b.PoolWords(pool, kernels.PoolMode(mode))
		}
		wb := WordBatch{Enc: b.Enc, Words: b.Words, Tokens: b.Tokens}
		W, starts, _ := b.WordSlots(pool >= 0)
		for i, n := range b.WordCounts() {
			wb.Rows = append(wb.Rows, starts[i*W+1:i*W+1+n]...)
		}
		out = append(out, wb)
	}
	return out, nil
}
