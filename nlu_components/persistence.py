"""Saving and loading a trained component's one object in Rasa's model storage."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Optional

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage


def save_object(model_storage: ModelStorage, resource: Resource, filename: str, obj: Any) -> Resource:
    with model_storage.write_to(resource) as d:
        with open(Path(d) / filename, "wb") as f:
            pickle.dump(obj, f)
    return resource


def load_object(model_storage: ModelStorage, resource: Resource, filename: str) -> Optional[Any]:
    """The saved object, or None when the component was never trained."""
    try:
        with model_storage.read_from(resource) as d:
            with open(Path(d) / filename, "rb") as f:
                return pickle.load(f)
    except (ValueError, FileNotFoundError):
        return None
