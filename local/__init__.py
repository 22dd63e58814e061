"""The local stack: moto-backed tables, the stream pump, dev tokens and the dev server.

Never shipped to Lambda (`chalice package` zips only app.py and chalicelib/).
"""

# Documented default for OMNICARD_JWT_SECRET in the local stack: the server and
# `make token` both fall back to it, so tokens minted locally verify locally.
DEFAULT_LOCAL_SECRET = "local-dev-secret-change-me-32-bytes-min"
