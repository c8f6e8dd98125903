package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/mpi"
	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/tasks"
	"github.com/hiertune/hiertune/train"
)

// Streams of random numbers, derived from the seed so that any step can be
// replayed exactly.
const (
	streamOrder = iota + 1
	streamSample
	streamDropout
)

// job is a fine-tuning run as the training loop sees it.
type job struct {
	cfg      *Config
	m        *model.Model
	log      io.Writer
	hook     Hook
	perEpoch int
	// draws counts the batches taken from each dataset; passes holds the
	// batches of each dataset's current pass over its training set.
	draws  map[string]int
	passes map[string]*pass
	// keys numbers the training examples, for the hook.
	keys map[*tasks.Example]int
	comm *mpi.Comm // the ranks of a data-parallel job, nil for one process
}

// pass is the order of a dataset's batches in one pass over it.
type pass struct {
	n       int
	batches [][]int
}

// afterStep, when set (by tests), is called after every step.
var afterStep func(step int)

// Run runs the fine-tuning job cfg (whose YAML text is raw) in its run
// directory — a new run, the continuation of the one there, or that run
// started over, as mode says — with hook's losses added to every step
// (nil: none). A run continued before its first checkpoint starts from
// step 0. Progress goes to log. It returns train.ErrStopped after an
// interruption (ctx cancelled), once a checkpoint is saved.
func Run(ctx context.Context, cfg *Config, raw []byte, mode run.Mode, log io.Writer, hook Hook) error {
	cfg.Train.SetThreads()
	log = train.Quiet(ctx, log)
	dir, err := train.OpenRun(ctx, cfg.Output, raw, mode)
	if err != nil {
		return err
	}
	defer dir.Close()
	j := &job{cfg: cfg, log: log, hook: hook, draws: map[string]int{}, passes: map[string]*pass{}, comm: train.World(ctx)}
	ckDir, err := run.ResumeFrom(dir, mode, log)
	if err != nil {
		return err
	}
	loop, err := j.setup(ckDir)
	if err != nil {
		return err
	}
	loop.Dir, loop.AfterStep = dir, afterStep
	return loop.Run(ctx, j, ckDir)
}

// setup builds the model (from the checkpoint ckDir when resuming, that
// is when ckDir is not empty), reads the data and plans the run.
func (j *job) setup(ckDir string) (*train.Loop, error) {
	cfg, tr := j.cfg, j.cfg.Train
	resume, from := ckDir != "", cfg.Model
	if resume {
		from = ckDir
	}
	ck, err := loader.Open(from)
	if err != nil {
		return nil, err
	}
	if j.m, err = model.New(&cfg.Config, ck); err != nil {
		return nil, err
	}
	m := j.m
	m.BatchSize = tr.EvalBatch()
	if cfg.RandomInit && !resume {
		m.Encoder.InitWeights(rand.New(rand.NewPCG(tr.Seed, 0x1417)))
		fmt.Fprintln(j.log, "random_init: the encoder starts from random weights")
	}
	for _, d := range m.Datasets {
		if len(m.TasksOf(d)) == 0 {
			continue
		}
		if err := m.Load(d, j.log); err != nil {
			return nil, err
		}
		fmt.Fprintf(j.log, "dataset %s: %d training and %d dev examples\n", d.Name, len(d.Train), len(d.Dev))
	}
	var labels map[string][]string
	if resume {
		if labels, err = m.ReadLabels(ckDir); err != nil {
			return nil, err
		}
	} else if j.hook != nil {
		labels = j.hook.Labels()
	}
	if err := m.BuildHeads(labels, tr.Seed); err != nil {
		return nil, err
	}
	if j.hook != nil {
		if m.Extra, err = j.hook.Attach(m); err != nil {
			return nil, err
		}
	}
	if resume {
		if err := m.LoadHeads(ckDir); err != nil {
			return nil, err
		}
	}
	L := m.Encoder.Config.NumHiddenLayers
	for _, t := range m.Tasks {
		reads := fmt.Sprintf("layer %d of %d", t.Layer, L)
		if t.Mixer != nil {
			reads = fmt.Sprintf("a %s mix of layers %v (diff %v)", t.Config.Mix.Mode, t.Mixer.Layers(), t.Config.Mix.Diff)
		}
		fmt.Fprintf(j.log, "task %s: %s on %s, %s, %d labels\n", t.Config.Name, t.Config.Type, t.Config.Dataset, reads, len(t.Labels))
	}
	first := j.dataset(m.Tasks[0].Config.Dataset)
	j.perEpoch = max(1, (len(first.Train)+tr.BatchSize-1)/tr.BatchSize)
	steps := tr.Steps
	switch {
	case len(cfg.Continual) > 0:
		steps = 0
		for _, s := range cfg.Continual {
			steps += s.Steps
		}
	case tr.Steps == 0:
		steps = int(math.Ceil(tr.Epochs * float64(j.perEpoch)))
	}
	steps = tr.WholeUpdates(steps)
	selected := tr.Select
	if selected == "" {
		selected = first.MainMetric(m.Tasks[0])
	}
	if err := j.checkSelect(selected); err != nil {
		return nil, err
	}
	if j.hook != nil {
		j.hook.Plan(steps, j.perEpoch)
	}
	fmt.Fprintf(j.log, "training %d steps (%d per epoch of %s), evaluating every %d\n", steps, j.perEpoch, first.Name, tr.EvalEvery.In(j.perEpoch))
	return &train.Loop{
		Config: &j.cfg.Train, Log: j.log, Steps: steps, PerEpoch: j.perEpoch, Select: selected,
		Groups: []train.Group{
			{Name: "encoder", Params: m.Encoder.NamedParams(), LR: tr.LearningRate, Metric: "lr"},
			{Name: "heads", Params: m.HeadParams(), LR: tr.HeadRate(), Metric: "head_lr"},
		},
	}, nil
}

