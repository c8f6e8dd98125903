package distill

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hiertune/hiertune/data/conll"
	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

// AugmentConfig is TinyBERT's data augmentation of stage 2's training
// sets: each sentence is joined by Factor copies in which every word that
// is a single piece is, with probability Probability, replaced by one of
// the TopK words a masked language model predicts in its place. Words of
// several pieces stay (TinyBERT replaces them with GloVe neighbours, which
// hiertune does not have). The copies keep the sentence's annotation; in
// the prediction phase they mostly serve through the teacher's soft
// targets (use a small hard weight).
type AugmentConfig struct {
	Factor int `yaml:"factor"`
	// Model is a checkpoint with a masked-LM head and the teacher's
	// vocabulary; default: the checkpoint the teacher was fine-tuned from.
	Model       string  `yaml:"model"`
	Probability float64 `yaml:"probability"`
	TopK        int     `yaml:"top_k"`
}

// augmentDefaults returns the augmentation's defaults (off).
func augmentDefaults() AugmentConfig { return AugmentConfig{Probability: 0.4, TopK: 15} }

func (c *AugmentConfig) validate() error {
	if c.Factor < 0 || c.Probability < 0 || c.Probability > 1 || c.TopK < 1 {
		return fmt.Errorf("task.augment: factor ≥ 0, probability in [0, 1], top_k ≥ 1")
	}
	return nil
}

// augmenter proposes replacements for words with a masked LM.
type augmenter struct {
	cfg AugmentConfig
	enc *encoder.Model
	mlm *heads.MaskedLM
	tok *tokenizer.Tokenizer
}

func newAugmenter(cfg AugmentConfig, ref string) (*augmenter, error) {
	ck, err := loader.Open(ref)
	if err != nil {
		return nil, err
	}
	enc, err := ck.Model()
	if err != nil {
		return nil, err
	}
	mlm, err := heads.LoadMaskedLM(ck.Tensors, enc)
	if err != nil {
		return nil, fmt.Errorf("task.augment.model %s: %w", ref, err)
	}
	tok, err := tokenizer.Load(ck.Dir)
	if err != nil {
		return nil, err
	}
	if tok.Specials().MASK < 0 || tok.Specials().CLS < 0 || tok.Specials().SEP < 0 {
		return nil, fmt.Errorf("task.augment.model %s: the tokenizer lacks [MASK], [CLS] or [SEP]", ref)
	}
	for _, np := range append(enc.NamedParams(), mlm.NamedParams()...) {
		np.Param.SetRequiresGrad(false)
	}
	return &augmenter{cfg: cfg, enc: enc, mlm: mlm, tok: tok}, nil
}

// candidates returns, for each word, the words the masked LM puts in its
// place (at most TopK, the word itself left out), or nil for a word that is
// not one piece or may not be replaced (keep[i] false).
func (a *augmenter) candidates(words []string, keep []bool) ([][]string, error) {
	e := a.tok.EncodeWords(words)
	sp := a.tok.Specials()
	ids := append(append([]int{sp.CLS}, e.IDs...), sp.SEP)
	if len(ids) > a.enc.Config.MaxSequenceLength() {
		return make([][]string, len(words)), nil // too long to see whole: left as is
	}
	pos := make([]int, len(words)) // the single piece of each word, or -1
	for i := range pos {
		pos[i] = -1
	}
	first := map[int]int{}
	for p, w := range e.WordIndex {
		if _, ok := first[w]; ok {
			pos[w] = -2 // several pieces
			continue
		}
		first[w] = p
		pos[w] = p + 1 // after [CLS]
	}
	var masked []int
	for i, p := range pos {
		if p > 0 && keep[i] {
			masked = append(masked, i)
		}
	}
	out := make([][]string, len(words))
	if len(masked) == 0 {
		return out, nil
	}
	// One sequence per masked word, all in one batch.
	seq := len(ids)
	b := &encoder.Batch{Size: len(masked), Seq: seq, InputIDs: make([]int, len(masked)*seq)}
	rows := make([]int, len(masked))
	for k, i := range masked {
		copy(b.InputIDs[k*seq:], ids)
		b.InputIDs[k*seq+pos[i]] = sp.MASK
		rows[k] = k*seq + pos[i]
	}
	res, err := a.enc.Forward(b, encoder.Options{})
	if err != nil {
		return nil, err
	}
	logits := kernels.Values(a.mlm.Forward(res.HiddenStates[len(res.HiddenStates)-1], rows))
	V := len(logits) / len(masked)
	for k, i := range masked {
		// The best few pieces: more than TopK, as some are not words.
		order := top(logits[k*V:(k+1)*V], 3*a.cfg.TopK)
		for _, id := range order {
			if len(out[i]) == a.cfg.TopK {
				break
			}
			if w, ok := a.word(id); ok && w != words[i] {
				out[i] = append(out[i], w)
			}
		}
	}
	return out, nil
}

// top returns the indices of the n largest values of v, largest first.
func top(v []float32, n int) []int {
	best := make([]int, 0, n+1) // ascending by value
	for i, x := range v {
		if len(best) == n && x <= v[best[0]] {
			continue
		}
		at, _ := slices.BinarySearchFunc(best, x, func(j int, x float32) int {
			if v[j] < x {
				return -1
			}
			return 1
		})
		best = slices.Insert(best, at, i)
		if len(best) > n {
			best = best[1:]
		}
	}
	slices.Reverse(best)
	return best
}

