package distill

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/kernels"
)

// teacher is a fine-tuned run that teaches some of the student's tasks.
type teacher struct {
	run   string // its run directory
	m     *finetune.Model
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
	student   *finetune.Model
	weights   map[string]float64 // task → its configured weight
	boundary  int                // the first step of the prediction phase
	total     int
}

// Labels returns the teachers' label vocabularies, so the student's
// classes are theirs.
func (h *taskHook) Labels() map[string][]string {
	out := map[string][]string{}
	for _, t := range h.teachers {
		labels := t.m.TaskLabels()
		for _, name := range t.tasks {
			out[name] = labels[name]
		}
	}
	return out
}

// Attach checks the layer maps and head counts against the student, and
// makes the projections of hidden states to each teacher's width.
func (h *taskHook) Attach(m *finetune.Model) ([]encoder.NamedParam, error) {
	h.student = m
	sc := m.Encoder.Config
	h.weights = map[string]float64{}
	for _, tc := range m.Config().Tasks {
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
// scores, in the intermediate phase.
func (h *taskHook) Options(step int, b *finetune.Batch, opt *encoder.Options) {
	if step >= h.boundary {
		return
	}
	t := h.byDataset[b.Dataset()]
	deepest, _ := t.layers.Deepest()
	if opt.Depth > 0 {
		opt.Depth = max(opt.Depth, deepest)
	}
	if h.attentionWeight(step) > 0 {
		for _, l := range t.layers.Student {
			if l > 0 {
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
	t := h.byDataset[b.Dataset()]
	enc := b.Encoded()
	_, deepest := t.layers.Deepest()
	topt := encoder.Options{Depth: max(deepest, 1)}
	wAttn := h.attentionWeight(step)
	if wAttn > 0 {
		for _, l := range t.layers.Teacher {
			if l > 0 {
				topt.Scores = append(topt.Scores, l)
			}
		}
	}
	tres, err := t.m.Encoder.Forward(enc, topt)
	if err != nil {
		return out, fmt.Errorf("teacher %s: %w", t.run, err)
	}
	keep := make([]bool, len(enc.AttentionMask))
	for i, v := range enc.AttentionMask {
		keep[i] = v != 0
	}
	w := h.cfg.Weights
	for i, s := range t.layers.Student {
		tl := t.layers.Teacher[i]
		if s >= len(res.HiddenStates) || tl >= len(tres.HiddenStates) {
			return out, fmt.Errorf("layer map %d → %d: the forward passes have %d and %d hidden states", s, tl, len(res.HiddenStates), len(tres.HiddenStates))
		}
		states := res.HiddenStates[s]
		if t.proj != nil {
			states = t.proj.Forward(states)
		}
		l, err := MSE(states, kernels.Values(tres.HiddenStates[tl]), keep)
		if err != nil {
			return out, fmt.Errorf("layer %d → %d: %w", s, tl, err)
		}
		name, weight := "hidden", w.Hidden.At(step, h.boundary)
		if s == 0 {
			name, weight = "embeddings", w.Embeddings.At(step, h.boundary)
		}
		addTerm(&out, name, l, weight)
		if wAttn > 0 && s > 0 {
			a, err := AttentionMSE(res.Scores[s-1], kernels.Values(tres.Scores[tl-1]), enc.AttentionMask, enc.Size, enc.Seq)
			if err != nil {
				return out, fmt.Errorf("attention of layer %d → %d: %w", s, tl, err)
			}
			addTerm(&out, "attention", a, wAttn)
		}
	}
	return out, nil
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
	teacherOut := map[*teacher]map[string]finetune.Output{} // computed at most once a batch
	for _, name := range b.Tasks() {
		t := h.byTask[name]
		if t == nil {
			return out, fmt.Errorf("task %s: no teacher teaches it", name)
		}
		outs, err := h.student.Outputs(name, b, res.HiddenStates)
		if err != nil {
			return out, err
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
func (h *taskHook) targets(t *teacher, so finetune.Output, b *finetune.Batch, computed map[*teacher]map[string]finetune.Output) ([]float32, error) {
	keys := b.Keys()
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

// teacherOutputs runs a teacher on a batch and returns its outputs for the
// batch's tasks that it teaches, by name.
func (h *taskHook) teacherOutputs(t *teacher, b *finetune.Batch) (map[string]finetune.Output, error) {
	deepest := 0
	for _, name := range b.Tasks() {
		if l, ok := t.m.TaskLayer(name); ok && slices.Contains(t.tasks, name) {
			deepest = max(deepest, l)
		}
	}
	res, err := t.m.Encoder.Forward(b.Encoded(), encoder.Options{Depth: max(deepest, 1)})
	if err != nil {
		return nil, fmt.Errorf("teacher %s: %w", t.run, err)
	}
	out := map[string]finetune.Output{}
	for _, name := range b.Tasks() {
		if !slices.Contains(t.tasks, name) {
			continue
		}
		outs, err := t.m.Outputs(name, b, res.HiddenStates)
		if err != nil {
			return nil, fmt.Errorf("teacher %s: %w", t.run, err)
		}
		for _, o := range outs {
			out[o.Name] = o
		}
	}
	return out, nil
}
