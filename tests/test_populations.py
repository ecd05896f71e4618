"""Listener populations (simulator.populations): each part of the listener model changes what
it should, and the baseline population is the listener model as built."""
import numpy as np
import pytest

from music_domain.dialogue_engine import Shown
from simulator.listener import draw_listener, respond
from simulator.populations import BASELINE, POPULATIONS, ChoiceModel, Population, population


def draws(assets, pop, n=400):
    return [draw_listener(assets, np.random.default_rng(i), population=pop) for i in range(n)]


def test_baseline_is_the_listener_model_as_built(assets):
    for i in range(30):
        a = draw_listener(assets, np.random.default_rng(i))
        b = draw_listener(assets, np.random.default_rng(i), population=population("baseline"))
        assert (a.user_id, a.goal, a.seed_row, a.traits, a.known) == (b.user_id, b.goal, b.seed_row, b.traits, b.known)
    assert len(POPULATIONS) >= 4
    with pytest.raises(ValueError, match="unknown listener population"):
        population("nobody")
    with pytest.raises(ValueError, match="station rule"):
        ChoiceModel(station_rule="best")


def test_traits_and_goals_differ_as_designed(assets):
    base = draws(assets, BASELINE)
    impatient = draws(assets, POPULATIONS["impatient_voice"])
    assert np.mean([l.traits.patience for l in impatient]) < np.mean([l.traits.patience for l in base]) - 1.5
    connoisseurs = draws(assets, POPULATIONS["connoisseurs"])
    assert min(l.traits.pickiness for l in connoisseurs) >= 0.78 > max(l.traits.pickiness for l in base) - 0.08

    def off_session(listeners):  # share of goals that are not a track held back from the listener's own session
        return np.mean([l.seed_row not in assets.goals[l.user_id] for l in listeners[:150]])

    explorers = draws(assets, POPULATIONS["explorers"], 150)
    # 40% of explorers' goals come from the whole catalogue; every baseline goal is from the own session
    assert off_session(base) == 0.0
    assert 0.25 < off_session(explorers) < 0.55


def test_asr_noise_loses_attributes_at_its_rate(assets):
    pop = Population("noisy", "test", choice=ChoiceModel(mishear=0.3))
    lost = named = 0
    for i in range(600):
        l = draw_listener(assets, np.random.default_rng(i), population=pop)
        l.known["energy"] = True
        m = respond(l, "ask_energy", assets.arrays)
        named += 1
        lost += m.intent == "dont_know"
    assert 0.22 < lost / named < 0.38


def test_worst_track_station_rule_rejects_what_the_mean_accepts(assets):
    l = draw_listener(assets, np.random.default_rng(3))
    close = [r for r in range(3000) if l.closeness(assets.arrays, r) >= 0.95][:4]
    far = next(r for r in range(3000) if l.closeness(assets.arrays, r) < 0.4)
    rows = [close[0], far, close[1], close[2], close[3]]
    assert np.mean([l.closeness(assets.arrays, r) for r in rows]) >= l.traits.pickiness - 0.05
    l.traits.patience = 50
    assert respond(l, "offer_station", assets.arrays, Shown("offer_station", rows=rows)).intent == "accept"
    strict = draw_listener(assets, np.random.default_rng(3),
                           population=Population("strict", "test", choice=ChoiceModel(station_rule="worst")))
    strict.traits.patience = 50
    assert respond(strict, "offer_station", assets.arrays, Shown("offer_station", rows=rows)).intent == "deny"


def test_population_from_plain_data():
    from simulator.populations import from_dict

    pop = from_dict({"name": "night_owls", "traits": {"pickiness": [0.7, 0.9], "off_taste": 0.2},
                     "choice": {"mishear": 0.1}, "termination": {"patience_mean": 5.0}})
    assert pop.name == "night_owls" and pop.traits.pickiness == (0.7, 0.9) and pop.traits.off_taste == 0.2
    assert pop.choice.mishear == 0.1 and pop.termination.patience_mean == 5.0
    assert pop.traits.p_leads == BASELINE.traits.p_leads  # unspecified fields keep the baseline's
    with pytest.raises(ValueError, match="unknown traits field"):
        from_dict({"name": "x", "traits": {"patience": 3}})
    with pytest.raises(ValueError, match="unknown population part"):
        from_dict({"name": "x", "listeners": {}})
    with pytest.raises(ValueError, match="non-empty 'name'"):
        from_dict({"traits": {}})
    with pytest.raises(ValueError, match="station rule"):
        from_dict({"name": "x", "choice": {"station_rule": "best"}})
