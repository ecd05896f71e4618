"""Listener populations: who the simulated listeners are, how they judge what they hear, and
when they give up, kept apart as RecSim keeps a user model's parts apart:

- ``TraitModel`` (the user-state sampler): patience, how often they lead, knowledge,
  pickiness, how often they say what was wrong, and how far their goals stray from the taste
  their listening history was drawn from (``off_taste``: the share of goals drawn from the
  whole catalogue instead of from the taste);
- ``ChoiceModel`` (the response model): the chance to accept a sample that is close enough,
  how a station is judged (``"mean"``: the mean closeness of its first five tracks against
  the listener's bar less ``station_slack``; ``"worst"``: every one of its first three tracks
  must clear that bar), and ASR noise (``mishear``: the chance a reply that names attributes
  reaches the assistant as "I don't know", its attributes lost);
- ``Termination``: the patience draw and the run of negative replies after which they leave
  (``music_domain.reactions.NEGATIVE_RUN``, shared by all).

``BASELINE`` is the population of ``simulator.listener`` (the one the project was built
with); draws with it are identical to the listener model's own. ``POPULATIONS`` adds three of
different character, used by ``benchmarks/ope_coverage.py`` to check that off-policy
evaluation holds up on listeners it was not developed on.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Tuple


@dataclass(frozen=True)
class TraitModel:
    p_leads: float = 0.35
    knowledge: Tuple[float, float] = (0.2, 1.0)
    pickiness: Tuple[float, float] = (0.68, 0.86)
    p_refine: Tuple[float, float] = (0.3, 0.8)
    p_change_mind: float = 0.05
    off_taste: float = 0.0


@dataclass(frozen=True)
class ChoiceModel:
    accept_base: float = 0.5  # chance to accept a sample at exactly the bar (rises 0.3 per 0.2 above)
    station_rule: str = "mean"
    station_slack: float = 0.05
    mishear: float = 0.0

    def __post_init__(self):
        if self.station_rule not in ("mean", "worst"):
            raise ValueError(f"unknown station rule {self.station_rule!r}")


@dataclass(frozen=True)
class Termination:
    patience_base: int = 3
    patience_mean: float = 3.0  # Poisson
    very_patient_share: float = 0.15
    very_patient_range: Tuple[int, int] = (12, 41)


@dataclass(frozen=True)
class Population:
    name: str
    description: str
    traits: TraitModel = field(default_factory=TraitModel)
    choice: ChoiceModel = field(default_factory=ChoiceModel)
    termination: Termination = field(default_factory=Termination)


BASELINE = Population("baseline", "simulator.listener as built")

POPULATIONS: Dict[str, Population] = {p.name: p for p in (
    BASELINE,
    Population("impatient_voice", "short patience, fewer very patient listeners, 15% of informative replies misheard "
               "(voice in a noisy car), lead less often",
               traits=TraitModel(p_leads=0.2),
               choice=ChoiceModel(mishear=0.15),
               termination=Termination(patience_base=2, patience_mean=2.0, very_patient_share=0.05)),
    Population("explorers", "goals outside their history's taste for 40% of listeners, know less about what they "
               "want, less picky, patient",
               traits=TraitModel(knowledge=(0.05, 0.7), pickiness=(0.6, 0.78), off_taste=0.4, p_leads=0.25),
               termination=Termination(patience_base=4, patience_mean=4.0, very_patient_share=0.25)),
    Population("connoisseurs", "picky experts: know what they want, high bar, judge a station by its worst track, "
               "accept samples reluctantly, say what was wrong more often",
               traits=TraitModel(knowledge=(0.6, 1.0), pickiness=(0.78, 0.92), p_refine=(0.6, 0.95), p_leads=0.5),
               choice=ChoiceModel(accept_base=0.35, station_rule="worst", station_slack=0.1)),
)}


def population(name: str) -> Population:
    try:
        return POPULATIONS[name]
    except KeyError:
        raise ValueError(f"unknown listener population {name!r}; known: {', '.join(POPULATIONS)}") from None


def from_dict(spec: dict) -> Population:
    """A population from plain data (e.g. JSON), for checking OPE on listeners defined outside
    this module: ``{"name": ..., "description": ..., "traits": {...}, "choice": {...},
    "termination": {...}}``, each part's fields as in its dataclass (missing ones keep the
    baseline's). Unknown parts or fields raise ``ValueError``."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise ValueError("a population spec is a mapping with a non-empty 'name'")
    parts = {"traits": TraitModel, "choice": ChoiceModel, "termination": Termination}
    unknown = set(spec) - set(parts) - {"name", "description"}
    if unknown:
        raise ValueError(f"unknown population part(s) {sorted(unknown)}; known: name, description, {', '.join(parts)}")
    built = {}
    for part, cls in parts.items():
        fields = spec.get(part) or {}
        if not isinstance(fields, dict):
            raise ValueError(f"population part {part!r} must be a mapping of field values")
        bad = set(fields) - set(cls.__dataclass_fields__)
        if bad:
            raise ValueError(f"unknown {part} field(s) {sorted(bad)}; known: {', '.join(cls.__dataclass_fields__)}")
        built[part] = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    return Population(spec["name"], str(spec.get("description", "")), **built)


__all__ = ["TraitModel", "ChoiceModel", "Termination", "Population", "BASELINE", "POPULATIONS", "population", "from_dict",
           "replace"]
