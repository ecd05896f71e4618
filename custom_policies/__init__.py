"""What Rasa loads for dialogue management: ``rasa_policy.PromptSelectionPolicy``, the graph
component that asks the shared prompt policy (``prompt_policies``) which prompt comes next.

Everything else lives where it belongs: dialogue state and tracker replay in
``music_domain``, the prompt policies in ``prompt_policies``, and the offline loop (log
schema, rewards, learners, off-policy evaluation, the deployment gate) in ``policy_learning``.
"""
