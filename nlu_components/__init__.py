"""Custom Rasa 3.6 NLU components (registered with ``DefaultV1Recipe``):

- ``sentence_featurizer.SentenceTransformerFeaturizer``: all-MiniLM-L6-v2 token and
  sentence features for DIET.
- ``music_attributes.MusicAttributeExtractor``: normalises attribute entities to the
  catalogue vocabulary, finds catalogue artists/genres, and maps free descriptions to
  attributes by embedding similarity.
- ``sentiment.GradedSentimentAnalyzer``: graded sentiment in [-1, 1] on every message.
"""
