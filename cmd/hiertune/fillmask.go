package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hiertune/hiertune/checkpoints"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

func runFillMask(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fill-mask", `fill-mask [--model DIR|hf:ORG/NAME|NAME] --text "the [MASK] sat on the mat" [--top 5]`, stdout, stderr)
	model := fs.String("model", checkpoints.Default, "a checkpoint with a masked-LM head (directory, hf:org/name, or embedded name)")
	text := fs.String("text", "", "text with one or more mask tokens ([MASK], or <mask> for RoBERTa)")
	top := fs.Int("top", 5, "predictions to show per mask")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *text == "" || *top < 1 {
		return usageError{"--text is required and --top must be positive"}
	}
	ck, err := openCheckpoint(*model, stderr, "cls.predictions.", "lm_head.")
	if err != nil {
		return err
	}
	m, err := ck.Model()
	if err != nil {
		return err
	}
	head, err := heads.LoadMaskedLM(ck.Tensors, m)
	if err != nil {
		return fmt.Errorf("%s: %w", ck.Dir, err)
	}
	tok, err := tokenizer.Load(ck.Dir)
	if err != nil {
		return err
	}
	in := tok.Single(tok.Encode(*text), 0)
	var rows []int
	for i, id := range in.IDs {
		if id == tok.Specials().MASK {
			rows = append(rows, i)
		}
	}
	if len(rows) == 0 {
		mask, _ := tok.IDToToken(tok.Specials().MASK)
		return usageError{fmt.Sprintf("the text has no %s token", mask)}
	}
	if len(in.IDs) > m.Config.MaxSequenceLength() {
		return fmt.Errorf("the text has %d pieces, more than the model's %d", len(in.IDs), m.Config.MaxSequenceLength())
	}
	b := &encoder.Batch{Size: 1, Seq: len(in.IDs), InputIDs: in.IDs, TokenTypeIDs: in.TypeIDs}
	res, err := m.Forward(b, encoder.Options{})
	if err != nil {
		return err
	}
	logits := kernels.Values(head.Forward(res.HiddenStates[len(res.HiddenStates)-1], rows))
	V := m.Config.VocabSize
	for k, pos := range rows {
		row := logits[k*V : (k+1)*V]
		probs := kernels.Softmax64(row)
		ids := make([]int, V)
		for i := range ids {
			ids[i] = i
		}
		sort.Slice(ids, func(i, j int) bool { return probs[ids[i]] > probs[ids[j]] })
		var out []string
		for _, id := range ids[:min(*top, V)] {
			t, _ := tok.IDToToken(id)
			out = append(out, fmt.Sprintf("%s (%.3f)", t, probs[id]))
		}
		fmt.Fprintf(stdout, "mask at piece %d: %s\n", pos, strings.Join(out, ", "))
	}
	return nil
}
