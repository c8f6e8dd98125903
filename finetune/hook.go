package finetune

import (
	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/tasks"
)

// Hook adds losses to the steps of a fine-tuning run, so that another
// package (distill) trains a model that is evaluated, checkpointed and
// resumed exactly as a fine-tuned one is.
type Hook interface {
	// Labels returns the label vocabularies the tasks must use (a teacher's,
	// so that the student's classes are the teacher's), or nil to collect
	// them from the training data. A resumed run reads its checkpoint's.
	Labels() map[string][]string
	// Attach is called once the model's heads exist, before a resumed run
	// restores its checkpoint. The parameters it returns (names not
	// clashing with the tasks') are trained with the heads and saved in
	// heads.safetensors.
	Attach(m *model.Model) ([]encoder.NamedParam, error)
	// Plan gives the run's length in steps, and the steps of an epoch of
	// the first task's dataset, before the first step.
	Plan(steps, perEpoch int)
	// Options adjusts the model's forward pass of step on b.
	Options(step int, b *Batch, opt *encoder.Options)
	// Loss returns the extra losses of step on b from the forward pass res.
	Loss(step int, b *Batch, res *encoder.Result) (Losses, error)
}

// Losses are the extra loss terms of one batch, with the weight of the
// tasks' own (gold-label) losses.
type Losses struct {
	// Hard multiplies every task's own loss (0 skips them).
	Hard    float64
	Terms   []mat.Tensor
	Weights []float32
	// Names[i] names term i in the metrics (loss_NAME); terms may share a
	// name, whose weighted values then add up.
	Names []string
}

// Batch is a training batch of one dataset, as a Hook sees it.
type Batch struct {
	*tasks.Batch
	Dataset *datasets.Dataset
	// Keys are the indices of the batch's examples in the dataset's
	// training set: stable across steps and runs, for caching per
	// example.
	Keys []int
	// Tasks are the tasks the batch trains.
	Tasks []*tasks.Task
}

// hookBatch wraps a batch of d for the hook, with its examples' keys.
func (j *job) hookBatch(d *datasets.Dataset, b *tasks.Batch, ts []*tasks.Task) *Batch {
	if j.keys == nil {
		j.keys = map[*tasks.Example]int{}
	}
	if _, ok := j.keys[b.Examples[0]]; !ok {
		for i, ex := range d.Train {
			j.keys[ex] = i
		}
	}
	hb := &Batch{Batch: b, Dataset: d, Tasks: ts}
	for _, ex := range b.Examples {
		hb.Keys = append(hb.Keys, j.keys[ex])
	}
	return hb
}
