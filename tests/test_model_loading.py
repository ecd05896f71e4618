"""A model that will not load: the previous one serves, and without any, messages get a reply and are kept.

Rasa 3.6 alone starts with no model and ignores every message in silence (`rasa shell` shows
nothing) when the newest archive in ``models/`` fails to load. ``rasa_runtime.model_loading``
(installed by ``rasa_runtime.cli``, which ``make shell`` / ``make run`` use) changes that.
"""
import asyncio
import logging
import os
import shutil

import pytest

from conftest import trained_model

pytestmark = pytest.mark.slow  # loads a trained model in process


@pytest.fixture(autouse=True)
def installed():
    from rasa_runtime import model_loading

    model_loading.install()
    model_loading.install()  # idempotent
    yield
    model_loading.uninstall()


def _damaged(directory, name="20991231-235959-damaged.tar.gz", newer_than=None):
    path = directory / name
    path.write_bytes(b"\x1f\x8b not really a model archive" * 100)
    if newer_than is not None:
        t = os.path.getmtime(newer_than) + 60
        os.utime(path, (t, t))
    return path


def _load(model_path, **kwargs):
    import rasa.core.agent

    return asyncio.run(rasa.core.agent.load_agent(model_path=str(model_path), **kwargs))


def test_the_previous_model_serves_when_the_newest_will_not_load(tmp_path, caplog):
    good = tmp_path / "20200101-000000-good.tar.gz"
    shutil.copy(trained_model(), good)
    bad = _damaged(tmp_path, newer_than=good)
    with caplog.at_level(logging.ERROR):
        agent = _load(tmp_path)
    assert agent.is_ready(), "the previous model should serve"
    assert agent.model_name == good.name
    said = " ".join(r.getMessage() for r in caplog.records if r.name == "rasa_runtime.model_loading")
    assert bad.name in said and good.name in said and "make train" in said, said
    assert "ModelNotFound" in said, said  # the reason, in one line

    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    out = CollectingOutputChannel()
    asyncio.run(agent.handle_message(UserMessage("help me find music", out, sender_id="fallback")))
    assert out.messages and "no model" not in " ".join(m.get("text") or "" for m in out.messages)


def _with_damaged_policy_artefact(directory, name="20991231-235959-bad-policy.tar.gz"):
    """The test model with a prompt-policy artefact that the policy refuses to load: an archive
    Rasa can read, whose PromptSelectionPolicy fails at load time (as a damaged or out-of-schema
    artefact does)."""
    import tarfile

    work = directory / "unpacked"
    with tarfile.open(trained_model(), "r:gz") as tar:
        tar.extractall(work)
    folder = next(work.glob("components/*PromptSelectionPolicy*")) / "prompt_policy"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text("{ this is not a manifest")
    path = directory / name
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for child in sorted(work.iterdir()):
            tar.add(child, arcname=child.name)
    shutil.rmtree(work)
    return path


def test_a_model_whose_policy_refuses_to_load_gives_way_to_the_previous_one(tmp_path, caplog):
    models = tmp_path / "models"
    models.mkdir()
    good = models / "20200101-000000-good.tar.gz"
    shutil.copy(trained_model(), good)
    bad = _with_damaged_policy_artefact(models)
    t = os.path.getmtime(good) + 60
    os.utime(bad, (t, t))
    with caplog.at_level(logging.ERROR):
        agent = _load(models)
    assert agent.is_ready() and agent.model_name == good.name
    said = " ".join(r.getMessage() for r in caplog.records if r.name == "rasa_runtime.model_loading")
    assert bad.name in said and "PromptSelectionPolicy" in said, said


def test_an_explicit_archive_that_will_not_load_gets_no_fallback(tmp_path):
    shutil.copy(trained_model(), tmp_path / "20200101-000000-good.tar.gz")
    bad = _damaged(tmp_path)
    agent = _load(bad)
    assert not agent.is_ready()  # as Rasa does: PUT /model with it is refused, the old agent stays


def test_without_a_loadable_model_each_message_is_answered_and_kept(tmp_path, caplog):
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    models = tmp_path / "models"
    models.mkdir()
    _damaged(models, "20991231-000000-a.tar.gz")
    _damaged(models, "20991231-000001-b.tar.gz")
    store = EndpointConfig(type="SQL", dialect="sqlite", db=str(tmp_path / "t.db"))
    with caplog.at_level(logging.ERROR):
        agent = _load(models, endpoints=AvailableEndpoints(tracker_store=store))
    assert not agent.is_ready()
    said = " ".join(r.getMessage() for r in caplog.records if r.name == "rasa_runtime.model_loading")
    assert "a.tar.gz" in said and "b.tar.gz" in said and "make train" in said, said

    out = CollectingOutputChannel()
    reply = asyncio.run(agent.handle_message(UserMessage("play some jazz", out, sender_id="listener-1")))
    assert reply and "no model" in reply[0]["text"]
    assert [m["text"] for m in out.messages] == [reply[0]["text"]]

    async def stored():
        tracker = await TrackerStore.create(store).retrieve("listener-1")
        return [e.text for e in tracker.events if getattr(e, "text", None)] if tracker else []

    assert "play some jazz" in asyncio.run(stored())
