"""What ``rasa shell`` / ``rasa run`` do when the newest model in ``models/`` will not load.

Rasa 3.6 logs the error once at start-up and then runs with no model: every message is
answered by silence ("Ignoring message as there is no agent to handle it", at INFO level) and
is not stored anywhere. A model can fail to load for ordinary reasons: a damaged archive, or a
prompt-policy artefact whose feature schema this code no longer computes
(``custom_policies.rasa_policy`` refuses those on purpose). So, installed by
``rasa_runtime.cli`` before Rasa starts:

- **The previous model keeps serving.** When ``--model`` names a directory and its newest
  archive fails to load, the next newest ones are tried in turn (Rasa's own order: newest
  modification time first). The error says which archive failed, why, which one serves instead,
  and what fixes it. An explicit archive (``--model file.tar.gz``, or ``PUT /model``) gets no
  fallback: Rasa's own refusal stands, and a running server keeps the model it had.
- **No model at all is said, not hidden.** If nothing loads, each message gets a reply saying
  the assistant has no model and how to fix that, and the message itself is stored in the
  tracker store, so no conversation data is lost.
"""
from __future__ import annotations

import glob
import logging
import os
from typing import List, Optional

logger = logging.getLogger(__name__)

FIX = ("Fix: `make train` (it trains a model from the current registry version), or "
       "`make rollback` if the prompt policy's artefact is the cause, or remove the archive from models/.")
NO_MODEL_REPLY = ("Sorry, I can't recommend music right now: no model could be loaded on this server. "
                  "Your message was kept. (Operator: see the server log; " + FIX + ")")


def archives_newest_first(directory: str) -> List[str]:
    """Model archives in ``directory`` in the order Rasa picks them (newest mtime first)."""
    files = glob.glob(os.path.join(directory, "*.tar.gz"))
    return sorted(files, key=lambda f: (os.path.getmtime(f), f), reverse=True)


def _try_load(agent, archive: str) -> Optional[str]:
    """Load ``archive`` into ``agent``; the error as text if it fails."""
    try:
        agent.load_model(archive)
        return None
    except Exception as e:  # noqa: BLE001 - any failure means "try the previous one"
        agent.processor = None
        return f"{type(e).__name__}: {e}"


class _Capture(logging.Handler):
    """Keeps the reason of Rasa's "Could not load model due to ..." error."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.reason = None

    def emit(self, record):
        text = record.getMessage()
        if text.startswith("Could not load model due to"):
            self.reason = text[len("Could not load model due to"):].strip().rstrip(".")


async def load_agent_with_fallback(original, model_path=None, **kwargs):
    """``rasa.core.agent.load_agent``, then the fallback described above."""
    capture = _Capture()
    logging.getLogger("rasa.core.agent").addHandler(capture)
    try:
        agent = await original(model_path=model_path, **kwargs)
    finally:
        logging.getLogger("rasa.core.agent").removeHandler(capture)
    if agent.is_ready() or not model_path or not os.path.isdir(str(model_path)) \
            or kwargs.get("model_server") is not None or kwargs.get("remote_storage") is not None:
        if not agent.is_ready() and model_path:
            logger.error(f"No model is loaded from '{model_path}'. {FIX}")
        return agent
    archives = archives_newest_first(str(model_path))
    if not archives:
        return agent
    newest = archives[0]
    # Rasa logged the traceback of most failures (the reason in one line, for the summary); an
    # archive it does not recognise only gets a warning, so that one is tried again for its reason
    reason = capture.reason or _try_load(agent, newest) or "not loaded"
    failures = [f"{os.path.basename(newest)} ({reason})"]
    for archive in archives[1:]:
        if agent.is_ready():
            break
        error = _try_load(agent, archive)
        if error is None:
            logger.error(f"The newest model could not be loaded: {failures[0]}. "
                         f"Serving the previous model {os.path.basename(archive)} instead. {FIX}")
            return agent
        failures.append(f"{os.path.basename(archive)} ({error})")
    if not agent.is_ready():
        logger.error(f"No model in '{model_path}' could be loaded: {'; '.join(failures)}. Messages get a reply "
                     f"saying so and are kept in the tracker store. {FIX}")
    return agent


async def handle_without_model(agent, message):
    """Store the message and reply that no model is loaded (instead of Rasa's silence)."""
    from rasa.shared.core.events import UserUttered

    try:
        tracker = await agent.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, input_channel=message.input_channel,
                                   message_id=message.message_id, metadata=message.metadata))
        await agent.tracker_store.save(tracker)
    except Exception as e:  # noqa: BLE001 - the reply below must still go out
        logger.error(f"No model is loaded, and the message from {message.sender_id!r} could not be stored: {e}")
    if message.output_channel is not None:
        await message.output_channel.send_text_message(message.sender_id, NO_MODEL_REPLY)
    return [{"recipient_id": message.sender_id, "text": NO_MODEL_REPLY}]


def newest_readable_archive(model_path: str) -> str:
    """``rasa.model.get_local_model`` for ``rasa shell``, which reads the newest archive's
    metadata before it starts (and crashed with a traceback on a damaged one): in a directory,
    the newest archive whose metadata can be read, with an error naming those skipped."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.exceptions import ModelNotFound
    from rasa.model import get_local_model

    newest = get_local_model(model_path)
    if not os.path.isdir(str(model_path)):
        return newest
    skipped = []
    for archive in archives_newest_first(str(model_path)):
        try:
            LocalModelStorage.metadata_from_archive(archive)
        except Exception as e:  # noqa: BLE001 - unreadable: try the previous one
            skipped.append(f"{os.path.basename(archive)} ({type(e).__name__}: {e})")
            continue
        if skipped:
            logger.error(f"Skipping model archives that cannot be read: {'; '.join(skipped)}. "
                         f"Using {os.path.basename(archive)}. {FIX}")
        return archive
    raise ModelNotFound(f"no model archive in '{model_path}' can be read: {'; '.join(skipped)}. {FIX}")


_ORIGINALS: dict = {}


def install() -> None:
    """Patch Rasa (idempotent): the fallback loader, the no-model reply, and ``rasa shell``'s
    choice of archive."""
    import functools

    import rasa.cli.shell
    import rasa.core.agent as agent_module

    if getattr(agent_module.load_agent, "_with_fallback", False):
        return
    _ORIGINALS.update(get_local_model=rasa.cli.shell.get_local_model, load_agent=agent_module.load_agent,
                      handle_message=agent_module.Agent.handle_message)
    rasa.cli.shell.get_local_model = newest_readable_archive
    original = agent_module.load_agent

    @functools.wraps(original)
    async def load_agent(model_path=None, *args, **kwargs):
        if args:  # positional use: Rasa's own signature, no fallback
            return await original(model_path, *args, **kwargs)
        return await load_agent_with_fallback(original, model_path=model_path, **kwargs)

    load_agent._with_fallback = True
    agent_module.load_agent = load_agent

    original_handle = agent_module.Agent.handle_message

    @functools.wraps(original_handle)
    async def handle_message(self, message):
        if not self.is_ready() and self.tracker_store is not None:
            return await handle_without_model(self, message)
        return await original_handle(self, message)

    agent_module.Agent.handle_message = handle_message


def uninstall() -> None:
    """Rasa as it was before ``install`` (for tests in a shared process)."""
    import rasa.cli.shell
    import rasa.core.agent as agent_module

    if _ORIGINALS:
        rasa.cli.shell.get_local_model = _ORIGINALS.pop("get_local_model")
        agent_module.load_agent = _ORIGINALS.pop("load_agent")
        agent_module.Agent.handle_message = _ORIGINALS.pop("handle_message")
