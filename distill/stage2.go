package distill

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/tasks"
)

// teacher is a fine-tuned run that teaches some of the student's tasks.
type teacher struct {
	run   string // its run directory
	m     *model.Model
	cfg   *finetune.Config // the run's configuration
	tasks []string
	// layers maps the student's hidden states to the teacher's for the
	// intermediate phase; proj widens the student's to the teacher's
	// (nil when equal).
	layers LayerMap
	proj   *encoder.Linear
}

// taskHook is stage 2 as a fine-tuning hook: for the first steps the
// student's hidden states and attention scores learn the teacher's, then
// its task heads learn the teacher's predictions (and the gold labels).
type taskHook struct {
	cfg       *TaskConfig
	seed      uint64
	teachers  []*teacher
	byTask    map[string]*teacher
	byDataset map[string]*teacher // teaches the intermediate phase of a dataset
	cache     *Cache              // nil: recompute
	student   *model.Model
	weights   map[string]float64 // task → its configured weight
	boundary  int                // the first step of the prediction phase
	total     int
}

// Labels returns the teachers' label vocabularies, so the student's
// classes are theirs.
func (h *taskHook) Labels() map[string][]string {
	out := map[string][]string{}
	for _, t := range h.teachers {
		labels := t.m.Labels()
		for _, name := range t.tasks {
			out[name] = labels[name]
		}
	}
	return out
}

// Attach checks the layer maps and head counts against the student, and
// makes the projections of hidden states to each teacher's width.
func (h *taskHook) Attach(m *model.Model) ([]encoder.NamedParam, error) {
	h.student = m
	sc := m.Encoder.Config
	h.weights = map[string]float64{}
	for _, tc := range m.Config.Tasks {
		h.weights[tc.Name] = tc.Weight
	}
	intermediate := h.cfg.Intermediate.Steps > 0 || h.cfg.Intermediate.Epochs > 0
	var params []encoder.NamedParam
	rng := rand.New(rand.NewPCG(h.seed, 0x9a0))
	for i, t := range h.teachers {
		tc := t.m.Encoder.Config
		var err error
		if t.layers, err = ParseLayerMap(h.cfg.LayerMap, sc.NumHiddenLayers, tc.NumHiddenLayers); err != nil {
			return nil, fmt.Errorf("task.%w (teacher %s)", err, t.run)
		}
		if w := h.cfg.Weights.Attention; intermediate && (w.Start > 0 || w.End > 0) {
			if err := CheckHeads(sc.NumAttentionHeads, tc.NumAttentionHeads); err != nil {
				return nil, fmt.Errorf("teacher %s: %w", t.run, err)
			}
		}
		if sc.HiddenSize != tc.HiddenSize {
			t.proj = encoder.NewLinear(sc.HiddenSize, tc.HiddenSize)
			encoder.InitNormal(t.proj.Weight, 0.02, rng)
			prefix := fmt.Sprintf("distill.teacher%d.proj.", i)
			params = append(params,
				encoder.NamedParam{Name: prefix + "weight", Param: t.proj.Weight, Shape: []int{tc.HiddenSize, sc.HiddenSize}},
				encoder.NamedParam{Name: prefix + "bias", Param: t.proj.Bias, Shape: []int{tc.HiddenSize}})
		}
	}
	return params, nil
}

// Plan places the phase boundary.
func (h *taskHook) Plan(steps, perEpoch int) {
	h.total = steps
	h.boundary = h.cfg.Intermediate.Steps
	if e := h.cfg.Intermediate.Epochs; e > 0 {
		h.boundary = int(math.Ceil(e * float64(perEpoch)))
	}
	h.boundary = min(h.boundary, steps)
}

// Options runs the student deep enough for the layer map, with attention
// scores (of the layers over pieces), in the intermediate phase.
func (h *taskHook) Options(step int, b *finetune.Batch, opt *encoder.Options) {
	if step >= h.boundary {
		return
	}
	t := h.byDataset[b.Dataset.Name]
	deepest, _ := t.layers.Deepest()
	if opt.Depth > 0 {
		opt.Depth = max(opt.Depth, deepest)
	}
	if h.attentionWeight(step) > 0 {
		for _, l := range t.layers.Student {
			if l > 0 && !b.UnitsAt(l) {
				opt.Scores = append(opt.Scores, l)
			}
		}
	}
}

