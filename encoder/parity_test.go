package encoder_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/optim"
)

// The golden files under testdata were written by the PyTorch oracles
// (testdata/make_fixtures.sh). HIERTUNE_PARITY_DIR points the tests at other
// cases of the same layout, such as the full-size presets that
// scripts/parity.sh makes.
func parityDir() string {
	if d := os.Getenv("HIERTUNE_PARITY_DIR"); d != "" {
		return d
	}
	return "testdata"
}

func loadModel(t *testing.T, dir string) *encoder.Model {
	t.Helper()
	ck, err := loader.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type golden map[string][]float32

func readGolden(t *testing.T, path string) (golden, map[string][]int64, map[string][]int) {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	floats, ints, shapes := golden{}, map[string][]int64{}, map[string][]int{}
	for name, tt := range f.Tensors() {
		shapes[name] = tt.Shape
		if tt.DType.IsFloat() {
			floats[name], _ = tt.Float32()
		} else {
			ints[name], _ = tt.Int64()
		}
	}
	return floats, ints, shapes
}

func batchFrom(ints map[string][]int64, shape []int) *encoder.Batch {
	b := &encoder.Batch{Size: shape[0], Seq: shape[1], AttentionMask: ints["attention_mask"]}
	for _, v := range ints["input_ids"] {
		b.InputIDs = append(b.InputIDs, int(v))
	}
	for _, v := range ints["token_type_ids"] {
		b.TokenTypeIDs = append(b.TokenTypeIDs, int(v))
	}
	return b
}

// within reports the largest |got-want| and fails when an element is off by
// more than atol + rtol·|want|.
func within(t *testing.T, what string, got, want []float32, atol, rtol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var worst float64
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		worst = max(worst, d)
		if d > atol+rtol*math.Abs(float64(want[i])) || math.IsNaN(float64(got[i])) {
			t.Errorf("%s[%d] = %.8g, want %.8g", what, i, got[i], want[i])
			return worst
		}
	}
	return worst
}

// TestHiddenStatesMatchPyTorch runs every case under parity/ and compares
// all hidden states, the pooler output and the attention probabilities with
// the oracle's, within 1e-4.
func TestHiddenStatesMatchPyTorch(t *testing.T) {
	cases, _ := filepath.Glob(filepath.Join(parityDir(), "parity", "*"))
	if len(cases) == 0 {
		t.Fatal("no parity cases found")
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadModel(t, filepath.Join(dir, "ckpt"))
			ref, ints, shapes := readGolden(t, filepath.Join(dir, "ref.safetensors"))
			_, wantAtt := ref["attentions.0"]
			res, err := m.Forward(batchFrom(ints, shapes["input_ids"]), encoder.Options{Attentions: wantAtt})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.HiddenStates) != m.Config.NumHiddenLayers+1 {
				t.Fatalf("%d hidden states", len(res.HiddenStates))
			}
			var worst float64
			for i, h := range res.HiddenStates {
				worst = max(worst, within(t, fmt.Sprint("hidden_states.", i), kernels.Values(h), ref["hidden_states."+strconv.Itoa(i)], 1e-4, 0))
			}
			if want, ok := ref["pooler_output"]; ok != (res.Pooled != nil) {
				t.Fatalf("pooler present: ours %v, reference %v", res.Pooled != nil, ok)
			} else if ok {
				worst = max(worst, within(t, "pooler_output", kernels.Values(res.Pooled), want, 1e-4, 0))
			}
			for i, p := range res.Attentions {
				worst = max(worst, within(t, fmt.Sprint("attentions.", i), p, ref["attentions."+strconv.Itoa(i)], 1e-5, 0))
			}
			t.Logf("%s (%s): max |ours - PyTorch| = %.2g over %d hidden states", filepath.Base(dir), m.Config.ModelType, worst, len(res.HiddenStates))
			// Prepared for inference (transposed weights), it still matches.
			m.PrepareInference()
			res, err = m.Forward(batchFrom(ints, shapes["input_ids"]), encoder.Options{})
			if err != nil {
				t.Fatal(err)
			}
			worst = 0
			for i, h := range res.HiddenStates {
				worst = max(worst, within(t, fmt.Sprint("prepared hidden_states.", i), kernels.Values(h), ref["hidden_states."+strconv.Itoa(i)], 1e-4, 0))
			}
			t.Logf("prepared for inference: max |ours - PyTorch| = %.2g", worst)
		})
	}
}

