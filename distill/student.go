package distill

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

// StudentConfig says how the student encoder is made.
type StudentConfig struct {
	// Init is "random" (the sizes below, fresh weights; the default),
	// "teacher-layers" (every Every-th teacher layer with the teacher's
	// embeddings, as DistilBERT) or "checkpoint" (an existing small model).
	Init string `yaml:"init"`
	// Sizes for random: 0 keeps the teacher's.
	Layers int `yaml:"layers"`
	Hidden int `yaml:"hidden"`
	Heads  int `yaml:"heads"`
	FFN    int `yaml:"ffn"`
	// Every, for teacher-layers: the student keeps teacher layers Every,
	// 2·Every, ..., so the top layer is always kept.
	Every int `yaml:"every"`
	// Checkpoint, for checkpoint: a directory, hf:org/name or an embedded
	// checkpoint's name. Its vocabulary must be the teacher's.
	Checkpoint string `yaml:"checkpoint"`
}

// The ways to make a student.
const (
	InitRandom        = "random"
	InitTeacherLayers = "teacher-layers"
	InitCheckpoint    = "checkpoint"
)

func (c *StudentConfig) defaults() {
	if c.Init == "" {
		c.Init = InitRandom
	}
}

func (c *StudentConfig) validate() error {
	switch c.Init {
	case InitRandom:
		if c.Layers < 0 || c.Hidden < 0 || c.Heads < 0 || c.FFN < 0 {
			return fmt.Errorf("student: layers, hidden, heads and ffn must not be negative")
		}
	case InitTeacherLayers:
		if c.Every < 1 {
			return fmt.Errorf("student.every: teacher-layers needs every ≥ 1")
		}
	case InitCheckpoint:
		if c.Checkpoint == "" {
			return fmt.Errorf("student.checkpoint: init checkpoint needs a checkpoint")
		}
	default:
		return fmt.Errorf("student.init must be random, teacher-layers or checkpoint, got %q", c.Init)
	}
	return nil
}

// BuildStudent makes the student encoder for a teacher encoder as c says;
// seed draws random weights.
func BuildStudent(c StudentConfig, teacher *encoder.Model, seed uint64) (*encoder.Model, error) {
	c.defaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	tc := teacher.Config
	withPooler := teacher.Pooler != nil
	switch c.Init {
	case InitTeacherLayers:
		L := tc.NumHiddenLayers
		if c.Every > L {
			return nil, fmt.Errorf("student.every: %d exceeds the teacher's %d layers", c.Every, L)
		}
		cfg := tc
		cfg.NumHiddenLayers = L / c.Every
		s, err := encoder.New(cfg, withPooler)
		if err != nil {
			return nil, fmt.Errorf("student: %w", err)
		}
		copyParams(s.Embeddings, teacher.Embeddings)
		if teacher.EmbeddingsProject != nil {
			copyLinear(s.EmbeddingsProject, teacher.EmbeddingsProject)
		}
		for i := range s.Layers {
			copyLayer(s.Layers[i], teacher.Layers[(i+1)*c.Every-1])
		}
		if withPooler {
			copyLinear(s.Pooler.Dense, teacher.Pooler.Dense)
		}
		return s, nil
	case InitCheckpoint:
		ck, err := loader.Open(c.Checkpoint)
		if err != nil {
			return nil, err
		}
		s, err := ck.Model()
		if err != nil {
			return nil, err
		}
		if s.Config.VocabSize != tc.VocabSize {
			return nil, fmt.Errorf("student.checkpoint %s: a vocabulary of %d, the teacher's has %d (the student reads the teacher's tokens)", c.Checkpoint, s.Config.VocabSize, tc.VocabSize)
		}
		return s, nil
	}
	cfg := tc
	cfg.EmbeddingSize = 0
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	set(&cfg.NumHiddenLayers, c.Layers)
	set(&cfg.HiddenSize, c.Hidden)
	set(&cfg.NumAttentionHeads, c.Heads)
	set(&cfg.IntermediateSize, c.FFN)
	s, err := encoder.New(cfg, withPooler)
	if err != nil {
		return nil, fmt.Errorf("student: %w", err)
	}
	s.InitWeights(rand.New(rand.NewPCG(seed, 0x57d)))
	return s, nil
}

// copyParams copies the embeddings' weights.
func copyParams(dst, src *encoder.Embeddings) {
	copy(kernels.Values(dst.WordEmbeddings), kernels.Values(src.WordEmbeddings))
	copy(kernels.Values(dst.PositionEmbeddings), kernels.Values(src.PositionEmbeddings))
	copy(kernels.Values(dst.TokenTypeEmbeddings), kernels.Values(src.TokenTypeEmbeddings))
	copyLayerNorm(dst.LayerNorm, src.LayerNorm)
}

func copyLinear(dst, src *encoder.Linear) {
	copy(kernels.Values(dst.Weight), kernels.Values(src.Weight))
	copy(kernels.Values(dst.Bias), kernels.Values(src.Bias))
}

func copyLayerNorm(dst, src *encoder.LayerNorm) {
	copy(kernels.Values(dst.Weight), kernels.Values(src.Weight))
	copy(kernels.Values(dst.Bias), kernels.Values(src.Bias))
}

func copyLayer(dst, src *encoder.Layer) {
	a, b := dst.Attention, src.Attention
	copyLinear(a.Self.Query, b.Self.Query)
	copyLinear(a.Self.Key, b.Self.Key)
	copyLinear(a.Self.Value, b.Self.Value)
	copyLinear(a.Output.Dense, b.Output.Dense)
	copyLayerNorm(a.Output.LayerNorm, b.Output.LayerNorm)
	copyLinear(dst.Intermediate.Dense, src.Intermediate.Dense)
	copyLinear(dst.Output.Dense, src.Output.Dense)
	copyLayerNorm(dst.Output.LayerNorm, src.Output.LayerNorm)
}

// encoderFiles returns the files of a HuggingFace BertModel directory for
// m: its weights, a config.json on top of the fields raw, and the
// tokenizer files of tokDir.
func encoderFiles(m *encoder.Model, raw map[string]json.RawMessage, tokDir string) (map[string][]byte, error) {
	tok, err := tokenizer.ReadFiles(tokDir)
	if err != nil {
		return nil, err
	}
	return loader.EncoderFiles(m, "bert.", raw, "BertModel", nil, tok)
}

// WriteCheckpoint writes m as a HuggingFace BertModel directory: its
// weights, a config.json on top of the teacher's fields raw, and the
// tokenizer files of tokDir. The directory appears whole or not at all.
func WriteCheckpoint(dir string, m *encoder.Model, raw map[string]json.RawMessage, tokDir string) error {
	files, err := encoderFiles(m, raw, tokDir)
	if err != nil {
		return err
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}
