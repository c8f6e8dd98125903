package hierarchy

import (
	"fmt"
	"math"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/hierarchy/cluster"
	"github.com/hiertune/hiertune/kernels"
)

// Config is a model's soft hierarchy: hierarchy vectors on some layers,
// what trains them, and merging.
type Config struct {
	// Dim is the size of a hierarchy vector (default 32).
	Dim int `yaml:"dim"`
	// From is the first hidden state (1-based layer output) with
	// hierarchy vectors; every one above it has them too (default 1).
	From int `yaml:"from"`
	// Similarity is the regulariser (nil: off).
	Similarity *SimilarityConfig `yaml:"similarity"`
	// Syntax is the weak syntactic supervision of the hierarchy vectors
	// (nil: off).
	Syntax *SyntaxConfig `yaml:"syntax"`
	// Merge merges tokens at inference, and with Train also in training
	// (nil: never).
	Merge *MergeConfig `yaml:"merge"`
}

// SimilarityConfig is the similarity regulariser (kernels.SimilarityLoss)
// on some hidden states.
type SimilarityConfig struct {
	// Layers are the hidden states regularised (default: every one with
	// hierarchy vectors).
	Layers []int `yaml:"layers"`
	// Weight multiplies the loss of each layer (default 0.1).
	Weight float64 `yaml:"weight"`
	// Kernel is gaussian (default) or cauchy, with Temperature τ (default
	// 0.25) in units of the sentence's mean squared distance between
	// hierarchy vectors (kernels.SimilarityLoss).
	Kernel      string  `yaml:"kernel"`
	Temperature float64 `yaml:"temperature"`
	// Density is the mean pair weight a sentence should have (default
	// 0.1; above K(1/τ), the weight of every pair when all distances are
	// equal, it asks for clusters), DensityWeight the weight of the
	// squared deviation from it (default 1).
	Density       float64 `yaml:"density"`
	DensityWeight float64 `yaml:"density_weight"`
}

// SyntaxConfig regresses squared distances between hierarchy vectors onto
// the distances in a dataset's gold dependency trees (kernels.
// TreeDistanceLoss), on that dataset's batches.
type SyntaxConfig struct {
	// Dataset is the treebank (its format must have the head column).
	Dataset string `yaml:"dataset"`
	// Layers are the hidden states supervised (default: every one with
	// hierarchy vectors).
	Layers []int `yaml:"layers"`
	// Weight multiplies the loss of each layer (default 0.1).
	Weight float64 `yaml:"weight"`
}

// MergeConfig is token merging: after each hidden state in After, the
// tokens of each sentence are merged into units — [CLS] and [SEP] alone,
// padding left out — and the layers above run on the units.
type MergeConfig struct {
	// By is what merging compares: "hierarchy" (default; agglomerative
	// clustering of the hierarchy vectors) or "keys" (ToMe's bipartite
	// soft matching of the next layer's attention keys: the baseline,
	// which needs no hierarchy vectors).
	By string `yaml:"by"`
	// After lists the hidden states after which to merge, ascending.
	After []int `yaml:"after"`
	// Ratio is the share of the units entering a merge that it removes
	// (in [0, 1)); Threshold (by hierarchy only) instead merges clusters
	// while their linkage distance is at most it. One of the two; each is
	// one value for every merge or a list with one per merge.
	Ratio     PerMerge `yaml:"ratio"`
	Threshold PerMerge `yaml:"threshold"`
	// Linkage is average (default) or ward.
	Linkage string `yaml:"linkage"`
	// Clusters is "spans" (default: only neighbouring clusters merge, so
	// every unit is a contiguous span of tokens) or "free".
	Clusters string `yaml:"clusters"`
	// Train merges in training too, so the model learns to run on units.
	Train bool `yaml:"train"`
}

// The values of MergeConfig.By and .Clusters.
const (
	ByHierarchy = "hierarchy"
	ByKeys      = "keys"
	Spans       = "spans"
	Free        = "free"
)

