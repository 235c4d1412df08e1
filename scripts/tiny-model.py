"""Write a tiny llama GGUF with random weights (2 layers, 64 wide) and the vocabulary of
llama.cpp's models/ggml-vocab-llama-spm.gguf, using llama.cpp's own gguf-py. Its text is
gibberish; it exists so a real llama-server can answer /health, /props, /tokenize and
/v1/chat/completions (with usage and timings) in tests, with no model hub.
    python3 tiny-model.py LLAMA_SRC OUT.gguf
"""
import sys
import numpy as np

src, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, f"{src}/gguf-py")
import gguf  # noqa: E402

vocab = gguf.GGUFReader(f"{src}/models/ggml-vocab-llama-spm.gguf")
w = gguf.GGUFWriter(out, "llama")
n_embd, n_ff, n_layer, n_head, ctx = 64, 128, 2, 4, 2048

# Copy the tokenizer fields as they are.
for field in vocab.fields.values():
    if not field.name.startswith("tokenizer."):
        continue
    kind = field.types[0]
    if kind == gguf.GGUFValueType.ARRAY:
        sub = field.types[-1]
        if sub == gguf.GGUFValueType.STRING:
            w.add_array(field.name, [bytes(field.parts[i]).decode("utf-8", "replace") for i in field.data])
        else:
            w.add_array(field.name, [field.parts[i].tolist()[0] for i in field.data])
    elif kind == gguf.GGUFValueType.STRING:
        w.add_string(field.name, bytes(field.parts[-1]).decode("utf-8"))
    else:
        w.add_key_value(field.name, field.parts[-1].tolist()[0], kind)
n_vocab = len(vocab.fields["tokenizer.ggml.tokens"].data)

w.add_name("lanes-tiny")
w.add_context_length(ctx)
w.add_embedding_length(n_embd)
w.add_block_count(n_layer)
w.add_feed_forward_length(n_ff)
w.add_head_count(n_head)
w.add_head_count_kv(n_head)
w.add_rope_dimension_count(n_embd // n_head)
w.add_layer_norm_rms_eps(1e-5)
w.add_file_type(gguf.LlamaFileType.ALL_F32)

rng = np.random.default_rng(7)
def t(name, *shape):
    w.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

t("token_embd.weight", n_vocab, n_embd)
w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
t("output.weight", n_vocab, n_embd)
for i in range(n_layer):
    w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
    for part in ("q", "k", "v", "output"):
        t(f"blk.{i}.attn_{part}.weight", n_embd, n_embd)
    w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
    t(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
    t(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
    t(f"blk.{i}.ffn_down.weight", n_embd, n_ff)

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(f"wrote {out}: vocab {n_vocab}, {n_layer} layers, {n_embd} wide")
