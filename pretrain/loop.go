package pretrain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/optim"
	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/tensor"
)

// Streams of the run's random numbers, derived from the seed so that any
// step can be replayed: the order of each epoch, the masking of each
// sequence in each epoch, the dropout of each step, and the fixed masking of
// the held-out evaluation.
const (
	streamOrder = iota + 1
	streamMask
	streamDropout
	streamEval
)

// stopAfter, when set (by tests), is called after every step.
var stopAfter func(step int)

func (t *trainer) rng(stream, a, b uint64) *rand.Rand {
	return rand.New(rand.NewPCG(t.cfg.Train.Seed^(stream<<56)^(a<<24), b))
}

// batchAt returns the training batch of global step s. Every epoch walks a
// fresh permutation of the training sequences, cut into batches of similar
// lengths (see epochBatches), and masks each sequence anew.
func (t *trainer) batchAt(s int) (*batch, error) {
	n, bs := t.train.Len(), t.cfg.Train.BatchSize
	perEpoch := max(1, n/bs)
	epoch, k := s/perEpoch, s%perEpoch
	if t.epoch != epoch || t.batches == nil {
		t.epoch, t.batches = epoch, t.epochBatches(epoch)
	}
	var exs []example
	for _, i := range t.batches[k] {
		ex, err := t.exampleOf(t.train, i, t.rng(streamMask, uint64(epoch), uint64(i)))
		if err != nil {
			return nil, err
		}
		exs = append(exs, ex)
	}
	return makeBatch(exs, max(t.tok.Specials().PAD, 0)), nil
}

// epochBatches returns the batches of an epoch, as sequence indices. As
// HuggingFace's group_by_length does, the shuffled sequences are taken 50
// batches at a time and sorted by length before being cut into batches, and
// the batches are then shuffled: a batch pads little, and the order stays
// random. A last partial batch is dropped.
func (t *trainer) epochBatches(epoch int) [][]int {
	n, bs := t.train.Len(), t.cfg.Train.BatchSize
	rng := t.rng(streamOrder, uint64(epoch), 0)
	order := rng.Perm(n)
	var batches [][]int
	for lo := 0; lo < n; lo += 50 * bs {
		group := order[lo:min(n, lo+50*bs)]
		sort.SliceStable(group, func(i, j int) bool { return t.train.Length(group[i]) > t.train.Length(group[j]) })
		for b := 0; b+bs <= len(group); b += bs {
			batches = append(batches, group[b:b+bs])
		}
	}
	if len(batches) == 0 { // fewer sequences than a batch
		batches = [][]int{order}
	}
	rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	return batches
}

func (t *trainer) exampleOf(d *Dataset, i int, rng *rand.Rand) (example, error) {
	seq, err := d.Sequence(i)
	if err != nil {
		return example{}, err
	}
	var other []uint32
	if t.masker.sentence == "nsp" {
		if other, err = d.Sequence(rng.IntN(d.Len())); err != nil {
			return example{}, err
		}
	}
	return t.masker.example(seq, other, rng), nil
}

// outputs runs the model and heads on a batch and returns the loss with the
// masked-LM logits.
func (t *trainer) outputs(b *batch, train bool, dropout *rand.Rand) (loss, mlmLoss, logits mat.Tensor, err error) {
	res, err := t.model.Forward(b.enc, encoder.Options{Train: train, RNG: dropout})
	if err != nil {
		return nil, nil, nil, err
	}
	last := res.HiddenStates[len(res.HiddenStates)-1]
	logits = t.mlm.Forward(last, b.rows)
	mlmLoss, err = kernels.CrossEntropy(logits, b.targets, ignore)
	if err != nil {
		return nil, nil, nil, err
	}
	loss = mlmLoss
	if t.pair != nil {
		sl, err := kernels.CrossEntropy(t.pair.Forward(res.Pooled), b.sentences, ignore)
		if err != nil {
			return nil, nil, nil, err
		}
		loss = kernels.WeightedSum([]mat.Tensor{mlmLoss, sl}, []float32{1, 1})
	}
	return loss, mlmLoss, logits, nil
}