// UsesVectors reports whether anything needs hierarchy vectors: a loss on
// them or merging by them (merging by keys alone does not).
func (c *Config) UsesVectors() bool {
	return c.Similarity != nil || c.Syntax != nil || (c.Merge != nil && c.Merge.By == ByHierarchy)
}

// Check fills in the defaults and checks the configuration against an
// encoder of the given number of layers. pooledAfter is the hidden state
// after which words are pooled in the encoder (−1: no pooling), depth
// whether depth mixing feeds the layers.
func (c *Config) Check(layers, pooledAfter int, depth bool) error {
	if c.Dim == 0 {
		c.Dim = 32
	}
	if c.From == 0 {
		c.From = 1
	}
	switch {
	case c.Dim < 1:
		return fmt.Errorf("hierarchy.dim must be positive, got %d", c.Dim)
	case c.From < 1 || c.From > layers:
		return fmt.Errorf("hierarchy.from must be a layer output 1..%d, got %d", layers, c.From)
	}
	hasH := func(key string, ls []int) ([]int, error) {
		if len(ls) == 0 {
			for l := c.From; l <= layers; l++ {
				ls = append(ls, l)
			}
		}
		for _, l := range ls {
			if l < c.From || l > layers {
				return nil, fmt.Errorf("%s: hidden state %d has no hierarchy vectors (they are on %d..%d, from hierarchy.from)", key, l, c.From, layers)
			}
		}
		return ls, nil
	}
	var err error
	if s := c.Similarity; s != nil {
		if s.Layers, err = hasH("hierarchy.similarity.layers", s.Layers); err != nil {
			return err
		}
		s.Weight = orDefault(s.Weight, 0.1)
		s.Temperature = orDefault(s.Temperature, 0.25)
		s.Density = orDefault(s.Density, 0.1)
		s.DensityWeight = orDefault(s.DensityWeight, 1)
		if s.Kernel == "" {
			s.Kernel = string(kernels.Gaussian)
		}
		switch {
		case !slices.Contains(kernels.PairKernels, s.Kernel):
			return fmt.Errorf("hierarchy.similarity.kernel must be one of %v, got %q", kernels.PairKernels, s.Kernel)
		case s.Weight < 0 || s.Temperature <= 0 || s.DensityWeight < 0:
			return fmt.Errorf("hierarchy.similarity: weight and density_weight must not be negative, temperature must be positive")
		case s.Density <= 0 || s.Density >= 1:
			return fmt.Errorf("hierarchy.similarity.density must be in (0, 1), got %g", s.Density)
		}
	}
	if s := c.Syntax; s != nil {
		if s.Layers, err = hasH("hierarchy.syntax.layers", s.Layers); err != nil {
			return err
		}
		s.Weight = orDefault(s.Weight, 0.1)
		switch {
		case s.Dataset == "":
			return fmt.Errorf("hierarchy.syntax.dataset: name the treebank whose trees supervise the hierarchy")
		case s.Weight < 0:
			return fmt.Errorf("hierarchy.syntax.weight must not be negative")
		}
	}
	if m := c.Merge; m != nil {
		if err := m.Check(layers, c.From, pooledAfter, depth); err != nil {
			return err
		}
	}
	return nil
}

