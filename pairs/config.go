package pairs

import (
	"errors"
	"fmt"
)

// Config is the pairs: block of a model.
type Config struct {
	// Dim is the width d_p of a pair state.
	Dim int `yaml:"dim"`
	// From is the first layer (1-based) whose attention reads the pair
	// states [1]; the states are updated after every layer from From on.
	From int `yaml:"from"`
	// MaxDistance clips the relative positions the states start from: a
	// token j more than MaxDistance tokens away from i in the same
	// sentence shares the bucket of ±MaxDistance [16].
	MaxDistance int `yaml:"max_distance"`
	// Update is how layers write the states: "none" (the states stay
	// what the relations give), or "product" [default]: after layer l,
	// P_ij += (A_l x_i) ⊙ (C_l x_j).
	Update string `yaml:"update"`
	// Triangle adds the triangle update after every layer (O(n³)):
	// P_ij += O_l · mean_k (A'_l P_ik) ⊙ (C'_l P_jk).
	Triangle bool `yaml:"triangle"`
	// TriangleMaxLength is the longest input (in pieces) the triangle
	// update accepts [64]; longer inputs are refused unless it is raised.
	TriangleMaxLength int `yaml:"triangle_max_length"`
	// NoPositions drops the absolute position embeddings: positions are
	// then only what the pair states say, relative and within sentences.
	// The pretrained model no longer starts out unchanged.
	NoPositions bool `yaml:"no_positions"`
	// Parser makes dependency parsers add a learned projection of the
	// top pair state between two words to their arc scores.
	Parser bool `yaml:"parser"`
}

// Updates are the values of Config.Update.
var Updates = []string{"none", "product"}

// Defaults fills in the defaults of the unset fields.
func (c *Config) Defaults() {
	if c.From == 0 {
		c.From = 1
	}
	if c.MaxDistance == 0 {
		c.MaxDistance = 16
	}
	if c.Update == "" {
		c.Update = "product"
	}
	if c.TriangleMaxLength == 0 {
		c.TriangleMaxLength = 64
	}
}

// Check validates the configuration (defaults filled in) for an encoder
// of the given layers.
func (c *Config) Check(layers int) error {
	var errs []error
	if c.Dim <= 0 {
		errs = append(errs, fmt.Errorf("pairs.dim must be positive, got %d", c.Dim))
	}
	if c.From < 1 || c.From > layers {
		errs = append(errs, fmt.Errorf("pairs.from must be a layer in [1, %d], got %d", layers, c.From))
	}
	if c.MaxDistance < 1 {
		errs = append(errs, fmt.Errorf("pairs.max_distance must be at least 1, got %d", c.MaxDistance))
	}
	if c.Update != "none" && c.Update != "product" {
		errs = append(errs, fmt.Errorf("pairs.update must be none or product, got %q", c.Update))
	}
	if c.TriangleMaxLength < 1 {
		errs = append(errs, fmt.Errorf("pairs.triangle_max_length must be positive, got %d", c.TriangleMaxLength))
	}
	return errors.Join(errs...)
}
