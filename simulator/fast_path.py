"""The fast path: simulated conversations driven straight through the policy code.

No NLU and no Rasa: the listener hands its meaning representation to the same
``MusicDialogueEngine`` and prompt policies that the Rasa project runs. Used for bulk
logging (tens of thousands of conversations) and for the reference experiment.

    python -m simulator.fast_path --conversations 50000 --epsilon 0.3 --out data/logs/simulated.parquet
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np
import pandas as pd

from policy_learning.log_export import hash_user
from prompt_policies import ExplorationPolicy, PromptPolicy, RuleBasedPromptPolicy
from policy_learning.log_schema import decision_rows, to_frame
from policy_learning.rewards import label_conversation
from music_domain.dialogue_engine import MusicDialogueEngine, Shown, UserMeaning
from music_domain.dialogue_state import DialogueState, state_features
from music_domain.empathy import state_closeness
from simulator.listener import draw_listener, opening, respond
from simulator.populations import BASELINE, Population

MAX_TURNS = 100
LOG_SALT_ENV = "MUSIC_LOG_SALT"


@dataclass
class Conversation:
    conversation_id: str
    user_id: str
    policy: str
    use_history: bool
    outcome: str = "incomplete"
    turns: int = 0
    accepted_row: Optional[int] = None
    decisions: List[dict] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.outcome == "accepted"


def converse(engine: MusicDialogueEngine, policy: PromptPolicy, listener, first: Callable[[], UserMeaning],
             reply: Callable[[str, Shown], UserMeaning], conv: Conversation,
             policy_rng: Optional[np.random.Generator] = None, max_turns: int = MAX_TURNS) -> DialogueState:
    """The conversation loop, as the deployed assistant runs it.

    ``listener`` is the user model (``done``, ``turns``, ``accepted_row``, ``user_id``); it is
    asked for its ``first`` message and to ``reply`` to what each prompt showed. The system side
    is the shared prompt executor (``MusicDialogueEngine.execute``): when nothing matches it
    asks before dropping a constraint, and a "yes" drops it and plays a sample, exactly as the
    rule ``affirm`` -> ``action_relax_constraint`` does in Rasa. Fills ``conv`` (decisions,
    outcome, turns, accepted row) and returns the final state.
    """
    state = DialogueState(user_id=listener.user_id)
    engine.apply_user(state, first())
    while listener.done is None and listener.turns < max_turns:
        engine.refresh_candidates(state)
        features = state_features(state, with_history=True)
        empathy = state_closeness(state)
        decision = policy.choose(state, policy_rng)
        shown = engine.execute(decision.prompt, state)
        meaning = reply(decision.prompt, shown)
        record = {"turn": state.turn, "prompt": decision.prompt, "propensity": decision.propensity,
                  "probabilities": decision.probabilities, "features": features, "policy": decision.policy,
                  "policy_version": decision.version, "empathy_score": round(empathy.score, 4),
                  "closeness_band": empathy.band, "reply": meaning.to_dict(), "sample_row": shown.row,
                  "accepted": False}
        record["elicited"] = engine.apply_user(state, meaning)
        conv.decisions.append(record)
        while shown.asks_to_relax and meaning.intent == "affirm" and listener.done is None:
            shown = engine.relax(state, shown.relax)  # not a prompt decision: Rasa's rule runs it
            if shown.row is not None:
                record["sample_row"] = shown.row
            meaning = reply("play_sample", shown)
            engine.apply_user(state, meaning)
        record["accepted"] = listener.done == "accepted"
    conv.outcome = listener.done or "abandoned"  # hitting max_turns is giving up
    conv.turns = listener.turns
    conv.accepted_row = listener.accepted_row
    return state


def run_conversation(assets, policy: PromptPolicy, seed: int, use_history: bool,
                     conversation_id: str, policy_rng: Optional[np.random.Generator] = None,
                     max_turns: int = MAX_TURNS, population: Population = BASELINE) -> Conversation:
    """One conversation; the listener depends only on ``seed`` and ``population`` (common across arms)."""
    listener_rng = np.random.default_rng(seed)
    listener = draw_listener(assets, listener_rng, population=population)
    engine = MusicDialogueEngine(assets, use_history=use_history)
    conv = Conversation(conversation_id, listener.user_id, policy.name, use_history)
    converse(engine, policy, listener, lambda: opening(listener),
             lambda prompt, shown: respond(listener, prompt, assets.arrays, shown), conv, policy_rng, max_turns)
    return conv


def conversations_to_frame(assets, conversations: List[Conversation], salt: str = "sim") -> pd.DataFrame:
    """One row a prompt decision, with rewards, in the one log schema (``policy_learning.log_schema``)."""
    rows = []
    for conv in conversations:
        rewards = label_conversation(assets.arrays, conv.decisions, conv.outcome, conv.accepted_row)
        rows += decision_rows(conv.conversation_id, hash_user(conv.user_id, salt), conv.use_history, conv.decisions,
                              conv.outcome, conv.turns, rewards)
    return to_frame(rows)


def simulate(assets, policy: PromptPolicy, n: int, seed: int = 0, use_history=True,
             history_share: Optional[float] = None, prefix: str = "sim",
             population: Population = BASELINE) -> List[Conversation]:
    """n conversations. ``history_share``: per-conversation chance of history (overrides).
    ``population``: who the listeners are (``simulator.populations``)."""
    policy_rng = np.random.default_rng(seed + 7919)
    coin = np.random.default_rng(seed + 104729)
    out = []
    for i in range(n):
        hist = bool(coin.random() < history_share) if history_share is not None else use_history
        out.append(run_conversation(assets, policy, seed * 1_000_003 + i, hist, f"{prefix}-{seed}-{i}",
                                    policy_rng, population=population))
    return out


def main(argv=None):
    from embeddings.assets import load_assets

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conversations", type=int, default=50000)
    p.add_argument("--epsilon", type=float, default=0.3)
    p.add_argument("--history-share", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default="data/logs/simulated.parquet")
    a = p.parse_args(argv)
    t0 = time.time()
    frame = log_conversations(a.conversations, a.epsilon, a.history_share, a.seed, a.workers)
    from pathlib import Path
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(a.out, index=False)
    conv = frame.groupby("conversation_id").first()
    print(f"logged {len(conv)} conversations, {len(frame)} prompt decisions in {time.time() - t0:.1f}s "
          f"-> {a.out}; success {conv['success'].mean():.3f}, mean turns {conv['n_turns'].mean():.2f}")


def _log_chunk(args):
    from embeddings.assets import load_assets

    n, policy_spec, history_share, seed = args
    assets = load_assets()
    convs = simulate(assets, _policy(policy_spec), n, seed=seed, history_share=history_share, prefix="log")
    return conversations_to_frame(assets, convs)


def _policy(spec) -> PromptPolicy:
    """The logging policy from a picklable spec: ("rule_based", epsilon) or
    ("registry", root, version, epsilon-or-None for the artefact's own exploration)."""
    if spec[0] == "rule_based":
        return ExplorationPolicy(RuleBasedPromptPolicy(), epsilon=spec[1])
    from policy_learning.registry import PolicyRegistry

    _, root, version, epsilon = spec
    return PolicyRegistry(root).load(version).with_exploration(epsilon)


def log_conversations(n: int, epsilon: float, history_share: float, seed: int, workers: int = 2,
                      policy_spec=None) -> pd.DataFrame:
    """Randomised logging runs: by default the rule-based policy with epsilon-greedy exploration;
    ``policy_spec`` (see ``_policy``) logs with a registry version and its exploration."""
    spec = policy_spec or ("rule_based", epsilon)
    chunks = max(1, workers)
    sizes = [n // chunks + (1 if i < n % chunks else 0) for i in range(chunks)]
    jobs = [(s, spec, history_share, seed * 100 + i) for i, s in enumerate(sizes) if s]
    if workers > 1:
        import multiprocessing as mp

        # forkserver, not fork: a parent with threads (LightGBM, faiss, pyarrow) forked mid-lock
        # left both workers waiting on a futex forever (`rounds.py --resume` at 20,000 a round);
        # each job carries its own seed and loads the assets itself, so the logs are the same
        with mp.get_context("forkserver").Pool(workers) as pool:
            frames = pool.map(_log_chunk, jobs)
    else:
        frames = [_log_chunk(j) for j in jobs]
    return pd.concat(frames, ignore_index=True)


if __name__ == "__main__":
    main()
