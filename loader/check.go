package loader

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// checkConfig checks the configuration against the tensors present, before
// any model is allocated, so that a corrupt or hostile size in config.json
// is an error naming the key rather than a huge allocation. The weights must
// hold exactly num_hidden_layers layers, and every encoder tensor present
// must have the shape the configuration gives it. A missing tensor is left
// for Model to report.
func (c *Checkpoint) checkConfig() error {
	layers := map[int]bool{}
	for name := range c.Tensors {
		if i, ok := layerIndex(name); ok {
			layers[i] = true
		}
	}
	if L := c.Config.NumHiddenLayers; len(layers) != L || (L > 0 && !layers[L-1]) {
		return fmt.Errorf("%s: num_hidden_layers is %d, but the weights have %s", c.configFile, L, c.describeLayers(layers))
	}
	// The layer count is now bounded by the tensors, and with it the list.
	for _, p := range c.Config.ParamShapes(c.HasPooler()) {
		t, ok := c.Tensors[p.Name]
		if !ok || slices.Equal(t.Shape, p.Shape) {
			continue
		}
		if len(t.Shape) != len(p.Shape) {
			return fmt.Errorf("%s: tensor %q has shape %v, want %v", c.Files[p.Name], c.Prefix+p.Name, t.Shape, p.Shape)
		}
		i := 0
		for t.Shape[i] == p.Shape[i] {
			i++
		}
		return fmt.Errorf("%s: %s is %d, but tensor %q in %s has shape %v, want %v",
			c.configFile, p.Keys[i], p.Shape[i], c.Prefix+p.Name, c.Files[p.Name], t.Shape, p.Shape)
	}
	return nil
}

// layerIndex returns i for a tensor named "encoder.layer.{i}.…".
func layerIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "encoder.layer.")
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, ".")
	i, err := strconv.Atoi(digits)
	return i, ok && err == nil && i >= 0 && strconv.Itoa(i) == digits
}

// describeLayers says which layers the weights have, for an error message.
func (c *Checkpoint) describeLayers(layers map[int]bool) string {
	if len(layers) == 0 {
		return fmt.Sprintf("no %sencoder.layer.* tensors", c.Prefix)
	}
	top := -1
	for i := range layers {
		top = max(top, i)
	}
	if top == 0 {
		return fmt.Sprintf("1 layer (%sencoder.layer.0)", c.Prefix)
	}
	if len(layers) == top+1 {
		return fmt.Sprintf("%d layers (%sencoder.layer.0 to %d)", len(layers), c.Prefix, top)
	}
	missing := 0
	for layers[missing] {
		missing++
	}
	return fmt.Sprintf("%d layers numbered up to %d (%sencoder.layer.%d is missing)", len(layers), top, c.Prefix, missing)
}