func (h *taskHook) attentionWeight(step int) float64 {
	return h.cfg.Weights.Attention.At(step, h.boundary)
}

// Loss returns the losses of the phase step is in.
func (h *taskHook) Loss(step int, b *finetune.Batch, res *encoder.Result) (finetune.Losses, error) {
	if step < h.boundary {
		return h.intermediate(step, b, res)
	}
	return h.prediction(step-h.boundary, b, res)
}

// intermediate matches embeddings, hidden states and attention scores of
// the mapped layers; the tasks' own losses are off.
func (h *taskHook) intermediate(step int, b *finetune.Batch, res *encoder.Result) (finetune.Losses, error) {
	out := finetune.Losses{}
	t := h.byDataset[b.Dataset.Name]
	_, deepest := t.layers.Deepest()
	topt := encoder.Options{Depth: max(deepest, 1)}
	wAttn := h.attentionWeight(step)
	if wAttn > 0 {
		for i, l := range t.layers.Teacher {
			if l > 0 && !b.UnitsAt(t.layers.Student[i]) {
				topt.Scores = append(topt.Scores, l)
			}
		}
	}
	tres, err := t.m.Encoder.Forward(b.Enc, topt)
	if err != nil {
		return out, fmt.Errorf("teacher %s: %w", t.run, err)
	}
	w := h.cfg.Weights
	terms, err := intermediateLosses(res, tres, t.layers, t.proj, b.Enc, b.Words,
		intermediateWeights{w.Embeddings.At(step, h.boundary), w.Hidden.At(step, h.boundary), wAttn})
	for _, tm := range terms {
		addTerm(&out, tm.name, tm.loss, tm.weight)
	}
	return out, err
}

// addTerm appends a term with a positive weight.
func addTerm(out *finetune.Losses, name string, l mat.Tensor, weight float64) {
	if weight > 0 {
		out.Terms, out.Weights, out.Names = append(out.Terms, l), append(out.Weights, float32(weight)), append(out.Names, name)
	}
}

// prediction matches every task's predictions at the scheduled
// temperature, with the gold labels weighted by the hard weight.
func (h *taskHook) prediction(done int, b *finetune.Batch, res *encoder.Result) (finetune.Losses, error) {
	n := h.total - h.boundary
	w := h.cfg.Weights
	out := finetune.Losses{Hard: w.Hard.At(done, n)}
	soft := w.Soft.At(done, n)
	if soft == 0 {
		return out, nil
	}
	T := h.cfg.Temperature.At(done, n)
	teacherOut := map[*teacher]map[string]tasks.Target{} // computed at most once a batch
	for _, st := range b.Tasks {
		name := st.Config.Name
		t := h.byTask[name]
		if t == nil {
			return out, fmt.Errorf("task %s: no teacher teaches it", name)
		}
		outs, err := targets(st, res.HiddenStates, b.Batch)
		if err != nil {
			return out, fmt.Errorf("task %s: %w", name, err)
		}
		for _, so := range outs {
			target, err := h.targets(t, so, b, teacherOut)
			if err != nil {
				return out, fmt.Errorf("task %s: %w", name, err)
			}
			var l mat.Tensor
			if so.Sigmoid {
				l, err = SoftBinaryCrossEntropy(so.Scores, target, T)
			} else {
				l, err = SoftCrossEntropy(so.Scores, target, T)
			}
			if err != nil {
				return out, fmt.Errorf("task %s: %w", name, err)
			}
			addTerm(&out, "soft_"+so.Name, l, soft*h.weights[name])
		}
	}
	return out, nil
}

