package serve

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/tasks"
)

// job is one sentence waiting for the model.
type job struct {
	ctx        context.Context
	d          *datasets.Dataset
	ex         *tasks.Example
	confidence bool        // the request wants probabilities
	out        chan result // buffered: the batcher never waits for a reader
}

// result is a job's predictions (and confidences, if asked), by task, or
// why there are none.
type result struct {
	pred map[*tasks.Task]tasks.Prediction
	conf map[*tasks.Task]model.Confidence
	err  error
}

// batcher runs the model on batches of the sentences of concurrent
// requests: it takes the sentences waiting (up to maxBatch), waits up to
// maxWait for more if it is set, and runs them together, grouped by length
// as predict groups them. It is the only goroutine that runs the model.
type batcher struct {
	m        *model.Model
	queue    chan *job
	pending  atomic.Int64 // sentences admitted and not yet answered
	capacity int64
	maxBatch int
	maxWait  time.Duration
	metrics  *metrics
	done     chan struct{}
	// arena holds the batches' intermediate tensors, kept from batch to
	// batch: fresh memory for every batch cost more than the model.
	arena *kernels.Arena
}

func newBatcher(m *model.Model, capacity, maxBatch int, maxWait time.Duration, mt *metrics) *batcher {
	return &batcher{m: m, queue: make(chan *job, capacity), capacity: int64(capacity), maxBatch: maxBatch,
		maxWait: maxWait, metrics: mt, done: make(chan struct{}), arena: kernels.NewArena()}
}

// admit reserves room for n sentences, or reports that the queue is full.
func (b *batcher) admit(n int) bool {
	for {
		p := b.pending.Load()
		if p+int64(n) > b.capacity {
			return false
		}
		if b.pending.CompareAndSwap(p, p+int64(n)) {
			return true
		}
	}
}

// submit queues admitted jobs; it never blocks, the queue having room for
// every admitted sentence.
func (b *batcher) submit(j *job) { b.queue <- j }

// run batches until stop is closed and the queue is empty.
func (b *batcher) run(stop <-chan struct{}) {
	defer close(b.done)
	for {
		var first *job
		select {
		case first = <-b.queue:
		case <-stop:
			for { // answer what is still queued
				select {
				case j := <-b.queue:
					b.process([]*job{j})
				default:
					return
				}
			}
		}
		jobs := []*job{first}
	waiting: // what arrived while the last batch ran
		for len(jobs) < b.maxBatch {
			select {
			case j := <-b.queue:
				jobs = append(jobs, j)
			default:
				break waiting
			}
		}
		if len(jobs) < b.maxBatch && b.maxWait > 0 {
			timer := time.NewTimer(b.maxWait)
		collect:
			for len(jobs) < b.maxBatch {
				select {
				case j := <-b.queue:
					jobs = append(jobs, j)
				case <-timer.C:
					break collect
				}
			}
			timer.Stop()
		}
		b.process(jobs)
	}
}

// process runs the model on the jobs still wanted, one batch per dataset.
func (b *batcher) process(jobs []*job) {
	defer b.pending.Add(-int64(len(jobs)))
	byDataset := map[*datasets.Dataset][]*job{}
	var order []*datasets.Dataset
	for _, j := range jobs {
		if j.ctx.Err() != nil {
			j.out <- result{err: j.ctx.Err()} // the client is gone or timed out
			continue
		}
		if byDataset[j.d] == nil {
			order = append(order, j.d)
		}
		byDataset[j.d] = append(byDataset[j.d], j)
	}
	kernels.UseArena(b.arena)
	defer kernels.UseArena(nil)
	for _, d := range order {
		js := byDataset[d]
		exs := make([]*tasks.Example, len(js))
		words, confidence := 0, false
		for i, j := range js {
			exs[i] = j.ex
			words += max(len(j.ex.Words), 1)
			confidence = confidence || j.confidence
		}
		start := time.Now()
		var preds map[*tasks.Task][]tasks.Prediction
		var conf map[*tasks.Task][]model.Confidence
		var err error
		if confidence {
			preds, conf, err = b.m.PredictConfidence(d, exs, b.maxBatch)
		} else {
			preds, err = b.m.Predict(d, exs, b.maxBatch)
		}
		b.metrics.batch(len(js), words, time.Since(start).Seconds())
		for i, j := range js {
			if err != nil {
				j.out <- result{err: err}
				continue
			}
			res := result{pred: map[*tasks.Task]tasks.Prediction{}}
			for t, ps := range preds {
				res.pred[t] = ps[i]
			}
			if j.confidence {
				res.conf = map[*tasks.Task]model.Confidence{}
				for t, cs := range conf {
					res.conf[t] = cs[i]
				}
			}
			j.out <- res
		}
		b.arena.Reset()
	}
}