// word returns the word a piece id stands for when it is a whole word by
// itself: not special, not a continuation, and read back as that piece.
func (a *augmenter) word(id int) (string, bool) {
	if a.tok.IsSpecial(id) {
		return "", false
	}
	t, ok := a.tok.IDToToken(id)
	if !ok || strings.HasPrefix(t, "##") {
		return "", false
	}
	w := strings.TrimSpace(a.tok.Decode([]int{id}))
	if w == "" || strings.ContainsAny(w, " \t\n") {
		return "", false
	}
	if e := a.tok.EncodeWords([]string{w}); len(e.IDs) != 1 || e.IDs[0] != id {
		return "", false
	}
	return w, true
}

// variants returns Factor copies of words, each word that has candidates
// replaced by one of them with probability Probability (copies equal to
// the sentence or to an earlier copy are dropped).
func (a *augmenter) variants(words []string, cands [][]string, rng *rand.Rand) [][]string {
	var out [][]string
	for range a.cfg.Factor {
		v := slices.Clone(words)
		for i, c := range cands {
			if len(c) > 0 && rng.Float64() < a.cfg.Probability {
				v[i] = c[rng.IntN(len(c))]
			}
		}
		if !slices.Equal(v, words) && !slices.ContainsFunc(out, func(o []string) bool { return slices.Equal(o, v) }) {
			out = append(out, v)
		}
	}
	return out
}

// augmentDataset writes the augmented training set of dataset name into
// dir and returns the dataset reading it. A file written before (by an
// interrupted job) is reused: it depends only on the configuration.
func (a *augmenter) augmentDataset(name string, d datasets.Config, dir string, seed uint64, log io.Writer) (datasets.Config, error) {
	ext := map[string]string{"conllu": ".conllu", "conll": ".conll"}[d.Format]
	if ext == "" {
		return d, fmt.Errorf("task.augment: dataset %s is %s; augmentation reads conllu and conll", name, d.Format)
	}
	path := filepath.Join(dir, name+"-train"+ext)
	out := d
	out.Train, out.Limit = path, 0
	if _, err := os.Stat(path); err == nil {
		return out, nil
	}
	rng := rand.New(rand.NewPCG(seed, 0xa49))
	var buf bytes.Buffer
	n, added := 0, 0
	if d.Format == "conllu" {
		sents, err := conllu.ReadFile(d.Train)
		if err != nil {
			return d, err
		}
		if d.Limit > 0 && len(sents) > d.Limit {
			sents = sents[:d.Limit]
		}
		var all []*conllu.Sentence
		for _, s := range sents {
			words, keep := conlluWords(s)
			cands, err := a.candidates(words, keep)
			if err != nil {
				return d, fmt.Errorf("%s line %d: %w", d.Train, s.Line, err)
			}
			all = append(all, s)
			for k, v := range a.variants(words, cands, rng) {
				all = append(all, withForms(s, v, k+1))
				added++
			}
			n++
		}
		if err := conllu.Write(&buf, all); err != nil {
			return d, err
		}
	} else {
		o := d.Options.(*datasets.ConllOptions)
		sents, err := conll.ReadFile(d.Train, conll.Options{TokenPrefix: o.TokenPrefix, StripBOM: o.StripBOM})
		if err != nil {
			return d, err
		}
		if d.Limit > 0 && len(sents) > d.Limit {
			sents = sents[:d.Limit]
		}
		var all []conll.Sentence
		keepAll := func(n int) []bool {
			k := make([]bool, n)
			for i := range k {
				k[i] = true
			}
			return k
		}
		prefixed := func(words []string) []string {
			out := make([]string, len(words))
			for i, w := range words {
				out[i] = o.TokenPrefix + w
			}
			return out
		}
		for _, s := range sents {
			cands, err := a.candidates(s.Words, keepAll(len(s.Words)))
			if err != nil {
				return d, fmt.Errorf("%s line %d: %w", d.Train, s.Line, err)
			}
			all = append(all, conll.Sentence{Words: prefixed(s.Words), Tags: s.Tags})
			for _, v := range a.variants(s.Words, cands, rng) {
				all = append(all, conll.Sentence{Words: prefixed(v), Tags: s.Tags})
				added++
			}
			n++
		}
		if err := conll.Write(&buf, all); err != nil {
			return d, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return d, err
	}
	if err := os.WriteFile(path+".tmp", buf.Bytes(), 0o644); err != nil {
		return d, err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return d, err
	}
	fmt.Fprintf(log, "augmented %s: %d sentences and %d copies in %s\n", name, n, added, path)
	return out, nil
}

// conlluWords returns the forms of a sentence's syntactic words, and which
// may be replaced: not those inside a multiword token, whose forms must
// still spell the token.
func conlluWords(s *conllu.Sentence) (words []string, keep []bool) {
	inside := map[int]bool{}
	for _, r := range s.Rows {
		if r.Kind == conllu.MultiwordToken {
			for id := r.ID; id <= r.End; id++ {
				inside[id] = true
			}
		}
	}
	for _, w := range s.Words() {
		words, keep = append(words, w.Form), append(keep, !inside[w.ID])
	}
	return words, keep
}

// withForms returns copy number k of s: its syntactic words have the given
// forms, its text comment is rebuilt from them, its sent_id marked.
func withForms(s *conllu.Sentence, forms []string, k int) *conllu.Sentence {
	c := &conllu.Sentence{Rows: slices.Clone(s.Rows), Line: s.Line}
	w := 0
	for i := range c.Rows {
		if c.Rows[i].Kind == conllu.Word {
			c.Rows[i].Form = forms[w]
			w++
		}
	}
	for _, com := range s.Comments {
		key, _, _ := strings.Cut(com, "=")
		switch strings.TrimSpace(key) {
		case "text":
			com = " text = " + strings.Join(forms, " ")
		case "sent_id":
			com += fmt.Sprintf("-aug%d", k)
		}
		c.Comments = append(c.Comments, com)
	}
	return c
}