// checkSelect makes sure, before training, that the metric choosing the
// best checkpoint is one the dev sets give.
func (j *job) checkSelect(selected string) error {
	var all []string
	for _, d := range j.m.Datasets {
		names, err := j.m.MetricNames(d)
		if err != nil {
			return err
		}
		all = append(all, names...)
	}
	if len(all) > 0 && !slices.Contains(all, selected) {
		return fmt.Errorf("train.select: no metric %q: the dev sets give %s", selected, strings.Join(all, ", "))
	}
	return nil
}

func (j *job) dataset(name string) *datasets.Dataset {
	d, _ := j.m.Dataset(name)
	return d
}

func (j *job) rng(stream, a, b uint64) *rand.Rand {
	return rand.New(rand.NewPCG(j.cfg.Train.Seed^(stream<<56)^(a<<24), b))
}

// active returns the tasks trained at step s: all of them, or those of the
// continual stages begun by then.
func (j *job) active(s int) []*tasks.Task {
	stages := j.cfg.Continual
	if len(stages) == 0 {
		return j.m.Tasks
	}
	on := map[string]bool{}
	end := 0
	for _, st := range stages {
		for _, name := range st.Add {
			on[name] = true
		}
		end += st.Steps
		if s < end {
			break
		}
	}
	var out []*tasks.Task
	for _, t := range j.m.Tasks {
		if on[t.Config.Name] {
			out = append(out, t)
		}
	}
	return out
}

// datasetsAt returns the datasets step s draws a batch from, following the
// sampling rule, with the tasks of each that are active.
func (j *job) datasetsAt(s int) ([]*datasets.Dataset, map[*datasets.Dataset][]*tasks.Task) {
	byDataset := map[*datasets.Dataset][]*tasks.Task{}
	var ds []*datasets.Dataset
	for _, t := range j.active(s) {
		d := j.dataset(t.Config.Dataset)
		if _, ok := byDataset[d]; !ok {
			ds = append(ds, d)
		}
		byDataset[d] = append(byDataset[d], t)
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a].Name < ds[b].Name })
	switch j.cfg.Sampling {
	case "mixed":
		return ds, byDataset
	case "round-robin":
		return []*datasets.Dataset{ds[s%len(ds)]}, byDataset
	}
	temp := 1.0
	if j.cfg.Sampling == "temperature" {
		temp = j.cfg.SamplingTemperature
	}
	weights := make([]float64, len(ds))
	var total float64
	for i, d := range ds {
		weights[i] = math.Pow(float64(len(d.Train)), 1/temp)
		total += weights[i]
	}
	u := j.rng(streamSample, 0, uint64(s)).Float64() * total
	for i, w := range weights {
		if u < w || i == len(ds)-1 {
			return []*datasets.Dataset{ds[i]}, byDataset
		}
		u -= w
	}
	return ds[:1], byDataset
}

