"""Keystone token reuse across CLI runs: keystoneauth's own auth state, in a private file.

Every ``migrate-diag diagnose`` is a new process, and a new token costs Keystone's
version discovery plus the token request (two round trips at the head of the critical
path). keystoneauth can export an authenticated plugin's state (token and catalog,
``get_auth_state``) and install it again (``set_auth_state``), and names each set of
credentials with ``get_cache_id`` (a hash that changes with the auth URL, user, project
and secret): openstacksdk uses the same three calls for its keyring cache.

Safety:
- one file per credential set, named after a hash of the cache id, in a directory only
  the user can enter (0700); the file is written 0600 by an atomic rename;
- a file or directory that anyone else could have written, or that belongs to another
  user, is ignored (a planted state could point the catalog elsewhere);
- keystoneauth re-authenticates by itself when the token is near expiry, and when a
  service answers 401 (revoked token) it drops the token and fetches a new one;
- ``openstack.token_cache: false`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_PRIVATE = 0o077  # no bit for group or others


def _private(path: Path, *, kind: int) -> bool:
    """Ours, of the expected kind, and closed to group and others (not a symlink)."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return (
        stat.S_IFMT(st.st_mode) == kind
        and st.st_uid == os.geteuid()
        and not st.st_mode & _PRIVATE
    )


class TokenCache:
    """The auth state of one keystoneauth plugin, loaded at start and saved at close."""

    def __init__(self, directory: Path, auth: Any) -> None:
        self.directory = directory.expanduser()
        self.auth = auth
        self.loaded: str | None = None
        self.path = self._path()

    def _path(self) -> Path | None:
        get_cache_id = getattr(self.auth, "get_cache_id", None)
        if get_cache_id is None:
            return None
        try:
            cache_id = get_cache_id()
        except NotImplementedError:
            cache_id = None
        if not cache_id:
            return None  # a plugin that cannot name its credentials is not cached
        name = hashlib.sha256(cache_id.encode("utf-8")).hexdigest()
        return self.directory / f"{name}.json"

    def load(self) -> bool:
        """Install the saved state when there is a trustworthy one; True if installed."""
        path = self.path
        if path is None or not _private(self.directory, kind=stat.S_IFDIR):
            return False
        if not _private(path, kind=stat.S_IFREG):
            if path.exists():
                log.warning("ignoring token cache %s: not private to this user", path)
            return False
        try:
            state = path.read_text(encoding="utf-8")
            self.auth.set_auth_state(state)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.debug("token cache %s unreadable: %s", path, exc)
            return False
        self.loaded = state
        return True

    def save(self) -> None:
        """Write the current state if it changed (a new or renewed token)."""
        path = self.path
        if path is None:
            return
        try:
            state = self.auth.get_auth_state()
        except Exception:  # a plugin without state: nothing to keep
            log.debug("no auth state to cache", exc_info=True)
            return
        if not state or state == self.loaded:
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _private(self.directory, kind=stat.S_IFDIR):
                log.warning("not caching the token: %s is not private", self.directory)
                return
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".token-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp: 0600
                    out.write(state)
                Path(tmp).replace(path)
            except BaseException:
                with contextlib.suppress(OSError):
                    Path(tmp).unlink()
                raise
        except OSError as exc:
            log.warning("could not cache the token in %s: %s", self.directory, exc)
            return
        self.loaded = state
