"""The music domain shared by the Rasa project, the simulator and the offline policy.

One place for each idea:
- ``attributes``: the attribute schema (genre, energy, mood, era, activity, artist) and
  the vocabulary that surface forms are normalised to.
- ``prompts``: the catalogue of prompts the dialogue policy chooses between.
- ``catalog``: loading and validating a track catalogue.
- ``catalog_generator``: a generated large catalogue fitted to the real sample.
- ``search``: hard constraints from slots applied to a catalogue.
- ``dialogue_state``: the features every prompt policy sees.
"""
