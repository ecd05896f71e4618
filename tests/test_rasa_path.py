"""Simulated listeners through the real Rasa agent, then the export of what they logged."""
import asyncio

import numpy as np
import pytest

from conftest import trained_model

pytestmark = pytest.mark.slow  # a trained model, an agent or a running server


def test_simulated_listeners_talk_to_the_agent_and_their_decisions_export(assets, action_server, tmp_path):
    from policy_learning.log_export import export_trackers
    from music_domain.dialogue_engine import MusicDialogueEngine
    from simulator.rasa_path import AgentBackend, simulate, summarise

    async def main():
        backend = await AgentBackend.load(str(trained_model()), action_server, str(tmp_path / "sim.db"))
        convs = await simulate(backend, assets, 6, seed=77)
        trackers = [(c.sender, await backend.events(c.sender)) for c in convs]
        return convs, trackers

    convs, trackers = asyncio.run(main())
    summary = summarise(convs)
    assert summary["conversations"] == 6
    assert all(c.outcome in ("accepted", "abandoned") for c in convs), [c.outcome for c in convs]
    assert summary["nlu_intent_agreement"] > 0.7, summary  # the words were understood
    assert any(c.prompts for c in convs)
    frame, report = export_trackers(trackers, MusicDialogueEngine(assets), salt="t")
    assert not report.problems, report.problems[:3]
    assert report.conversations == 6 and len(frame) >= sum(len(c.prompts) for c in convs)
    assert ((frame["propensity"] > 0) & (frame["propensity"] <= 1)).all()
    assert np.isfinite(np.stack(frame["features"].to_numpy())).all()