// Check fills in the defaults and checks a merging against an encoder of
// the given number of layers whose hierarchy vectors start at hidden state
// from (see Config.Check for the rest).
func (m *MergeConfig) Check(layers, from, pooledAfter int, depth bool) error {
	if m.By == "" {
		m.By = ByHierarchy
	}
	if m.Linkage == "" {
		m.Linkage = string(cluster.Average)
	}
	if m.Clusters == "" {
		m.Clusters = Spans
	}
	switch {
	case m.By != ByHierarchy && m.By != ByKeys:
		return fmt.Errorf("hierarchy.merge.by must be hierarchy or keys, got %q", m.By)
	case m.Linkage != string(cluster.Average) && m.Linkage != string(cluster.Ward):
		return fmt.Errorf("hierarchy.merge.linkage must be average or ward, got %q", m.Linkage)
	case m.Clusters != Spans && m.Clusters != Free:
		return fmt.Errorf("hierarchy.merge.clusters must be spans or free, got %q", m.Clusters)
	case len(m.After) == 0:
		return fmt.Errorf("hierarchy.merge.after: list the hidden states after which to merge")
	case len(m.Ratio) > 1 && len(m.Ratio) != len(m.After), len(m.Threshold) > 1 && len(m.Threshold) != len(m.After):
		return fmt.Errorf("hierarchy.merge: ratio and threshold take one value, or one per merge (%d)", len(m.After))
	case slices.ContainsFunc(m.Ratio, func(r float64) bool { return r < 0 || r >= 1 }):
		return fmt.Errorf("hierarchy.merge.ratio must be in [0, 1), got %v", m.Ratio)
	case slices.ContainsFunc(m.Threshold, func(t float64) bool { return t < 0 }):
		return fmt.Errorf("hierarchy.merge.threshold must not be negative, got %v", m.Threshold)
	case m.Ratio.any() && m.Threshold.any():
		return fmt.Errorf("hierarchy.merge: ratio or threshold, not both")
	case m.Threshold.any() && m.By == ByKeys:
		return fmt.Errorf("hierarchy.merge.threshold is a distance between hierarchy vectors: merging by keys takes a ratio")
	case depth:
		return fmt.Errorf("hierarchy.merge: depth mixing reads every earlier layer's output at every position, which merging shortens: not both")
	}
	for i, a := range m.After {
		switch {
		case i > 0 && a <= m.After[i-1]:
			return fmt.Errorf("hierarchy.merge.after must ascend, got %v", m.After)
		case a < 1 || a >= layers:
			return fmt.Errorf("hierarchy.merge.after: %d is not a hidden state with a layer above it (1..%d)", a, layers-1)
		case m.By == ByHierarchy && a < from:
			return fmt.Errorf("hierarchy.merge.after: hidden state %d is below hierarchy.from %d, where the hierarchy vectors start", a, from)
		case pooledAfter >= 0 && a <= pooledAfter:
			return fmt.Errorf("hierarchy.merge.after: hidden state %d is not above word pooling's after %d: merge units of words, not pieces about to be pooled", a, pooledAfter)
		}
	}
	return nil
}

// PerMerge is a value for every merge: one number for all, or a list of
// one per merge.
type PerMerge []float64

// UnmarshalYAML reads a number or a list of numbers (an empty list is
// none).
func (p *PerMerge) UnmarshalYAML(n *yaml.Node) error {
	var v float64
	var list []float64
	switch {
	case n.Kind == yaml.ScalarNode && n.Decode(&v) == nil:
		list = []float64{v}
	case n.Kind == yaml.SequenceNode && len(n.Content) == 0:
		*p = nil
		return nil
	case n.Kind != yaml.SequenceNode || n.Decode(&list) != nil:
		return fmt.Errorf("line %d: want a number or a list of numbers, one per merge", n.Line)
	}
	for _, x := range list {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("line %d: want finite numbers", n.Line)
		}
	}
	*p = list
	return nil
}

// MarshalYAML writes the values as UnmarshalYAML reads them.
func (p PerMerge) MarshalYAML() (any, error) {
	if len(p) == 1 {
		return p[0], nil
	}
	return []float64(p), nil
}

// At returns the value of merge i (0 when there is none).
func (p PerMerge) At(i int) float64 {
	switch {
	case len(p) == 0:
		return 0
	case len(p) == 1:
		return p[0]
	}
	return p[i]
}

func (p PerMerge) any() bool { return slices.ContainsFunc(p, func(v float64) bool { return v > 0 }) }

func orDefault(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}
