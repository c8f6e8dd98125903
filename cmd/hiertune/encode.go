package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/hiertune/hiertune/checkpoints"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/hub"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/tensor"
)

func runEncode(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("encode", "encode [--model DIR|FILE.onnx|hf:ORG/NAME[@REV]|NAME] (--inputs IN.safetensors --output OUT.safetensors | --text TEXT)", stdout, stderr)
	model := fs.String("model", checkpoints.Default, "checkpoint directory, ONNX file, hf:org/name[@revision] on the HuggingFace Hub, or an embedded checkpoint ("+strings.Join(checkpoints.Names(), ", ")+")")
	inputs := fs.String("inputs", "", "safetensors file with integer input_ids [batch, seq] and optional attention_mask, token_type_ids")
	output := fs.String("output", "", "safetensors file to write hidden_states.0..L, last_hidden_state, pooler_output to")
	text := fs.String("text", "", "plain text to tokenize with the checkpoint's tokenizer and summarise (instead of --inputs/--output)")
	stride := fs.Int("stride", 0, "with --text: pieces shared by consecutive windows when the text is longer than the model's maximum (0: a quarter of the window)")
	attentions := fs.Bool("attentions", false, "also write attentions.0..L-1 (softmax probabilities [batch, heads, seq, seq])")
	threads := fs.Int("threads", kernels.Threads(), "threads to compute with")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*text == "") == (*inputs == "" || *output == "") {
		return usageError{"give either --text, or --inputs and --output"}
	}
	kernels.SetThreads(*threads)
	ck, err := openCheckpoint(*model, stderr)
	if err != nil {
		return err
	}
	m, err := ck.Model()
	if err != nil {
		return err
	}
	if *text != "" {
		return summarise(stdout, ck, m, *text, *stride)
	}
	batch, err := readBatch(*inputs)
	if err != nil {
		return err
	}
	res, err := m.Forward(batch, encoder.Options{Attentions: *attentions})
	if err != nil {
		return fmt.Errorf("%s: %w", *inputs, err)
	}
	out := map[string]*tensor.Tensor{
		"input_ids":      tensor.FromInt64([]int{batch.Size, batch.Seq}, toInt64(batch.InputIDs)),
		"attention_mask": tensor.FromInt64([]int{batch.Size, batch.Seq}, batch.AttentionMask),
		"token_type_ids": tensor.FromInt64([]int{batch.Size, batch.Seq}, toInt64(batch.TokenTypeIDs)),
	}
	H := m.Config.HiddenSize
	for i, h := range res.HiddenStates {
		out["hidden_states."+strconv.Itoa(i)] = tensor.FromFloat32([]int{batch.Size, batch.Seq, H}, kernels.Values(h))
	}
	out["last_hidden_state"] = out["hidden_states."+strconv.Itoa(len(res.HiddenStates)-1)]
	if res.Pooled != nil {
		out["pooler_output"] = tensor.FromFloat32([]int{batch.Size, H}, kernels.Values(res.Pooled))
	}
	for i, p := range res.Attentions {
		heads := m.Config.NumAttentionHeads
		out["attentions."+strconv.Itoa(i)] = tensor.FromFloat32([]int{batch.Size, heads, batch.Seq, batch.Seq}, p)
	}
	meta := map[string]string{"source": "hiertune encode", "model": *model, "backend": kernels.Backend()}
	if err := safetensors.WriteFile(*output, out, meta); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d hidden states of [%d, %d, %d]\n", *output, len(res.HiddenStates), batch.Size, batch.Seq, H)
	return nil
}

// openCheckpoint opens a checkpoint, reporting Hub downloads, offline use
// and the tensors the command leaves unread on w: those outside the
// encoder and outside the prefixes the command reads itself.
func openCheckpoint(ref string, w io.Writer, reads ...string) (*loader.Checkpoint, error) {
	client := hub.NewClient()
	client.Progress = func(file string, done, total int64) {
		if done == total {
			fmt.Fprintf(w, "downloaded %s (%d bytes)\n", file, total)
		}
	}
	ck, err := loader.OpenWith(context.Background(), ref, client)
	if err != nil {
		return nil, err
	}
	if ck.Offline != nil {
		fmt.Fprintf(w, "using the cached copy of %s: %v\n", ref, ck.Offline)
	}
	extra := slices.DeleteFunc(ck.Extra(), func(name string) bool {
		return slices.ContainsFunc(reads, func(p string) bool { return strings.HasPrefix(name, p) })
	})
	if len(extra) > 0 {
		fmt.Fprintf(w, "not part of the encoder, ignored: %s\n", strings.Join(extra, ", "))
	}
	return ck, nil
}

