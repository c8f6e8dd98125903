package adapters_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/adapters"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/safetensors"
)

// TestDepthMixingStartsAsThePretrainedModel retrofits both depth-mixing
// modes onto the oracle checkpoints and checks that every hidden state is
// the plain model's (and so PyTorch's) at initialisation.
func TestDepthMixingStartsAsThePretrainedModel(t *testing.T) {
	cases, _ := filepath.Glob("../encoder/testdata/parity/*")
	for _, dir := range cases {
		ck, err := loader.Read(filepath.Join(dir, "ckpt"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := ck.Model()
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := safetensors.ReadFile(filepath.Join(dir, "ref.safetensors"))
		b := batchOf(t, ref)
		plain, err := m.Forward(b, encoder.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range adapters.DepthModes {
			d, err := adapters.NewDepthMixer(mode, m.Config.NumHiddenLayers, m.Config.HiddenSize)
			if err != nil {
				t.Fatal(err)
			}
			m.LayerInput = d
			mixed, err := m.Forward(b, encoder.Options{})
			m.LayerInput = nil
			if err != nil {
				t.Fatal(err)
			}
			for l := range plain.HiddenStates {
				a, c := kernels.Values(plain.HiddenStates[l]), kernels.Values(mixed.HiddenStates[l])
				for i := range a {
					if d := a[i] - c[i]; d > 1e-5 || d < -1e-5 {
						t.Fatalf("%s, %s: hidden state %d differs by %g at init", filepath.Base(dir), mode, l, d)
					}
				}
			}
		}
	}
}

func batchOf(t *testing.T, f *safetensors.File) *encoder.Batch {
	ids, _ := f.Tensor("input_ids")
	mask, _ := f.Tensor("attention_mask")
	types, _ := f.Tensor("token_type_ids")
	iv, _ := ids.Int64()
	tv, _ := types.Int64()
	b := &encoder.Batch{Size: ids.Shape[0], Seq: ids.Shape[1]}
	b.AttentionMask, _ = mask.Int64()
	for i := range iv {
		b.InputIDs = append(b.InputIDs, int(iv[i]))
		b.TokenTypeIDs = append(b.TokenTypeIDs, int(tv[i]))
	}
	return b
}

// TestDepthMixerLearns checks that, from the identity start, gradients
// reach the weights of every mode (the attention gate included).
func TestDepthMixerLearns(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	states := make([]mat.Tensor, 3)
	for i := range states {
		v := make([]float32, 4*6)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		states[i] = kernels.NewMatrix(4, 6, v)
	}
	for _, mode := range adapters.DepthModes {
		d, _ := adapters.NewDepthMixer(mode, 3, 6)
		out := d.Input(3, states)
		l, err := kernels.CrossEntropy(out, []int{0, 1, 2, 3}, -100)
		if err != nil {
			t.Fatal(err)
		}
		if err := kernels.Backward(l); err != nil {
			t.Fatal(err)
		}
		for _, np := range d.NamedParams() {
			if np.Name == "depth.3.weights" || np.Name == "depth.3.gate" {
				if !np.Param.HasGrad() {
					t.Errorf("%s: no gradient for %s", mode, np.Name)
				}
			}
		}
	}
}

func TestMixerConfig(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	m, err := adapters.NewMixer(adapters.MixConfig{Mode: "scalar", Layers: []int{-1, 1, 0}, Diff: true}, 4, 8, r)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Layers(); len(got) != 2 || got[0] != 1 || got[1] != 4 || m.Deepest() != 4 {
		t.Errorf("layers %v (the embeddings have no difference)", got)
	}
	if w := m.StaticWeights(); len(w) != 2 || w[0] != 0.5 {
		t.Errorf("initial weights %v, want uniform", w)
	}
	for _, bad := range []adapters.MixConfig{{Mode: "median"}, {Mode: "scalar", Layers: []int{5}}, {Mode: "concat", Layers: []int{0}, Diff: true}} {
		if _, err := adapters.NewMixer(bad, 4, 8, r); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