// nextBatch returns the dataset's next training batch: its draws walk a
// fresh permutation every pass, grouped by length.
func (j *job) nextBatch(d *datasets.Dataset) *tasks.Batch {
	k := j.draws[d.Name]
	j.draws[d.Name]++
	n, bs := len(d.Train), j.cfg.Train.BatchSize
	perPass := (n + bs - 1) / bs
	p := j.passes[d.Name]
	if pn := k / perPass; p == nil || p.n != pn {
		rng := j.rng(streamOrder, datasetKey(d.Name), uint64(pn))
		p = &pass{n: pn, batches: tasks.GroupedBatches(rng.Perm(n), d.Train, bs, j.m.BatchLength(d), rng.Shuffle)}
		j.passes[d.Name] = p
	}
	group := p.batches[k%perPass]
	exs := make([]*tasks.Example, len(group))
	for i, e := range group {
		exs[i] = d.Train[e]
	}
	return j.m.Batch(d, exs)
}

// datasetKey turns a dataset name into a number for its random stream.
func datasetKey(name string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return h & 0xffffff
}

// Skip advances the data past step s as Step(s) would, computing nothing:
// in data-parallel training, another rank computes it.
func (j *job) Skip(s int) error {
	ds, _ := j.datasetsAt(s)
	for _, d := range ds {
		j.draws[d.Name]++
	}
	return nil
}

// Step runs the forward and backward passes of step s and returns each
// task's weighted loss, the tokens processed and the padded positions
// computed.
func (j *job) Step(s int) (train.Stats, error) {
	ds, byDataset := j.datasetsAt(s)
	rng := j.rng(streamDropout, 0, uint64(s))
	p := float32(j.cfg.Dropout)
	drop := func() kernels.Dropout { return kernels.Dropout{P: p, Seed: rng.Uint32()} }
	st := train.Stats{Losses: map[string]float64{}}
	acc := float64(j.cfg.Train.Accumulate)
	for _, d := range ds {
		b := j.nextBatch(d)
		st.Tokens += b.Tokens
		st.Padded += b.Enc.Size * b.Enc.Seq
		ts := byDataset[d]
		opt := encoder.Options{Train: true, RNG: rng, Depth: j.depth(ts), Words: b.Words}
		if _, err := j.m.SetMerger(&opt); err != nil {
			return st, err
		}
		if err := j.m.SetPairs(&opt, b); err != nil {
			return st, err
		}
		var hb *Batch
		if j.hook != nil {
			hb = j.hookBatch(d, b, ts)
			j.hook.Options(s, hb, &opt)
		}
		res, err := j.m.Encoder.Forward(b.Enc, opt)
		if err != nil {
			return st, err
		}
		extra := Losses{Hard: 1}
		if j.hook != nil {
			if extra, err = j.hook.Loss(s, hb, res); err != nil {
				return st, err
			}
		}
		var terms []mat.Tensor
		var weights []float32
		for _, t := range ts {
			if extra.Hard == 0 {
				break
			}
			l, err := loss(t, res.HiddenStates, b, heads.Dropout(drop))
			if err != nil {
				return st, fmt.Errorf("task %s: %w", t.Config.Name, err)
			}
			w := t.Config.Weight * extra.Hard
			terms = append(terms, l)
			weights = append(weights, float32(w/acc))
			st.Losses[t.Config.Name] = w * float64(kernels.Values(l)[0])
		}
		if h := j.m.Hierarchy(); h != nil {
			hl, err := h.Losses(res.HiddenStates, b, d.Name)
			if err != nil {
				return st, fmt.Errorf("%s: %w", d.Config.Train, err)
			}
			extra.Terms, extra.Weights, extra.Names = append(extra.Terms, hl.Terms...), append(extra.Weights, hl.Weights...), append(extra.Names, hl.Names...)
		}
		for i, l := range extra.Terms {
			terms = append(terms, l)
			weights = append(weights, float32(float64(extra.Weights[i])/acc))
			st.Losses[extra.Names[i]] += float64(extra.Weights[i]) * float64(kernels.Values(l)[0])
		}
		if len(terms) == 0 { // every weight of the step is 0
			continue
		}
		if err := kernels.Backward(kernels.WeightedSum(terms, weights)); err != nil {
			return st, err
		}
	}
	return st, nil
}

// depth returns how deep a training forward pass on a batch for tasks ts
// runs: as deep as they read, or as the hierarchy's losses read.
func (j *job) depth(ts []*tasks.Task) int {
	d := model.Depth(ts)
	if c := j.m.Config.Hierarchy; c != nil {
		if s := c.Similarity; s != nil {
			d = max(d, slices.Max(s.Layers))
		}
		if s := c.Syntax; s != nil && slices.ContainsFunc(ts, func(t *tasks.Task) bool { return t.Config.Dataset == s.Dataset }) {
			d = max(d, slices.Max(s.Layers))
		}
	}
	return d
}

