package tasks

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/adapters"
	"github.com/hiertune/hiertune/internal/yamlstrict"
)

// Config is one task of a job: what it predicts (its type), from which
// dataset, reading which layer, and its type's own options. In YAML the
// options sit beside the common keys:
//
//	{name: upos, dataset: ewt, type: tag, column: upos, layer: 2}
type Config struct {
	Name    string `yaml:"name"`
	Dataset string `yaml:"dataset"`
	// Type names a registered task type (tag, feats, parse, classify,
	// lemma, ...).
	Type string `yaml:"type"`
	// Layer is the hidden state the task reads: 0 is the embedding
	// output, i the output of layer i, negative counts from the top (-1,
	// the default, is the last layer).
	Layer  int     `yaml:"layer"`
	Weight float64 `yaml:"weight"`
	// Mix reads a learned mix of layers instead of Layer (see
	// adapters.MixConfig).
	Mix adapters.MixConfig `yaml:"mix"`
	// Options are the type's own settings: a pointer to the struct its
	// Type.Options returns, filled from the task's other keys.
	Options any `yaml:"-"`
}

// common is Config without the options, for decoding and encoding.
type common struct {
	Name    string             `yaml:"name"`
	Dataset string             `yaml:"dataset"`
	Type    string             `yaml:"type"`
	Layer   int                `yaml:"layer"`
	Weight  float64            `yaml:"weight"`
	Mix     adapters.MixConfig `yaml:"mix,omitempty"`
}

// UnmarshalYAML reads a task: the common keys, then the others as its
// type's options, each checked strictly (see package yamlstrict).
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	in, rest, err := yamlstrict.Split(n, yamlstrict.Keys(common{}))
	if err != nil {
		return err
	}
	cm := common{Layer: -1, Weight: 1}
	if err := yamlstrict.DecodeNode(in, &cm, "", nil); err != nil {
		return err
	}
	*c = Config{Name: cm.Name, Dataset: cm.Dataset, Type: cm.Type, Layer: cm.Layer, Weight: cm.Weight, Mix: cm.Mix}
	typ, ok := types[c.Type]
	if !ok {
		return fmt.Errorf("line %d: task %q: type must be one of %s, got %q", n.Line, c.Name, strings.Join(TypeNames(), ", "), c.Type)
	}
	c.Options = typ.Options()
	if c.Options == nil {
		if len(rest.Content) > 0 {
			return fmt.Errorf("line %d: task %q: unknown key %q (a %s task has %s)", rest.Content[0].Line, c.Name, rest.Content[0].Value, c.Type, strings.Join(yamlstrict.Keys(common{}), ", "))
		}
		return nil
	}
	if err := yamlstrict.DecodeNode(rest, c.Options, "task "+c.Name, nil); err != nil {
		return fmt.Errorf("%w (a %s task has %s)", err, c.Type, strings.Join(append(yamlstrict.Keys(common{}), yamlstrict.Keys(c.Options)...), ", "))
	}
	return nil
}

// MarshalYAML writes the task as UnmarshalYAML reads it.
func (c Config) MarshalYAML() (any, error) {
	cm := common{Name: c.Name, Dataset: c.Dataset, Type: c.Type, Layer: c.Layer, Weight: c.Weight, Mix: c.Mix}
	if c.Options == nil {
		return cm, nil
	}
	return yamlstrict.Merge(cm, c.Options)
}

// MarshalJSON writes the task as a JSON object with the keys of its YAML.
func (c Config) MarshalJSON() ([]byte, error) {
	y, err := yaml.Marshal(c)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(y, &m); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// Validate checks what does not depend on the dataset: the name, the
// weight and the mix.
func (c *Config) Validate() error {
	switch {
	case c.Name == "" || strings.ContainsAny(c.Name, ". /"):
		return fmt.Errorf("task %q: a name is required, without '.', ' ' or '/'", c.Name)
	case c.Weight < 0:
		return fmt.Errorf("task %s: weight must not be negative", c.Name)
	case !slices.Contains(adapters.Modes, c.Mix.Mode):
		return fmt.Errorf("task %s: mix.mode must be scalar, concat or attention, got %q", c.Name, c.Mix.Mode)
	}
	return nil
}

// types are the registered task types, by name.
var types = map[string]Type{}

// Register makes a task type available under name; it is called from the
// init function of the type's file.
func Register(name string, t Type) {
	if _, dup := types[name]; dup {
		panic("tasks: type " + name + " registered twice")
	}
	types[name] = t
}

// TypeNames returns the names of the registered task types, sorted.
func TypeNames() []string {
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