// targets returns the teacher's scores laid out as the student's output
// so: from the cache, or from a forward pass of the teacher (whose outputs
// then go to the cache).
func (h *taskHook) targets(t *teacher, so tasks.Target, b *finetune.Batch, computed map[*teacher]map[string]tasks.Target) ([]float32, error) {
	keys := b.Keys
	blocks := make([][]float32, len(keys))
	cols := make([]int, len(keys))
	missing := 0
	for i, key := range keys {
		if h.cache == nil {
			missing = len(keys)
			break
		}
		v, rows, c, ok, err := h.cache.Get(so.Name, key)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing++
			continue
		}
		if rows != so.Rows[i] {
			return nil, fmt.Errorf("%s: the cache has %d rows for training example %d, the student %d (remove %s)", so.Name, rows, key, so.Rows[i], h.cache.dir)
		}
		blocks[i], cols[i] = v, c
	}
	if missing > 0 {
		outs, ok := computed[t]
		if !ok {
			var err error
			if outs, err = h.teacherOutputs(t, b); err != nil {
				return nil, err
			}
			computed[t] = outs
		}
		to, ok := outs[so.Name]
		if !ok {
			return nil, fmt.Errorf("the teacher %s has no output %s", t.run, so.Name)
		}
		values := kernels.Values(to.Scores)
		_, width := kernels.Dims(to.Scores)
		row := 0
		for i, key := range keys {
			if to.Rows[i] != so.Rows[i] {
				return nil, fmt.Errorf("%s: the teacher has %d rows for an example, the student %d", so.Name, to.Rows[i], so.Rows[i])
			}
			c := to.Cols[i]
			block := make([]float32, 0, to.Rows[i]*c)
			for r := row; r < row+to.Rows[i]; r++ {
				block = append(block, values[r*width:r*width+c]...)
			}
			row += to.Rows[i]
			if h.cache != nil && blocks[i] == nil {
				if err := h.cache.Put(so.Name, key, block, to.Rows[i], c); err != nil {
					return nil, err
				}
			}
			blocks[i], cols[i] = block, c
		}
	}
	rows, width := kernels.Dims(so.Scores)
	target := make([]float32, 0, rows*width)
	for i, block := range blocks {
		c := cols[i]
		if c > width || (c != so.Cols[i]) {
			return nil, fmt.Errorf("%s: the teacher has %d columns for an example, the student %d", so.Name, c, so.Cols[i])
		}
		for r := 0; r < so.Rows[i]; r++ {
			target = append(target, block[r*c:(r+1)*c]...)
			for k := c; k < width; k++ {
				target = append(target, kernels.Masked)
			}
		}
	}
	if len(target) != rows*width {
		return nil, fmt.Errorf("%s: %d teacher scores for %d×%d student scores", so.Name, len(target), rows, width)
	}
	return target, nil
}

// teacherOutputs runs a teacher on a batch and returns its targets for the
// batch's tasks that it teaches, by name.
func (h *taskHook) teacherOutputs(t *teacher, b *finetune.Batch) (map[string]tasks.Target, error) {
	d, err := t.m.Dataset(b.Dataset.Name)
	if err != nil {
		return nil, fmt.Errorf("teacher %s: %w", t.run, err)
	}
	var ts []*tasks.Task
	for _, st := range b.Tasks {
		if tt := t.m.Task(st.Config.Name); tt != nil && slices.Contains(t.tasks, st.Config.Name) {
			ts = append(ts, tt)
		}
	}
	tb := t.m.Batch(d, b.Examples)
	res, err := t.m.Encoder.Forward(tb.Enc, encoder.Options{Depth: max(model.Depth(ts), 1), Words: tb.Words})
	if err != nil {
		return nil, fmt.Errorf("teacher %s: %w", t.run, err)
	}
	out := map[string]tasks.Target{}
	for _, tt := range ts {
		outs, err := targets(tt, res.HiddenStates, tb)
		if err != nil {
			return nil, fmt.Errorf("teacher %s: task %s: %w", t.run, tt.Config.Name, err)
		}
		for _, o := range outs {
			out[o.Name] = o
		}
	}
	return out, nil
}

// targets returns a task's scores on a batch, from the hidden states of a
// forward pass over it, as distillation targets (without dropout).
func targets(t *tasks.Task, hidden []mat.Tensor, b *tasks.Batch) ([]tasks.Target, error) {
	s, err := t.Head.Scores(t.Input(hidden, b, false), heads.NoDropout)
	if err != nil {
		return nil, err
	}
	return t.Head.Targets(s, b)
}
