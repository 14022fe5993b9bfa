"""The core: config, storage, the WeChat client, errors and web plumbing.

It imports nothing above it: no handler, no channel, no composition root.
"""