// summarise encodes text with the checkpoint's tokenizer, in overlapping
// windows if it is longer than the model allows, and prints the pieces and
// a summary of every hidden state.
func summarise(w io.Writer, ck *loader.Checkpoint, m *encoder.Model, text string, stride int) error {
	tok, err := tokenizer.Load(ck.Dir)
	if err != nil {
		return err
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return fmt.Errorf("%s: the tokenizer has %d ids but the model only %d embeddings", ck.Dir, tok.VocabSize(), m.Config.VocabSize)
	}
	maxLen := m.Config.MaxSequenceLength()
	if stride <= 0 {
		stride = maxLen / 4
	}
	e := tok.Encode(text)
	windows, err := tok.Windows(e, maxLen, stride)
	if err != nil {
		return err
	}
	seq := 0
	for _, win := range windows {
		seq = max(seq, len(win.IDs))
	}
	b := &encoder.Batch{Size: len(windows), Seq: seq}
	pad := max(tok.Specials().PAD, 0)
	for _, win := range windows {
		for i := 0; i < seq; i++ {
			id, typ, att := pad, 0, int64(0)
			if i < len(win.IDs) {
				id, typ, att = win.IDs[i], win.TypeIDs[i], 1
			}
			b.InputIDs = append(b.InputIDs, id)
			b.TokenTypeIDs = append(b.TokenTypeIDs, typ)
			b.AttentionMask = append(b.AttentionMask, att)
		}
	}
	res, err := m.Forward(b, encoder.Options{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "model %s (%s, %d layers, hidden %d) on %s\n", ck.Dir, m.Config.ModelType, m.Config.NumHiddenLayers, m.Config.HiddenSize, kernels.Backend())
	fmt.Fprintf(w, "%d pieces in %d window(s) of at most %d ids:\n", e.Len(), len(windows), maxLen)
	for k, win := range windows {
		var pieces []string
		for _, id := range win.IDs {
			p, _ := tok.IDToToken(id)
			pieces = append(pieces, p)
		}
		fmt.Fprintf(w, "  window %d: pieces %d..%d: %s\n", k, win.Start, win.End, strings.Join(pieces, " "))
	}
	H := m.Config.HiddenSize
	fmt.Fprintln(w, "hidden states (window 0): mean L2 norm over its tokens, and the first values of the first token")
	for i, h := range res.HiddenStates {
		v := kernels.Values(h)
		n := len(windows[0].IDs)
		var norm float64
		for t := 0; t < n; t++ {
			var s float64
			for _, x := range v[t*H : (t+1)*H] {
				s += float64(x) * float64(x)
			}
			norm += math.Sqrt(s)
		}
		fmt.Fprintf(w, "  hidden_states.%-2d norm %8.4f  %s\n", i, norm/float64(n), head(v[:H], 6))
	}
	if res.Pooled != nil {
		fmt.Fprintf(w, "  pooler_output                %s\n", head(kernels.Values(res.Pooled)[:H], 6))
	}
	return nil
}

func head(v []float32, n int) string {
	parts := make([]string, 0, n+1)
	for _, x := range v[:min(n, len(v))] {
		parts = append(parts, fmt.Sprintf("%+.4f", x))
	}
	if len(v) > n {
		parts = append(parts, "...")
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// readBatch reads input_ids (and optionally attention_mask and
// token_type_ids) of shape [batch, seq], in any integer dtype.
func readBatch(path string) (*encoder.Batch, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ids, ok := f.Tensor("input_ids")
	if !ok {
		return nil, fmt.Errorf("%s: no input_ids tensor", path)
	}
	if len(ids.Shape) != 2 {
		return nil, fmt.Errorf("%s: input_ids has shape %v, want [batch, seq]", path, ids.Shape)
	}
	b := &encoder.Batch{Size: ids.Shape[0], Seq: ids.Shape[1]}
	get := func(name string, t *tensor.Tensor) ([]int64, error) {
		if !slices.Equal(t.Shape, ids.Shape) {
			return nil, fmt.Errorf("%s: %s has shape %v, input_ids %v", path, name, t.Shape, ids.Shape)
		}
		v, err := t.Int64()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		return v, nil
	}
	v, err := get("input_ids", ids)
	if err != nil {
		return nil, err
	}
	b.InputIDs = toInt(v)
	if t, ok := f.Tensor("attention_mask"); ok {
		if b.AttentionMask, err = get("attention_mask", t); err != nil {
			return nil, err
		}
	} else {
		b.AttentionMask = make([]int64, len(v))
		for i := range b.AttentionMask {
			b.AttentionMask[i] = 1
		}
	}
	if t, ok := f.Tensor("token_type_ids"); ok {
		tt, err := get("token_type_ids", t)
		if err != nil {
			return nil, err
		}
		b.TokenTypeIDs = toInt(tt)
	} else {
		b.TokenTypeIDs = make([]int, len(v))
	}
	if b.Size == 0 || b.Seq == 0 {
		return nil, errors.New(path + ": input_ids is empty")
	}
	return b, nil
}

func toInt(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func toInt64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}