// correct counts the rows of logits whose largest value is at the target.
func correct(logits mat.Tensor, targets []int) int {
	v := kernels.Values(logits)
	_, classes := kernels.Dims(logits)
	n := 0
	for r, want := range targets {
		row := v[r*classes : (r+1)*classes]
		best := 0
		for j, x := range row {
			if x > row[best] {
				best = j
			}
		}
		if best == want {
			n++
		}
	}
	return n
}

// loop trains from the current step to the end, evaluating and saving on
// the configured schedule.
func (t *trainer) loop(ctx context.Context) error {
	cfg := t.cfg.Train
	if t.state.Step == 0 {
		if err := t.computeBaseline(); err != nil {
			return err
		}
	}
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	t.arena = arena
	progress := run.Progress{W: t.log, Total: cfg.Steps}
	progress.Start(t.state.Step)
	start := time.Now()
	var sumLoss float64
	var sumCorrect, sumMasked, sumTokens, sumPadded, window int
	var windowTime time.Duration
	for t.state.Step < cfg.Steps {
		select {
		case <-ctx.Done():
			return t.stop("interrupted")
		default:
		}
		if cfg.TimeLimit.Duration > 0 && time.Since(start) > cfg.TimeLimit.Duration {
			return t.stop("time limit reached")
		}
		b, err := t.batchAt(t.state.Step)
		if err != nil {
			return err
		}
		t0 := time.Now()
		t.opt.LR = t.sched.At(t.state.Step)
		loss, mlmLoss, logits, err := t.outputs(b, true, t.rng(streamDropout, 0, uint64(t.state.Step)))
		if err != nil {
			return err
		}
		if err := kernels.Backward(loss); err != nil {
			return err
		}
		norm := 0.0
		if *t.cfg.Train.Clip > 0 {
			norm = optim.ClipGradNorm(t.params, *t.cfg.Train.Clip)
		}
		t.opt.Step()
		t.opt.ZeroGrad()
		elapsed := time.Since(t0)
		lv := float64(kernels.Values(mlmLoss)[0])
		if math.IsNaN(lv) || math.IsInf(lv, 0) {
			return fmt.Errorf("step %d: the loss is %g; lower train.learning_rate", t.state.Step+1, lv)
		}
		t.state.Step++
		t.state.Tokens += int64(b.tokens)
		t.state.TrainSecond += elapsed.Seconds()
		sumLoss += lv * float64(len(b.targets))
		sumCorrect += correct(logits, b.targets)
		arena.Reset() // nothing of this step is used any more
		sumMasked += len(b.targets)
		sumTokens += b.tokens
		sumPadded += b.enc.Size * b.enc.Seq
		windowTime += elapsed
		window++
		progress.Step(t.state.Step, b.tokens, map[string]float64{"loss": lv, "lr": t.opt.LR})
		if stopAfter != nil {
			stopAfter(t.state.Step)
		}
		if window == 50 || t.state.Step == cfg.Steps {
			t.dir.Log(map[string]any{"step": t.state.Step, "split": "train", "loss": sumLoss / float64(sumMasked),
				"mlm_accuracy": float64(sumCorrect) / float64(sumMasked), "lr": t.opt.LR, "grad_norm": norm,
				"tokens_per_s": float64(sumTokens) / windowTime.Seconds(), "padded_tokens_per_s": float64(sumPadded) / windowTime.Seconds(),
				"tokens": t.state.Tokens})
			sumLoss, sumCorrect, sumMasked, sumTokens, sumPadded, window, windowTime = 0, 0, 0, 0, 0, 0, 0
		}
		final := t.state.Step == cfg.Steps
		if t.state.Step%cfg.EvalEvery == 0 || final {
			if err := t.evaluate(); err != nil {
				return err
			}
		}
		if t.state.Step%cfg.SaveEvery == 0 || final {
			if err := t.save(fmt.Sprintf("step-%07d", t.state.Step)); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(t.log, "done: %d steps, %.0f training tokens/s; checkpoints in %s\n", t.state.Step,
		float64(t.state.Tokens)/t.state.TrainSecond, filepath.Join(t.dir.Path, "checkpoints"))
	return nil
}

// stop saves the run and reports why it stopped.
func (t *trainer) stop(why string) error {
	if err := t.save(fmt.Sprintf("step-%07d", t.state.Step)); err != nil {
		return err
	}
	fmt.Fprintf(t.log, "%s at step %d: saved; continue with --resume\n", why, t.state.Step)
	t.dir.Log(map[string]any{"event": "stopped", "reason": why, "step": t.state.Step})
	return ErrStopped
}

// Eval is a held-out evaluation.
type Eval struct {
	Loss, Perplexity, Accuracy float64
	Masked                     int
}

// evaluate measures the held-out loss, perplexity and masked-token
// accuracy with fixed masks, logs them beside the unigram baseline, and
// saves the "best" checkpoint when the loss improved.
func (t *trainer) evaluate() error {
	e, err := t.heldoutEval()
	if err != nil {
		return err
	}
	fmt.Fprintf(t.log, "held out at step %d: loss %.4f, perplexity %.2f, masked-token accuracy %.4f (unigram: %.2f, %.4f)\n",
		t.state.Step, e.Loss, e.Perplexity, e.Accuracy, t.baseline.Perplexity, t.baseline.Accuracy)
	t.dir.Log(map[string]any{"step": t.state.Step, "split": "heldout", "loss": e.Loss, "perplexity": e.Perplexity,
		"mlm_accuracy": e.Accuracy, "masked_tokens": e.Masked, "unigram_accuracy": t.baseline.Accuracy,
		"unigram_perplexity": t.baseline.Perplexity})
	if t.state.BestStep == 0 || e.Loss < t.state.BestLoss {
		t.state.BestLoss, t.state.BestStep = e.Loss, t.state.Step
		return t.save("best")
	}
	return nil
}

// heldoutBatches calls fn with each evaluation batch: the first
// data.eval_sequences held-out sequences, masked the same way every time.
func (t *trainer) heldoutBatches(fn func(*batch) error) error {
	n := min(t.heldout.Len(), t.cfg.Data.EvalSequences)
	for lo := 0; lo < n; lo += t.cfg.Train.BatchSize {
		var exs []example
		for i := lo; i < min(n, lo+t.cfg.Train.BatchSize); i++ {
			ex, err := t.exampleOf(t.heldout, i, t.rng(streamEval, 0, uint64(i)))
			if err != nil {
				return err
			}
			exs = append(exs, ex)
		}
		if err := fn(makeBatch(exs, max(t.tok.Specials().PAD, 0))); err != nil {
			return err
		}
	}
	return nil
}

func (t *trainer) heldoutEval() (Eval, error) {
	var sum float64
	var right, masked int
	err := t.heldoutBatches(func(b *batch) error {
		_, mlmLoss, logits, err := t.outputs(b, false, nil)
		if err != nil {
			return err
		}
		sum += float64(kernels.Values(mlmLoss)[0]) * float64(len(b.targets))
		right += correct(logits, b.targets)
		masked += len(b.targets)
		if t.arena != nil {
			t.arena.Reset()
		}
		return nil
	})
	if err != nil || masked == 0 {
		return Eval{}, err
	}
	loss := sum / float64(masked)
	return Eval{Loss: loss, Perplexity: math.Exp(loss), Accuracy: float64(right) / float64(masked), Masked: masked}, nil
}

// computeBaseline measures the unigram baseline on the evaluation's masked
// tokens, from the token frequencies of the training split (add-one
// smoothed).
func (t *trainer) computeBaseline() error {
	V := t.model.Config.VocabSize
	counts, err := t.train.Unigram(V)
	if err != nil {
		return err
	}
	var total int64
	top := 0
	for id, c := range counts {
		total += c
		if c > counts[top] {
			top = id
		}
	}
	var logp float64
	var right, masked int
	err = t.heldoutBatches(func(b *batch) error {
		for _, id := range b.targets {
			logp += math.Log(float64(counts[id]+1) / float64(total+int64(V)))
			if id == top {
				right++
			}
			masked++
		}
		return nil
	})
	if err != nil || masked == 0 {
		return err
	}
	t.baseline = Baseline{Accuracy: float64(right) / float64(masked), Perplexity: math.Exp(-logp / float64(masked))}
	return nil
}

// save writes a complete checkpoint: a HuggingFace BertForMaskedLM (or
// BertForPreTraining) directory, plus the optimiser's state and the run's.
func (t *trainer) save(name string) error {
	weights := map[string]*tensor.Tensor{}
	for n, tt := range encoder.Tensors(t.model.NamedParams()) {
		weights[t.prefix+n] = tt
	}
	for n, tt := range encoder.Tensors(t.mlm.NamedParams()) {
		weights[n] = tt
	}
	if t.pair != nil {
		for n, tt := range encoder.Tensors(pairParams(t.pair)) {
			weights[n] = tt
		}
	}
	files := map[string][]byte{}
	var err error
	if files["model.safetensors"], err = safetensors.Encode(weights, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	raw := map[string]json.RawMessage{}
	for k, v := range t.rawCfg {
		raw[k] = v
	}
	arch := "BertForMaskedLM"
	if t.pair != nil {
		arch = "BertForPreTraining"
	}
	raw["architectures"], _ = json.Marshal([]string{arch})
	if files["config.json"], err = loader.ConfigJSON(t.model.Config, raw); err != nil {
		return err
	}
	if files["optimizer.safetensors"], err = safetensors.Encode(t.opt.State(), nil); err != nil {
		return err
	}
	if files["state.json"], err = json.MarshalIndent(t.state, "", "  "); err != nil {
		return err
	}
	for f, b := range t.tokFiles {
		files[f] = b
	}
	return t.dir.SaveCheckpoint(name, files, t.cfg.Train.Keep, "best")
}

// restore loads the optimiser and run state of the checkpoint in dir (the
// model and heads came with it through the loader).
func (t *trainer) restore(dir string) error {
	f, err := safetensors.ReadFile(filepath.Join(dir, "optimizer.safetensors"))
	if err != nil {
		return err
	}
	if err := t.opt.LoadState(f.Tensors()); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &t.state); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "state.json"), err)
	}
	return t.computeBaseline()
}

