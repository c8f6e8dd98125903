#!/usr/bin/env python3
"""Regenerate the fixtures of package onnx (run from the repository root):

    /usr/bin/python3 onnx/testdata/make_fixtures.py

Needs the system python with onnx 1.12 and torch (the oracles in ../shared/oracles) and Go.
Writes into onnx/testdata:
  field_numbers.json   field numbers, wire types and enum values from the onnx package's descriptors
  features.onnx        a hand-built model using every attribute type and tensors of each supported
                       data type, stored both as raw_data and in the typed fields
  external.onnx/.data  a model whose initializers are external data
  tensors.json         the expected little-endian bytes (hex) of the tensors in those two models
  bert_op14.onnx       a torch.onnx export of a tiny BERT (oracles/export_onnx.py)
Then it re-encodes every model with the Go package (testdata/reencode) and checks that
onnx.checker.check_model(full_check=True) accepts the result and onnx.load gives an identical model.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORACLES = os.environ.get("ORACLES", os.path.join(ROOT, "..", "shared", "oracles"))
PY = sys.executable

# Messages and fields that package onnx decodes and encodes.
FIELDS = {
    onnx.ModelProto: ["ir_version", "opset_import", "producer_name", "producer_version", "domain",
                      "model_version", "doc_string", "graph", "metadata_props"],
    onnx.GraphProto: ["node", "name", "initializer", "doc_string", "input", "output", "value_info"],
    onnx.NodeProto: ["input", "output", "name", "op_type", "domain", "attribute", "doc_string"],
    onnx.AttributeProto: ["name", "type", "f", "i", "s", "t", "g", "floats", "ints", "strings", "tensors", "graphs"],
    onnx.TensorProto: ["dims", "data_type", "segment", "float_data", "int32_data", "string_data", "int64_data",
                       "name", "raw_data", "double_data", "uint64_data", "data_location", "external_data"],
    onnx.TensorProto.Segment: ["begin", "end"],
    onnx.ValueInfoProto: ["name", "type", "doc_string"],
    onnx.TypeProto: ["tensor_type"],
    onnx.TypeProto.Tensor: ["elem_type", "shape"],
    onnx.TensorShapeProto: ["dim"],
    onnx.TensorShapeProto.Dimension: ["dim_value", "dim_param"],
    onnx.StringStringEntryProto: ["key", "value"],
    onnx.OperatorSetIdProto: ["domain", "version"],
}

FD = onnx.TensorProto.DESCRIPTOR.fields_by_name["dims"].__class__


def wire_type(f):
    """Protobuf wire type with which the reference implementation writes field f."""
    if f.label == FD.LABEL_REPEATED and f.GetOptions().packed:
        return 2
    return {FD.TYPE_DOUBLE: 1, FD.TYPE_FLOAT: 5, FD.TYPE_STRING: 2, FD.TYPE_BYTES: 2,
            FD.TYPE_MESSAGE: 2}.get(f.type, 0)


def field_numbers():
    out = {"messages": {}, "DataType": dict(TensorProto.DataType.items()),
           "AttributeType": dict(onnx.AttributeProto.AttributeType.items()),
           "DataLocation": dict(TensorProto.DataLocation.items())}
    for msg, names in FIELDS.items():
        d = msg.DESCRIPTOR
        out["messages"][d.full_name] = {n: {"number": d.fields_by_name[n].number,
                                            "wire": wire_type(d.fields_by_name[n])} for n in names}
    return out


def raw_tensor(name, dtype, arr):
    t = TensorProto(name=name, data_type=dtype, dims=arr.shape)
    t.raw_data = arr.tobytes()
    return t


def features_model(expected):
    """Initializers of every supported type, raw and typed, plus nodes using every attribute type."""
    rng = np.random.default_rng(7)
    inits = []

    def add(t, le_bytes, dtype):
        inits.append(t)
        expected[t.name] = {"dtype": dtype, "shape": list(t.dims), "hex": le_bytes.hex()}

    f32 = rng.standard_normal((2, 3)).astype("<f4")
    add(raw_tensor("f32_raw", TensorProto.FLOAT, f32), f32.tobytes(), "F32")
    add(helper.make_tensor("f32_typed", TensorProto.FLOAT, f32.shape, f32.flatten().tolist()), f32.tobytes(), "F32")
    f64 = rng.standard_normal((3,)).astype("<f8")
    add(raw_tensor("f64_raw", TensorProto.DOUBLE, f64), f64.tobytes(), "F64")
    add(helper.make_tensor("f64_typed", TensorProto.DOUBLE, f64.shape, f64.tolist()), f64.tobytes(), "F64")
    f16 = rng.standard_normal((2, 2)).astype("<f2")
    add(raw_tensor("f16_raw", TensorProto.FLOAT16, f16), f16.tobytes(), "F16")
    t = TensorProto(name="f16_typed", data_type=TensorProto.FLOAT16, dims=f16.shape)
    t.int32_data.extend(f16.view("<u2").flatten().tolist())
    add(t, f16.tobytes(), "F16")
    bf16 = (rng.standard_normal(5).astype("<f4").view("<u4") >> 16).astype("<u2")
    add(raw_tensor("bf16_raw", TensorProto.BFLOAT16, bf16), bf16.tobytes(), "BF16")
    t = TensorProto(name="bf16_typed", data_type=TensorProto.BFLOAT16, dims=[5])
    t.int32_data.extend(bf16.tolist())
    add(t, bf16.tobytes(), "BF16")
    for name, dtype, npt, st in [("i64", TensorProto.INT64, "<i8", "I64"), ("i32", TensorProto.INT32, "<i4", "I32"),
                                 ("i16", TensorProto.INT16, "<i2", "I16"), ("i8", TensorProto.INT8, "i1", "I8"),
                                 ("u8", TensorProto.UINT8, "u1", "U8")]:
        info = np.iinfo(npt)
        a = np.array([info.min, -1 if info.min < 0 else 1, 0, 7, info.max], dtype=npt)
        add(raw_tensor(name + "_raw", dtype, a), a.tobytes(), st)
        add(helper.make_tensor(name + "_typed", dtype, a.shape, a.tolist()), a.tobytes(), st)
    b = np.array([True, False, True])
    add(raw_tensor("bool_raw", TensorProto.BOOL, b), b.tobytes(), "BOOL")
    add(helper.make_tensor("bool_typed", TensorProto.BOOL, [3], b.tolist()), b.tobytes(), "BOOL")
    sc = np.array(2.5, dtype="<f4")
    add(helper.make_tensor("scalar", TensorProto.FLOAT, [], [2.5]), sc.tobytes(), "F32")
    add(raw_tensor("empty", TensorProto.FLOAT, np.zeros((0, 4), "<f4")), b"", "F32")
    # Data types that ToTensor rejects; the model still has to round-trip.
    inits.append(helper.make_tensor("strings", TensorProto.STRING, [2], [b"ab", b""]))
    inits.append(helper.make_tensor("u64", TensorProto.UINT64, [2], [1, 2**64 - 1]))

    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["t_out"])], "then",
                               [], [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [2, 3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e_out"])], "else",
                               [], [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [2, 3])])
    nodes = [
        helper.make_node("Constant", [], ["c"], name="const", value=helper.make_tensor("cv", TensorProto.INT64, [2], [3, -4])),
        helper.make_node("ReduceSum", ["x", "axes"], ["r"], name="reduce", keepdims=0, doc_string="sums"),
        helper.make_node("If", ["cond"], ["y"], name="if", then_branch=then_g, else_branch=else_g),
        helper.make_node("Everything", ["x", ""], ["z"], name="custom", domain="test.hiertune",
                         f=0.25, f0=0.0, i=-3, i0=0, s=b"bytes\x00\xff", s0=b"", t=helper.make_tensor("tt", TensorProto.FLOAT, [1], [1.5]),
                         g=then_g, floats=[1.0, -2.5], ints=[1, -2, 1 << 40], strings=[b"a", b"bc"],
                         tensors=[helper.make_tensor("ta", TensorProto.INT32, [2], [1, 2])], graphs=[then_g, else_g]),
    ]
    inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"))
    graph = helper.make_graph(
        nodes, "features",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", None, 0]),
         helper.make_tensor_value_info("r", TensorProto.FLOAT, [2])],
        initializer=inits, doc_string="graph doc",
        value_info=[helper.make_tensor_value_info("c", TensorProto.INT64, None)])
    m = helper.make_model(graph, producer_name="make_fixtures.py", producer_version="1", domain="test.hiertune",
                          model_version=3, doc_string="model doc",
                          opset_imports=[helper.make_opsetid("", 14), helper.make_opsetid("test.hiertune", 1)])
    helper.set_model_props(m, {"author": "hiertune", "empty": ""})
    return m


def external_model(expected):
    w = np.arange(6, dtype="<f4").reshape(2, 3) / 4
    b = np.array([-1, 1, 2], dtype="<i8")
    expected["ext_w"] = {"dtype": "F32", "shape": [2, 3], "hex": w.tobytes().hex()}
    expected["ext_b"] = {"dtype": "I64", "shape": [3], "hex": b.tobytes().hex()}
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "ext_w"], ["y"])], "external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        initializer=[numpy_helper.from_array(w, "ext_w"), numpy_helper.from_array(b, "ext_b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def export_bert(tmp):
    ckpt = os.path.join(tmp, "ckpt")
    run(PY, os.path.join(ORACLES, "make_checkpoint.py"), ckpt, "--preset", "micro", "--seed", "3", "--layers", "2",
        "--hidden", "16", "--heads", "2", "--ffn", "32", "--vocab-size", "64", "--max-pos", "32")
    for opset in (14,):
        run(PY, os.path.join(ORACLES, "export_onnx.py"), ckpt, os.path.join(HERE, f"bert_op{opset}.onnx"),
            "--opset", str(opset))


def check_reencode(path, tmp):
    """Re-encodes path with the Go package; the checker must accept it and the model must load identically."""
    out = os.path.join(tmp, "re_" + os.path.basename(path))
    subprocess.run(["go", "run", "./onnx/testdata/reencode", path, out], check=True, cwd=ROOT)
    a, b = onnx.load(path), onnx.load(out)
    for t in a.graph.initializer:
        # onnx.load sets data_location to DEFAULT explicitly after loading external data.
        if t.data_location == TensorProto.DEFAULT:
            t.ClearField("data_location")
    # Check the loaded proto: given a path, check_model(full_check=True) writes inferred shapes into the file.
    onnx.checker.check_model(b, full_check=True)
    if a.graph != b.graph:
        raise SystemExit(f"{path}: re-encoded graph differs from the original")
    # Encode writes empty strings as absent fields, so compare the model's other fields by value.
    if model_fields(a) != model_fields(b):
        raise SystemExit(f"{path}: re-encoded model fields differ: {model_fields(a)} != {model_fields(b)}")
    same = open(out, "rb").read() == a.SerializeToString()
    print(f"{os.path.basename(path)}: re-encoded model passes the checker and loads identically"
          f"{' (byte-identical)' if same else ''}")


def model_fields(m):
    return (m.ir_version, m.producer_name, m.producer_version, m.domain, m.model_version, m.doc_string,
            [(o.domain, o.version) for o in m.opset_import], [(p.key, p.value) for p in m.metadata_props])


def main():
    with open(os.path.join(HERE, "field_numbers.json"), "w") as f:
        json.dump(field_numbers(), f, indent=1, sort_keys=True)
        f.write("\n")
    expected = {}
    feat = features_model(expected)
    onnx.checker.check_model(feat, full_check=True)
    onnx.save(feat, os.path.join(HERE, "features.onnx"))
    ext = external_model(expected)
    onnx.checker.check_model(ext, full_check=True)
    if os.path.exists(os.path.join(HERE, "external.data")):
        os.remove(os.path.join(HERE, "external.data"))  # save_model appends to an existing file
    onnx.save_model(ext, os.path.join(HERE, "external.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="external.data", size_threshold=0)
    with open(os.path.join(HERE, "tensors.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    with tempfile.TemporaryDirectory() as tmp:
        export_bert(tmp)
        for name in ("features.onnx", "external.onnx", "bert_op14.onnx"):
            check_reencode(os.path.join(HERE, name), tmp)


if __name__ == "__main__":
    main()
