"""Who is asking: API keys (:mod:`.keys`) and the principal they give (:mod:`.principal`).

A key is ``sumap_<id>_<secret>``: the id names it in ``keys list`` and in the records of
the jobs it owns; only a hash of the secret is stored. The web layer turns a request's
credentials into a :class:`Principal` (``web/auth.py``) and passes it to every engine
call; :meth:`Principal.may_see` is the one rule that says which jobs (and, later, models)
it may see and control.
"""

from __future__ import annotations

from .keys import KEY_PREFIX, ApiKey, KeyStore, parse_key
from .principal import ANONYMOUS, LOCAL, Principal, Quota

__all__ = ["ANONYMOUS", "KEY_PREFIX", "LOCAL", "ApiKey", "KeyStore", "Principal", "Quota", "parse_key"]
