#!/bin/sh
# Writes hostile checkpoints into the directory given as argument, one
# directory per case, for hostile_test.go: configs with huge or invalid
# sizes, broken safetensors, a tensor in two shards, ONNX external data
# behind a symbolic link that leads out, a pickle that calls os.system. All
# are a few hundred bytes, made with POSIX sh and printf alone.
set -eu
out=$1
mkdir -p "$out"
cd "$out"

# bytes writes the bytes given as hexadecimal pairs.
bytes() {
	for h in "$@"; do
		printf "\\$(printf '%03o' "0x$h")"
	done
}

# le64 writes n as an 8-byte little-endian integer.
le64() {
	n=$1
	for _ in 1 2 3 4 5 6 7 8; do
		bytes "$(printf '%02x' $((n % 256)))"
		n=$((n / 256))
	done
}

# safetensors writes a safetensors file with the JSON header $1 and $2
# zero bytes of data.
safetensors() {
	le64 ${#1}
	printf '%s' "$1"
	head -c "$2" /dev/zero
}

# A one-layer BERT of width 4, and two of its tensors.
base='"model_type": "bert", "vocab_size": 4, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 4, "max_position_embeddings": 8, "type_vocab_size": 1'
header='{"embeddings.word_embeddings.weight":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]},"encoder.layer.0.output.dense.bias":{"dtype":"F32","shape":[4],"data_offsets":[64,80]}}'

# checkpoint NAME JSON makes directory NAME with config.json {base, JSON}
# (JSON may override base's keys: the last one counts) and model.safetensors.
checkpoint() {
	mkdir -p "$1"
	printf '{%s, %s}\n' "$base" "$2" >"$1/config.json"
	safetensors "$header" 80 >"$1/model.safetensors"
}

checkpoint huge-hidden '"hidden_size": 1000000000'
checkpoint huge-vocab '"vocab_size": 1000000000000'
checkpoint huge-layers '"num_hidden_layers": 1000000000'
checkpoint huge-positions '"max_position_embeddings": 1000000000000' # no tensor to check: the estimate refuses it
checkpoint zero-heads '"num_attention_heads": 0'
checkpoint heads-not-dividing '"num_attention_heads": 3'
checkpoint negative-eps '"layer_norm_eps": -1'
checkpoint nan-eps '"layer_norm_eps": NaN' # as Python's json writes it
checkpoint float-size '"hidden_size": 1e9'
checkpoint not-json '"hidden_size": 4' && printf '{oops' >not-json/config.json

checkpoint truncated-safetensors '"hidden_size": 4'
head -c 100 truncated-safetensors/model.safetensors >t && mv t truncated-safetensors/model.safetensors

checkpoint overflow-safetensors '"hidden_size": 4'
safetensors '{"embeddings.word_embeddings.weight":{"dtype":"F32","shape":[2147483649,2147483647],"data_offsets":[0,8]}}' 8 \
	>overflow-safetensors/model.safetensors

# Both shards hold every tensor.
checkpoint two-shards '"hidden_size": 4'
mv two-shards/model.safetensors two-shards/model-00001-of-00002.safetensors
cp two-shards/model-00001-of-00002.safetensors two-shards/model-00002-of-00002.safetensors
printf '{"weight_map": {"%s": "%s", "%s": "%s"}}\n' \
	embeddings.word_embeddings.weight model-00001-of-00002.safetensors \
	encoder.layer.0.output.dense.bias model-00002-of-00002.safetensors >two-shards/model.safetensors.index.json

# A model.onnx whose initializer "w" (FLOAT [2]) has its data in w.bin, a
# link to a file outside the directory.
checkpoint onnx-symlink '"hidden_size": 4'
rm onnx-symlink/model.safetensors
head -c 8 /dev/zero >onnx-secret.bin
ln -s ../onnx-secret.bin onnx-symlink/w.bin
# ModelProto{ir_version: 8, graph: {initializer: [{dims: [2], data_type: FLOAT, name: "w",
# external_data: [{key: "location", value: "w.bin"}], data_location: EXTERNAL}]}}
bytes 08 08 3a 1e 2a 1c 08 02 10 01 42 01 77 6a 11 0a 08 >onnx-symlink/model.onnx
printf 'location' >>onnx-symlink/model.onnx
bytes 12 05 >>onnx-symlink/model.onnx
printf 'w.bin' >>onnx-symlink/model.onnx
bytes 70 01 >>onnx-symlink/model.onnx

# A legacy torch.save file whose first pickle calls os.system("true").
checkpoint pickle-code '"hidden_size": 4'
rm pickle-code/model.safetensors
{
	bytes 80 02 63
	printf 'os\nsystem\n'
	bytes 58 04 00 00 00
	printf 'true'
	bytes 85 52 2e
} >pickle-code/pytorch_model.bin

checkpoint no-weights '"hidden_size": 4'
rm no-weights/model.safetensors