// pairParams names the sentence-objective head as HuggingFace's
// BertForPreTraining does.
func pairParams(l *encoder.Linear) []encoder.NamedParam {
	out, in := kernels.Dims(l.Weight)
	return []encoder.NamedParam{
		{Name: "cls.seq_relationship.weight", Param: l.Weight, Shape: []int{out, in}},
		{Name: "cls.seq_relationship.bias", Param: l.Bias, Shape: []int{out}},
	}
}

func loadPair(ck *loader.Checkpoint, l *encoder.Linear) error {
	return encoder.LoadTensors(pairParams(l), ck.Tensors)
}

// copyTokenizer copies a tokenizer (a vocab.txt, a tokenizer.json, or a
// directory with tokenizer files) into dir.
func copyTokenizer(src, dir string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if _, err := tokenizer.FromFile(src); err != nil {
			return err
		}
		return atomicfile.Write(filepath.Join(dir, filepath.Base(src)), b)
	}
	files, err := tokenizer.ReadFiles(src)
	if err != nil {
		return err
	}
	for f, b := range files {
		if err := atomicfile.Write(filepath.Join(dir, f), b); err != nil {
			return err
		}
	}
	return nil
}

// writeVocab writes a trained WordPiece vocabulary's files into dir.
func writeVocab(dir string, vocab []string, lowercase bool) error {
	var txt, js bytes.Buffer
	if err := tokenizer.WriteVocabTxt(&txt, vocab); err != nil {
		return err
	}
	if err := tokenizer.WriteJSON(&js, vocab, tokenizer.BertOptions{Lowercase: lowercase}); err != nil {
		return err
	}
	cfg, _ := json.MarshalIndent(map[string]any{"do_lower_case": lowercase, "tokenizer_class": "BertTokenizer",
		"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}, "", "  ")
	for name, b := range map[string][]byte{"vocab.txt": txt.Bytes(), "tokenizer.json": js.Bytes(), "tokenizer_config.json": cfg} {
		if err := atomicfile.Write(filepath.Join(dir, name), b); err != nil {
			return err
		}
	}
	return nil
}
