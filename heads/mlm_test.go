package heads

import (
	"math"
	"testing"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/safetensors"
)

const mlmCase = "../encoder/testdata/parity/micro-bf16-mlmhead"

// TestMaskedLMMatchesPyTorch loads the head of a BertForPreTraining
// checkpoint (with biases and LayerNorm replaced by the values the fixture
// script drew) and compares its logits with PyTorch's.
func TestMaskedLMMatchesPyTorch(t *testing.T) {
	ck, err := loader.Read(mlmCase + "/ckpt")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := safetensors.ReadFile("testdata/mlm_ref.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range ref.Tensors() {
		if name != "logits" {
			ck.Tensors[name] = tt
		}
	}
	m, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	head, err := LoadMaskedLM(ck.Tensors, m)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := safetensors.ReadFile(mlmCase + "/ref.safetensors")
	ids, _ := in.Tensor("input_ids")
	mask, _ := in.Tensor("attention_mask")
	types, _ := in.Tensor("token_type_ids")
	b := &encoder.Batch{Size: ids.Shape[0], Seq: ids.Shape[1]}
	iv, _ := ids.Int64()
	tv, _ := types.Int64()
	b.AttentionMask, _ = mask.Int64()
	for i := range iv {
		b.InputIDs = append(b.InputIDs, int(iv[i]))
		b.TokenTypeIDs = append(b.TokenTypeIDs, int(tv[i]))
	}
	res, err := m.Forward(b, encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]int, b.Size*b.Seq)
	for i := range rows {
		rows[i] = i
	}
	got := kernels.Values(head.Forward(res.HiddenStates[len(res.HiddenStates)-1], rows))
	want, _ := ref.Tensor("logits")
	wv, _ := want.Float32()
	var worst float64
	for i := range wv {
		d := math.Abs(float64(got[i] - wv[i]))
		worst = max(worst, d)
		if d > 1e-4 {
			t.Fatalf("logit %d: %g, want %g", i, got[i], wv[i])
		}
	}
	t.Logf("max |ours - PyTorch| over %d logits: %.2g", len(wv), worst)
}

func TestLoadMaskedLMNeedsTheHead(t *testing.T) {
	ck, err := loader.Read("../encoder/testdata/parity/micro-f32/ckpt")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ck.Model()
	if _, err := LoadMaskedLM(ck.Tensors, m); err == nil {
		t.Fatal("a checkpoint without an MLM head loaded one")
	}
}
