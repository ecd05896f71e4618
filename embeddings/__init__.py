"""Track embeddings, the FAISS index and history-aware sample retrieval.

- ``histories``: the listening-history Parquet schema, generated histories, user profiles.
- ``track_encoder``: one vector per track (text descriptor + audio features + collaborative).
- ``track_index``: the persisted FAISS index (exact, or PCA + IVF with exact re-ranking) with constraint filtering.
- ``retrieval``: history-aware ranking of candidate samples.
- ``build``: ``python -m embeddings.build`` builds and persists all of it.
"""
