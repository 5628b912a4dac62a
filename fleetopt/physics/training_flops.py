"""Parameter counts and FLOPs per training step of a dense decoder-only transformer.

All functions take scalars or numpy arrays (broadcast together) and return float64 of the broadcast shape.
Conventions: one multiply-add = 2 FLOPs; attention scores counted over the full s x s matrix (no causal
halving), as Narayanan et al. 2021 count them; the input embedding lookup costs no FLOPs.
"""

import numpy as np

RECOMPUTE_NONE = 0
RECOMPUTE_SELECTIVE = 1
RECOMPUTE_FULL = 2
_RECOMPUTE_NAMES = {"none": RECOMPUTE_NONE, "selective": RECOMPUTE_SELECTIVE, "full": RECOMPUTE_FULL}


def recompute_code(recompute):
    """Map 'none' | 'selective' | 'full' (or the integer codes 0 | 1 | 2, scalar or array) to integer codes.

    Source: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models", Sec. 5.
    """
    values = np.asarray(recompute)
    if values.dtype.kind in "US":
        names = np.char.lower(values.astype(str))
        unknown = ~np.isin(names, list(_RECOMPUTE_NAMES))
        if unknown.any():
            raise ValueError(f"recompute must be one of {sorted(_RECOMPUTE_NAMES)}, got {names[unknown][:3]}")
        return np.select([names == k for k in _RECOMPUTE_NAMES], list(_RECOMPUTE_NAMES.values()))
    return values.astype(int)


def layer_params(hidden, ffn_hidden, heads, kv_heads, swiglu=False):
    """Weight-matrix parameters of one layer: Q, O (h^2 each), K, V (h*h_kv each), MLP (2 or 3 of h*f).

    GQA shrinks K, V to kv_heads; SwiGLU uses three ffn matrices; biases and norms ignored (< 0.1%).
    Source: Vaswani et al. 2017; GQA: Ainslie et al. 2023; SwiGLU: Shazeer 2020 (as in Llama).
    """
    h = np.asarray(hidden, dtype=float)
    kv_hidden = h * np.asarray(kv_heads, dtype=float) / np.asarray(heads, dtype=float)
    mlp_matrices = np.where(swiglu, 3.0, 2.0)
    return 2.0 * h * h + 2.0 * h * kv_hidden + mlp_matrices * h * np.asarray(ffn_hidden, dtype=float)


def dense_param_count(
    layers, hidden, ffn_hidden, heads, kv_heads, vocab, swiglu=False, tied_embeddings=False
):
    """Parameters of a dense transformer: layers x layer_params + input embedding (+ output head if untied).

    Source: Narayanan et al. 2021, Sec. 5.1 (P = 12 l h^2 (1 + 13/(12h) + (V+s)/(12 l h)) without GQA/SwiGLU).
    """
    h = np.asarray(hidden, dtype=float)
    embeddings = np.where(tied_embeddings, 1.0, 2.0) * np.asarray(vocab, dtype=float) * h
    return np.asarray(layers, dtype=float) * layer_params(h, ffn_hidden, heads, kv_heads, swiglu) + embeddings


def narayanan_flops_per_step(batch, seq_len, layers, hidden, vocab):
    """FLOPs per iteration counted by Megatron-LM with full recompute: 96 B s l h^2 (1 + s/(6h) + V/(16 l h)).

    Source: Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters", eq. (3).
    """
    b, s, l, h, v = (np.asarray(x, dtype=float) for x in (batch, seq_len, layers, hidden, vocab))
    return 96.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * l * h))


def _forward_flops_per_token(seq_len, layers, hidden, ffn_hidden, heads, kv_heads, vocab, swiglu):
    """(layer GEMMs, attention scores, output head) forward FLOPs per token."""
    s, l, h = (np.asarray(x, dtype=float) for x in (seq_len, layers, hidden))
    layer_gemms = 2.0 * l * layer_params(h, ffn_hidden, heads, kv_heads, swiglu)
    attention_scores = 4.0 * l * s * h  # QK^T and (softmax)V, each 2 s h per token per layer
    output_head = 2.0 * np.asarray(vocab, dtype=float) * h
    return layer_gemms, attention_scores, output_head


def model_flops_per_step(tokens, seq_len, layers, hidden, ffn_hidden, heads, kv_heads, vocab, swiglu=False):
    """Model FLOPs of one step (the MFU basis): forward + 2x backward = 6 params tokens + attention.

    Source: Kaplan et al. 2020 (C = 6 N D); attention 12 l s h per token as in Narayanan et al. 2021, eq. (3).
    """
    layer_gemms, attention_scores, output_head = _forward_flops_per_token(
        seq_len, layers, hidden, ffn_hidden, heads, kv_heads, vocab, swiglu
    )
    return 3.0 * np.asarray(tokens, dtype=float) * (layer_gemms + attention_scores + output_head)


def hardware_flops_per_step(
    tokens,
    seq_len,
    layers,
    hidden,
    ffn_hidden,
    heads,
    kv_heads,
    vocab,
    swiglu=False,
    recompute=RECOMPUTE_FULL,
):
    """FLOPs the hardware executes: model FLOPs + one more forward of every layer (full recompute) or of the
    attention scores only (selective); the output head is never recomputed.

    Source: Korthikanti et al. 2022, Sec. 6 (model vs hardware FLOPs); Narayanan et al. 2021 eq. (3) for full.
    """
    code = recompute_code(recompute)
    layer_gemms, attention_scores, output_head = _forward_flops_per_token(
        seq_len, layers, hidden, ffn_hidden, heads, kv_heads, vocab, swiglu
    )
    extra_forward = np.select(
        [code == RECOMPUTE_FULL, code == RECOMPUTE_SELECTIVE],
        [layer_gemms + attention_scores, attention_scores],
        0.0,
    )
    passes = 3.0 * (layer_gemms + attention_scores + output_head)
    return np.asarray(tokens, dtype=float) * (passes + extra_forward)
