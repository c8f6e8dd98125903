package pretrain

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

// Evaluate measures the checkpoint ref (a directory, hf: reference or
// embedded name, which must have a masked-LM head) on the held-out split of
// the job cfg, with the masks of the job's own evaluations, and returns the
// result with the unigram baseline of the job's training split. It reuses
// the tokenized corpus in the job's run directory when that was made from
// the same files with the checkpoint's vocabulary, and otherwise tokenizes
// the corpus into a temporary directory.
func Evaluate(cfg *Config, ref string, log io.Writer) (Eval, Baseline, error) {
	ck, err := loader.Open(ref)
	if err != nil {
		return Eval{}, Baseline{}, err
	}
	t := &trainer{cfg: cfg, log: log, tokDir: ck.Dir}
	if t.model, err = ck.Model(); err != nil {
		return Eval{}, Baseline{}, err
	}
	if t.tok, err = tokenizer.Load(ck.Dir); err != nil {
		return Eval{}, Baseline{}, err
	}
	if t.mlm, err = heads.LoadMaskedLM(ck.Tensors, t.model); err != nil {
		return Eval{}, Baseline{}, fmt.Errorf("%s: no usable masked-LM head: %w", ref, err)
	}
	dir := filepath.Join(cfg.Output, "data")
	if m, err := readManifest(dir); err != nil || m == nil || !t.sameData(m, t.maxPieces()) {
		if dir, err = os.MkdirTemp("", "hiertune-heldout-"); err != nil {
			return Eval{}, Baseline{}, err
		}
		defer os.RemoveAll(dir)
	}
	if err := t.prepareData(dir, func(map[string]any) error { return nil }); err != nil {
		return Eval{}, Baseline{}, err
	}
	defer t.train.Close()
	defer t.heldout.Close()
	if err := t.initMasker(); err != nil {
		return Eval{}, Baseline{}, err
	}
	if err := t.computeBaseline(); err != nil {
		return Eval{}, Baseline{}, err
	}
	e, err := t.heldoutEval()
	if err != nil {
		return Eval{}, Baseline{}, err
	}
	if e.Masked == 0 {
		return Eval{}, Baseline{}, fmt.Errorf("the held-out split of %v has no masked tokens to evaluate", cfg.Data.Files)
	}
	return e, t.baseline, nil
}