// TestTrainingStepMatchesPyTorch reproduces train_step_reference.py: token
// classification with one shared classifier on layer K and on the last
// layer, one backward pass and one AdamW step (lr 1e-3, weight decay 0.01
// except biases and LayerNorm weights).
func TestTrainingStepMatchesPyTorch(t *testing.T) {
	dir := filepath.Join(parityDir(), "train")
	m := loadModel(t, filepath.Join(dir, "ckpt"))
	ref, ints, shapes := readGolden(t, filepath.Join(dir, "step.safetensors"))
	f, _ := safetensors.ReadFile(filepath.Join(dir, "step.safetensors"))
	midLayer, _ := strconv.Atoi(f.Header.Metadata["mid_layer"])

	classes := len(ref["param.classifier.bias"])
	classifier := encoder.NewLinear(m.Config.HiddenSize, classes)
	copy(kernels.Values(classifier.Weight), ref["param.classifier.weight"])
	copy(kernels.Values(classifier.Bias), ref["param.classifier.bias"])
	params := append(m.NamedParams(),
		encoder.NamedParam{Name: "classifier.weight", Param: classifier.Weight},
		encoder.NamedParam{Name: "classifier.bias", Param: classifier.Bias})
	var labels []int
	for _, l := range ints["labels"] {
		labels = append(labels, int(l))
	}
	b := batchFrom(ints, shapes["input_ids"])
	loss := func() (total, mid, last mat.Tensor) {
		res, err := m.Forward(b, encoder.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ce := func(layer int) mat.Tensor {
			l, err := kernels.CrossEntropy(classifier.Forward(res.HiddenStates[layer]), labels, -100)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		mid, last = ce(midLayer), ce(len(res.HiddenStates)-1)
		return kernels.WeightedSum([]mat.Tensor{mid, last}, []float32{1, 1}), mid, last
	}
	total, mid, last := loss()
	for name, l := range map[string]mat.Tensor{"loss": total, "loss_mid": mid, "loss_last": last} {
		within(t, name, kernels.Values(l), ref[name], 1e-5, 0)
	}
	if err := kernels.Backward(total); err != nil {
		t.Fatal(err)
	}
	refName := func(name string) string {
		if strings.HasPrefix(name, "classifier.") {
			return name
		}
		return "bert." + name
	}
	var worst float64
	for _, np := range params {
		want, ok := ref["grad."+refName(np.Name)]
		if !ok {
			t.Fatalf("no reference gradient for %s", np.Name)
		}
		got := make([]float32, len(want))
		if np.Param.HasGrad() {
			got = kernels.Values(np.Param.Grad())
		}
		worst = max(worst, within(t, "grad."+np.Name, got, want, 1e-6, 1e-4))
	}
	t.Logf("gradients of %d parameters: max |ours - PyTorch| = %.2g", len(params), worst)

	// The AdamW step from our gradients must give PyTorch's loss after the
	// step. Parameter by parameter, the first step moves a weight by about
	// lr·g/(|g|+eps), which turns float noise in gradients near eps (1e-10
	// differences, far below the gradient tolerance) into visible
	// differences; so the update itself is compared below from PyTorch's own
	// gradients, where it must agree to rounding.
	opt := optim.NewAdamW(params, 1e-3, 0.01)
	opt.Step()
	total, _, _ = loss()
	within(t, "loss_after", kernels.Values(total), ref["loss_after"], 1e-5, 0)

	opt.ZeroGrad()
	fresh := optim.NewAdamW(params, 1e-3, 0.01)
	for _, np := range params {
		copy(kernels.Values(np.Param), ref["param."+refName(np.Name)])
		if g := ref["grad."+refName(np.Name)]; np.Name != "pooler.dense.weight" && np.Name != "pooler.dense.bias" {
			r, c := kernels.Dims(np.Param)
			np.Param.AccGrad(kernels.NewMatrix(r, c, append([]float32(nil), g...)))
		}
	}
	fresh.Step()
	for _, np := range params {
		within(t, "AdamW("+np.Name+")", kernels.Values(np.Param), ref["param_after."+refName(np.Name)], 0, 2e-7)
	}
}
