package probing

import (
	"io"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/hiertune/hiertune/tasks"
)

// gold is a test annotation: columns by name.
type gold map[string][]string

func (g gold) Column(name string) []string { return g[name] }

// synthetic returns n sentences of 3..7 words over a vocabulary of types
// with a label per word (its type's class in "class", or a head in "head"),
// and features of states states of dim values in which only state at
// carries the target (through write), the others being noise.
func synthetic(n, states, dim, at int, seed uint64, write func(rng *rand.Rand, ex *tasks.Example, w int, row []float32)) ([]*tasks.Example, *Features) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var exs []*tasks.Example
	for range n {
		k := 3 + rng.IntN(5)
		ex := &tasks.Example{}
		g := gold{}
		for i := range k {
			typ := rng.IntN(40)
			ex.Words = append(ex.Words, "w"+strconv.Itoa(typ))
			g["class"] = append(g["class"], strconv.Itoa(typ%3))
			h := rng.IntN(k + 1)
			if h == i+1 {
				h = 0
			}
			g["head"] = append(g["head"], strconv.Itoa(h))
		}
		ex.Gold = g
		exs = append(exs, ex)
	}
	f := &Features{States: states, Dim: dim, Counts: make([]int, n), first: make([]int, n)}
	words := 0
	for e, ex := range exs {
		f.first[e], f.Counts[e] = words, len(ex.Words)
		words += len(ex.Words)
	}
	for s := range states {
		w := make([]float32, words*dim)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		r := make([]float32, n*dim)
		for i := range r {
			r[i] = float32(rng.NormFloat64())
		}
		if s == at {
			for e, ex := range exs {
				clear(r[e*dim : (e+1)*dim])
				for i := range ex.Words {
					write(rng, ex, i, w[(f.first[e]+i)*dim:(f.first[e]+i+1)*dim])
				}
			}
		}
		f.Words = append(f.Words, w)
		f.Roots = append(f.Roots, r)
		f.Sentences = append(f.Sentences, make([]float32, n*dim))
	}
	return exs, f
}

// TestProbePeaksWhereTheTaskIs is the known answer: a task readable from
// one state only must be solved there and nowhere else, both summaries
// must point at that state, and the control task (labels by type) must
// show the features' type information is nil: its probe stays at chance.
func TestProbePeaksWhereTheTaskIs(t *testing.T) {
	const states, dim, at = 4, 12, 2
	writeClass := func(rng *rand.Rand, ex *tasks.Example, w int, row []float32) {
		c, _ := strconv.Atoi(ex.Gold.Column("class")[w])
		for k := range row {
			row[k] = 0.1 * float32(rng.NormFloat64())
		}
		row[c] += 2
	}
	data := tasks.Data{Format: "test", Columns: []string{"class", "head"}, WordLevel: true}
	trEx, trF := synthetic(400, states, dim, at, 1, writeClass)
	dvEx, dvF := synthetic(100, states, dim, at, 2, writeClass)
	task, err := NewTask("class", data, trEx)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Epochs = 10
	res, err := Probe(task, Data{trEx, trF}, Data{dvEx, dvF}, o, true, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, ly := range res.Layers {
		t.Logf("layer %d: %.1f control %.1f cumulative %.1f", ly.Layer, ly.Score, ly.Control, ly.Cumulative)
		if ly.Layer == at && ly.Score < 99 || ly.Layer != at && ly.Score > 50 {
			t.Errorf("layer %d scores %.1f: the task is in layer %d only", ly.Layer, ly.Score, at)
		}
		if ly.Control > 50 { // three classes: chance is a third
			t.Errorf("layer %d: control %.1f, above chance on features without type information", ly.Layer, ly.Control)
		}
	}
	t.Logf("mix %.3f", res.Mix)
	if res.Best != at {
		t.Errorf("best layer %d, want %d", res.Best, at)
	}
	if e := res.ExpectedLayer; e == nil || *e < at-0.5 || *e > at+0.5 {
		t.Errorf("expected layer %v, want about %d", e, at)
	}
	if res.CenterOfGravity < at-0.5 || res.CenterOfGravity > at+0.5 {
		t.Errorf("center of gravity %.2f (mix %.2f), want about %d", res.CenterOfGravity, res.Mix, at)
	}
}

// TestArcProbePeaksWhereTheTreeIs is the same for arcs: in state 1, each
// word's vector holds a code of its own position and one of its head's,
// which a bilinear probe can match.
func TestArcProbePeaksWhereTheTreeIs(t *testing.T) {
	const states, at = 3, 1
	const dim = 2 * 8
	writeArc := func(_ *rand.Rand, ex *tasks.Example, w int, row []float32) {
		h, _ := strconv.Atoi(ex.Gold.Column("head")[w])
		clear(row)
		row[w+1] = 1 // its own slot
		row[8+h] = 1 // its head's slot
	}
	data := tasks.Data{Format: "test", Columns: []string{"class", "head"}, WordLevel: true}
	trEx, trF := synthetic(400, states, dim, at, 3, writeArc)
	dvEx, dvF := synthetic(100, states, dim, at, 4, writeArc)
	// The root's code is slot 0.
	for _, f := range []*Features{trF, dvF} {
		for e := range f.Counts {
			f.Roots[at][e*dim] = 1
		}
	}
	task, err := NewTask("head", data, trEx)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Epochs, o.LR = 20, 1e-2
	res, err := Probe(task, Data{trEx, trF}, Data{dvEx, dvF}, o, false, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, ly := range res.Layers {
		t.Logf("layer %d: UAS %.1f", ly.Layer, ly.Score)
		if ly.Layer == at && ly.Score < 95 || ly.Layer != at && ly.Score > 40 {
			t.Errorf("layer %d: UAS %.1f; the tree is in layer %d only", ly.Layer, ly.Score, at)
		}
	}
}
