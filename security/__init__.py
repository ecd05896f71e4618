"""Secrets and privacy: the local secrets file, running commands with it, and the salted
sender hash that keeps listeners' ids out of exported training logs."""