// loss returns task t's training loss on a batch from the hidden states of
// a forward pass, with dropout drawn from d.
func loss(t *tasks.Task, hidden []mat.Tensor, b *tasks.Batch, d heads.Dropout) (mat.Tensor, error) {
	s, err := t.Head.Scores(t.Input(hidden, b, false), d)
	if err != nil {
		return nil, err
	}
	return t.Head.Loss(s, b)
}

// Evaluate scores every dataset's dev set and prints the scores.
func (j *job) Evaluate(step int) (*train.Scores, error) {
	scores := map[string]float64{}
	for _, d := range j.m.Datasets {
		if len(j.m.TasksOf(d)) == 0 || len(d.Dev) == 0 {
			continue
		}
		preds, err := j.predictDev(d)
		if err != nil {
			return nil, err
		}
		s, err := j.m.Score(d, d.Dev, preds)
		if err != nil {
			return nil, err
		}
		for k, v := range s {
			scores[k] = v
		}
	}
	if len(scores) == 0 {
		return nil, nil
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(scores)) {
		parts = append(parts, fmt.Sprintf("%s %.4f", k, scores[k]))
	}
	fmt.Fprintf(j.log, "dev at step %d: %s\n", step, strings.Join(parts, "  "))
	scores["epoch"] = float64(step) / float64(j.perEpoch)
	return &train.Scores{Split: "dev", Values: scores}, nil
}

// predictDev predicts d's dev set. In a data-parallel job each rank
// predicts every N-th example and the ranks exchange their predictions,
// so every rank scores the whole set.
func (j *job) predictDev(d *datasets.Dataset) (map[*tasks.Task][]tasks.Prediction, error) {
	if j.comm == nil {
		return j.m.Predict(d, d.Dev, j.cfg.Train.EvalBatch())
	}
	var mine []*tasks.Example
	for i, ex := range d.Dev {
		if train.Mine(j.comm, i) {
			mine = append(mine, ex)
		}
	}
	preds, err := j.m.Predict(d, mine, j.cfg.Train.EvalBatch())
	if err != nil {
		return nil, err
	}
	byName := map[string][]tasks.Prediction{}
	for t, p := range preds {
		byName[t.Config.Name] = p
	}
	b, err := json.Marshal(byName)
	if err != nil {
		return nil, err
	}
	shards, err := j.comm.AllGather(b)
	if err != nil {
		return nil, err
	}
	out := map[*tasks.Task][]tasks.Prediction{}
	for t := range preds {
		out[t] = make([]tasks.Prediction, len(d.Dev))
	}
	for r, b := range shards {
		var got map[string][]tasks.Prediction
		if err := json.Unmarshal(b, &got); err != nil {
			return nil, fmt.Errorf("the dev predictions of rank %d: %w", r, err)
		}
		for t := range out {
			for k, p := range got[t.Config.Name] {
				out[t][r+k*j.comm.Size()] = p
			}
		}
	}
	return out, nil
}

// Files returns the model's checkpoint files.
func (j *job) Files() (map[string][]byte, error) { return j.m.Files() }

// state is what a checkpoint records of the job: with the seed it fixes the
// batches of the rest of the run.
type state struct {
	Draws map[string]int `json:"draws"`
}

// State returns the batches drawn from each dataset so far.
func (j *job) State() any { return state{Draws: j.draws} }

// Restore continues the draws of a checkpoint.
func (j *job) Restore(raw json.RawMessage) error {
	var s state
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	if s.Draws != nil {
		j.draws = s.Draws
	}
	return nil
}

// Open loads a fine-tuned model from a run directory for inference: the
// configuration the run was started with, and the named checkpoint ("best",
// "latest" or a step checkpoint's name).
func Open(runDir, checkpoint string) (*model.Model, error) {
	cfg, err := ReadRunConfig(runDir)
	if err != nil {
		return nil, err
	}
	d, err := run.Open(runDir)
	if err != nil {
		return nil, err
	}
	dir, err := d.CheckpointDir(checkpoint)
	if err != nil {
		return nil, err
	}
	m, err := model.Load(&cfg.Config, dir)
	if err != nil {
		return nil, err
	}
	m.BatchSize = cfg.Train.EvalBatch()
	return m, nil
}
