package pretrain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/train"
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

func (t *trainer) rng(stream, a, b uint64) *rand.Rand {
	return rand.New(rand.NewPCG(t.cfg.Train.Seed^(stream<<56)^(a<<24), b))
}

// perEpoch returns the number of steps of an epoch.
func (t *trainer) perEpoch() int { return max(1, t.train.Len()/t.cfg.Train.BatchSize) }

// batchAt returns the training batch of global step s. Every epoch walks a
// fresh permutation of the training sequences, cut into batches of similar
// lengths (see epochBatches), and masks each sequence anew.
func (t *trainer) batchAt(s int) (*batch, error) {
	perEpoch := t.perEpoch()
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

// Skip does nothing: a step's batch is a function of its number, so a
// rank skipping the batches other ranks compute has nothing to advance.
func (t *trainer) Skip(int) error { return nil }

// Step computes the gradients of step s on its batch.
func (t *trainer) Step(s int) (train.Stats, error) {
	b, err := t.batchAt(s)
	if err != nil {
		return train.Stats{}, err
	}
	loss, mlmLoss, logits, err := t.outputs(b, true, t.rng(streamDropout, 0, uint64(s)))
	if err != nil {
		return train.Stats{}, err
	}
	if err := kernels.Backward(loss); err != nil {
		return train.Stats{}, err
	}
	lv := float64(kernels.Values(mlmLoss)[0])
	t.sumLoss += lv * float64(len(b.targets))
	t.sumCorrect += correct(logits, b.targets)
	t.sumMasked += len(b.targets)
	losses := map[string]float64{"mlm": lv}
	if t.pair != nil {
		losses["sentence"] = float64(kernels.Values(loss)[0]) - lv
	}
	return train.Stats{Tokens: b.tokens, Padded: b.enc.Size * b.enc.Seq, Losses: losses}, nil
}

// Record gives a train record's masked-LM loss and accuracy (per masked
// token since the last record), the gradient norm and the tokens so far.
func (t *trainer) Record(w train.Window) map[string]any {
	rec := map[string]any{"loss": t.sumLoss / float64(t.sumMasked), "mlm_accuracy": float64(t.sumCorrect) / float64(t.sumMasked),
		"grad_norm": w.GradNorm, "tokens": w.Tokens}
	t.sumLoss, t.sumCorrect, t.sumMasked = 0, 0, 0
	return rec
}

// window is what a checkpoint records of the trainer: the sums of the
// train record in progress.
type window struct {
	Loss    float64 `json:"loss"`
	Correct int     `json:"correct"`
	Masked  int     `json:"masked"`
}

// State returns the sums of the train record in progress.
func (t *trainer) State() any { return window{t.sumLoss, t.sumCorrect, t.sumMasked} }

// Restore continues the train record of a checkpoint.
func (t *trainer) Restore(raw json.RawMessage) error {
	var w window
	if err := json.Unmarshal(raw, &w); err != nil {
		return err
	}
	t.sumLoss, t.sumCorrect, t.sumMasked = w.Loss, w.Correct, w.Masked
	return nil
}

// Eval is a held-out evaluation.
type Eval struct {
	Loss, Perplexity, Accuracy float64
	Masked                     int
}

// Evaluate measures the held-out loss, perplexity and masked-token
// accuracy with fixed masks, beside the unigram baseline.
func (t *trainer) Evaluate(step int) (*train.Scores, error) {
	e, err := t.heldoutEval()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(t.log, "held out at step %d: loss %.4f, perplexity %.2f, masked-token accuracy %.4f (unigram: %.2f, %.4f)\n",
		step, e.Loss, e.Perplexity, e.Accuracy, t.baseline.Perplexity, t.baseline.Accuracy)
	return &train.Scores{Split: "heldout", Values: map[string]float64{"loss": e.Loss, "perplexity": e.Perplexity,
		"mlm_accuracy": e.Accuracy, "masked_tokens": float64(e.Masked), "unigram_accuracy": t.baseline.Accuracy,
		"unigram_perplexity": t.baseline.Perplexity}}, nil
}

// heldoutBatches calls fn with each evaluation batch: the first
// data.eval_sequences held-out sequences, masked the same way every time
// (in a data-parallel job, with this rank's share of them).
func (t *trainer) heldoutBatches(fn func(*batch) error) error {
	n, bs := min(t.heldout.Len(), t.cfg.Data.EvalSequences), t.cfg.Train.EvalBatch()
	for lo := 0; lo < n; lo += bs {
		if !train.Mine(t.comm, lo/bs) {
			continue // another rank's
		}
		var exs []example
		for i := lo; i < min(n, lo+bs); i++ {
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
		if a := kernels.CurrentArena(); a != nil {
			a.Reset()
		}
		return nil
	})
	if err != nil {
		return Eval{}, err
	}
	sums := []float64{sum, float64(right), float64(masked)}
	if err := train.SumShards(t.comm, sums); err != nil {
		return Eval{}, err
	}
	sum, right, masked = sums[0], int(sums[1]), int(sums[2])
	if masked == 0 {
		return Eval{}, nil
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
	if err != nil {
		return err
	}
	sums := []float64{logp, float64(right), float64(masked)}
	if err := train.SumShards(t.comm, sums); err != nil {
		return err
	}
	logp, right, masked = sums[0], int(sums[1]), int(sums[2])
	if masked == 0 {
		return nil
	}
	t.baseline = Baseline{Accuracy: float64(right) / float64(masked), Perplexity: math.Exp(-logp / float64(masked))}
	return nil
}

// Files returns the model's checkpoint files: a HuggingFace
// BertForMaskedLM (or BertForPreTraining) directory.
func (t *trainer) Files() (map[string][]byte, error) {
	heads := encoder.Tensors(t.mlm.NamedParams())
	arch := "BertForMaskedLM"
	if t.pair != nil {
		maps.Copy(heads, encoder.Tensors(pairParams(t.pair)))
		arch = "BertForPreTraining"
	}
	return loader.EncoderFiles(t.model, t.prefix, t.rawCfg, arch, heads, t.tokFiles)
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
