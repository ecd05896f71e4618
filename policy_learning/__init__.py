"""The offline loop: from logged conversations to a certified prompt policy.

- ``log_schema``: the columns of a logged prompt decision, their types, and the validator
  every reader uses (``read_logs``, ``validate_logs``, ``LogError``);
- ``log_export``: tracker store -> logged decisions (the simulator writes the same schema);
- ``rewards``: prompt usefulness labelled from the conversation outcome;
- ``reward_model`` (contextual bandit) and ``fitted_q`` (fitted Q iteration, fitted Q
  evaluation): the learners;
- ``training``: design matrices, the held-out split, training the reward model;
- ``ope``: off-policy evaluation, per decision (``per_decision``) and per conversation
  (``sequential``), and from a logs DataFrame (``from_logs``);
- ``gate``: train a candidate, evaluate it against the current policy, promote or refuse.
"""
