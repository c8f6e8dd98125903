package main

import (
	"github.com/hiertune/hiertune/checkpoints"
	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

// benchTokenizer loads the tokenizer of dir, else of the model when it is
// a checkpoint, else of the embedded default checkpoint.
func benchTokenizer(dir, model string) (*tokenizer.Tokenizer, error) {
	if dir == "" {
		if _, err := encoder.Preset(model); err == nil {
			if dir, err = checkpoints.Dir(checkpoints.Default); err != nil {
				return nil, err
			}
		} else {
			ck, err := loader.Open(model)
			if err != nil {
				return nil, err
			}
			dir = ck.Dir
		}
	}
	return tokenizer.Load(dir)
}

// dataBatches encodes a word-level file as fine-tuning does, in windows of
// seq pieces and batches of size sentences, and returns n of its batches
// spread evenly over the file's (grouped by length, so short and long
// batches are both timed).
func dataBatches(tok *tokenizer.Tokenizer, path, format string, size, seq, pool int, mode string, n, hidden int) ([]benchBatch, error) {
	wbs, err := datasets.WordBatches(tok, path, format, size, seq, pool, mode)
	if err != nil {
		return nil, err
	}
	var score *encoder.Linear
	if mode == string(encoder.PoolAttention) {
		score = encoder.NewLinear(hidden, 1) // zero: the mean
	}
	out := make([]benchBatch, n)
	for i := range out {
		wb := wbs[i*len(wbs)/n]
		if wb.Words != nil {
			wb.Words.Score = score
		}
		out[i] = benchBatch{enc: wb.Enc, words: wb.Words, rows: wb.Rows, tokens: wb.Tokens}
	}
	return out, nil
}

// describeBatches adds the timed batches' shapes to a report: mean padded
// sequence lengths over pieces and words, pieces per word, and the
// encoder's forward GFLOP per step with and without the pooling (linear
// layers and attention products; training costs about three times that).
func describeBatches(report map[string]any, cfg encoder.Config, bs []benchBatch, pool int) {
	var seq, wordSeq, rows, pieces, words, flops, flopsUnpooled float64
	layer := func(size, seq int) float64 {
		H, F, s := float64(cfg.HiddenSize), float64(cfg.IntermediateSize), float64(seq)
		return 2*float64(size)*s*(4*H*H+2*H*F) + 4*float64(size)*s*s*H
	}
	for _, b := range bs {
		seq += float64(b.enc.Seq)
		rows += float64(b.enc.Size)
		pieces += float64(b.tokens)
		words += float64(len(b.rows))
		unpooled := float64(cfg.NumHiddenLayers) * layer(b.enc.Size, b.enc.Seq)
		flopsUnpooled += unpooled
		if b.words == nil {
			flops += unpooled
			continue
		}
		wordSeq += float64(b.words.Seq)
		flops += float64(pool)*layer(b.enc.Size, b.enc.Seq) + float64(cfg.NumHiddenLayers-pool)*layer(b.words.Size, b.words.Seq)
	}
	n := float64(len(bs))
	report["batches"] = len(bs)
	report["mean_rows"] = rows / n
	report["mean_seq"] = seq / n
	report["pieces_per_word"] = pieces / words
	if pool >= 0 {
		report["mean_word_seq"] = wordSeq / n
	}
	report["encoder_fwd_gflop_per_step"] = flops / n / 1e9
	report["encoder_fwd_gflop_per_step_unpooled"] = flopsUnpooled / n / 1e9
}
